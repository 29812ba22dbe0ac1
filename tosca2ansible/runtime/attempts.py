"""Deployment attempts across ranked sites, with a per-attempt and an overall timeout.

The INDIGO orchestrator moved to the next site only on 5xx errors, had a 10-day per-site timeout and no
overall one, and left the attempt cut by its overall timeout in place. Here:

- quota, transient (including an attempt's own timeout), fatal and user errors and configuration
  failures (a role failing on a node) move on to the next site; an auth failure skips that site;
- a bug (an exception the code did not expect, reported by a module as ``error_class: bug`` with its
  traceback) stops the attempts: the failed attempt is torn down and no other site is tried, since the
  same code would fail the same way there;
- every failed attempt is torn down (by tags, after stopping any provisioning job still running)
  BEFORE the next begins, and when the overall timeout fires the running attempt is torn down too;
- every attempt is recorded in the journal: site, start, end, outcome, error class, what was cleaned.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path
from typing import Callable, List, Optional

from tosca2ansible.errors import DeploymentFailed, EnvironmentProblem

DEFAULT_ATTEMPT_TIMEOUT = 30 * 60
DEFAULT_OVERALL_TIMEOUT = 2 * 60 * 60
ERROR_ORDER = ("bug", "auth", "quota", "transient", "fatal", "user")


@dataclasses.dataclass
class Attempt:
    number: int
    site: str
    started: float
    ended: float = 0.0
    outcome: str = "running"  # ok | failed | skipped | timeout
    error_class: Optional[str] = None  # bug | auth | quota | transient | fatal | user | configuration
    message: str = ""
    cleaned: List[str] = dataclasses.field(default_factory=list)
    run_id: Optional[str] = None

    def to_dict(self):
        return dataclasses.asdict(self)


def classify(result) -> str:
    """The error class of a failed run: the modules' own classification first, else configuration."""
    if result.status == "timeout":
        return "transient"
    for name in ERROR_ORDER:
        if name in result.error_classes:
            return name
    return "configuration"


def stop_jobs_of_run(run_id: str, proc_root: str = "/proc", grace: float = 3.0) -> List[int]:
    """Stop every process started by run ``run_id`` that outlived it.

    `async` provisioning tasks detach from ansible-playbook; when a run is killed by its timeout they
    would go on creating instances after the teardown. They inherit the run's environment, so they are
    found by INDIGO_RUN_ID."""
    marker = ("INDIGO_RUN_ID=%s" % run_id).encode()
    pids = []
    for entry in os.listdir(proc_root):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(proc_root, entry, "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            pids.append(int(entry))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            try:
                os.kill(pid, sig)
                alive.append(pid)
            except ProcessLookupError:
                pass
        if not alive or sig == signal.SIGKILL:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(Path(proc_root, str(p)).exists() for p in alive):
            time.sleep(0.1)
    return pids


def run_attempts(sites: List[dict], run_one: Callable, teardown: Callable, record: Callable,
                 attempt_timeout: int = DEFAULT_ATTEMPT_TIMEOUT, overall_timeout: int = DEFAULT_OVERALL_TIMEOUT,
                 progress: Callable[[str], None] = lambda line: None, clock=time.monotonic):
    """Try ``sites`` in order. ``run_one(site, timeout)`` returns a RunResult; ``teardown(site, result)``
    removes what the attempt left and returns what it removed; ``record(attempt)`` journals an attempt.
    Returns (result, site, attempts) of the first successful attempt, else raises DeploymentFailed."""
    deadline = clock() + overall_timeout
    attempts: List[Attempt] = []
    cut_short = False  # the overall timeout ended the attempts (a site left untried, or one cut)
    for number, site in enumerate(sites, 1):
        remaining = deadline - clock()
        if remaining <= 0:
            cut_short = True
            break
        attempt = Attempt(number, site["name"], time.time())
        attempts.append(attempt)
        budget = int(max(1, min(attempt_timeout, remaining)))
        progress("attempt %d on site %s (timeout %ds)" % (number, site["name"], budget))
        result = None
        try:
            result = run_one(site, budget)
        except EnvironmentProblem as exc:
            attempt.outcome, attempt.error_class, attempt.message = "skipped", "fatal", exc.message
        if result is not None:
            attempt.run_id = result.run_id
            if result.ok:
                attempt.outcome, attempt.ended = "ok", time.time()
                record(attempt)
                return result, site, attempts
            # a run killed at its budget when that budget was what was left of the overall timeout
            cut_short = result.status == "timeout" and budget < attempt_timeout and clock() >= deadline - 1
            attempt.outcome = "timeout" if result.status == "timeout" else "failed"
            attempt.error_class = classify(result)
            attempt.message = ("overall timeout of %ds reached; " % overall_timeout if cut_short else "") + \
                ("; ".join(result.failures[:3]) or "ansible-runner status %s" % result.status)
            if attempt.error_class == "auth":
                attempt.outcome = "skipped"
            attempt.cleaned = [str(x) for x in teardown(site, result)]
            progress("attempt %d on %s %s (%s): %s; cleaned %d resource(s)" % (
                number, site["name"], attempt.outcome, attempt.error_class, attempt.message[:300], len(attempt.cleaned)))
        attempt.ended = time.time()
        record(attempt)
        if attempt.error_class == "bug":
            raise DeploymentFailed("a bug stopped the deployment on site %s (no other site tried; the traceback is "
                                   "in the result of run %s): %s" % (site["name"], attempt.run_id, attempt.message))
        if cut_short:
            break
    summary = "; ".join("%s: %s (%s)" % (a.site, a.outcome, a.error_class) for a in attempts) or "no site to try"
    if cut_short:
        raise DeploymentFailed("overall timeout of %ds reached after %d attempt(s): %s" % (overall_timeout, len(attempts), summary))
    raise DeploymentFailed("no site could take the deployment: %s" % summary)
