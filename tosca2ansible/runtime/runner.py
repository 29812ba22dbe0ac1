"""Run a compiled project's playbook through ansible-runner, with progress on stderr.

Each run gets its own private data dir ``$INDIGO_HOME/runs/<run-id>/`` (artifacts kept for audit).
The playbook runs from the compiled project directory with the project's ``ansible.cfg``; SSH host
keys are checked against the deployment's own known_hosts file (new hosts accepted once) and, for
local sites, against the keys the site itself generated for its nodes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shlex
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional

from tosca2ansible.errors import EnvironmentProblem, UserInputError
from tosca2ansible.runtime.state import indigo_home

EventSink = Callable[[Dict[str, Any]], None]


@dataclasses.dataclass
class RunResult:
    run_id: str
    status: str  # successful | failed | timeout | canceled
    rc: int
    changed: int  # changed task results summed over hosts
    failures: List[str]  # "host: task: message" for every failed/unreachable task result
    stats: Dict[str, Any]
    artifacts_dir: str
    error_classes: List[str] = dataclasses.field(default_factory=list)  # from modules' `error_class`
    # the same failures as {host, task, message}: a task name may hold ': ' (role tasks are "role : name")
    failed_tasks: List[Dict[str, str]] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "successful" and self.rc == 0


DEFAULT_KEEP_ARTIFACTS = 20
RUN_DIR_RE = re.compile(r"^\d{8}T\d{6}-(?P<deployment>.+)-(?P<action>[a-z]+)-[0-9a-f]{6}$")  # api.new_run_id


def keep_artifacts() -> Optional[int]:
    """How many run dirs to keep per deployment: ``$INDIGO_KEEP_ARTIFACTS`` (default 20); 0 or ``all``
    keeps every run (None)."""
    text = os.environ.get("INDIGO_KEEP_ARTIFACTS", "").strip().lower()
    if not text:
        return DEFAULT_KEEP_ARTIFACTS
    if text == "all":
        return None
    try:
        keep = int(text)
    except ValueError:
        keep = -1
    if keep < 0:
        raise UserInputError("INDIGO_KEEP_ARTIFACTS must be a number of runs to keep per deployment, 0 or 'all' "
                             "to keep every run (got %r)" % os.environ["INDIGO_KEEP_ARTIFACTS"])
    return keep or None


def prune_artifacts(runs_dir: Path, deployment: str, keep: Optional[int], current: Optional[str] = None) -> List[str]:
    """Remove the oldest run dirs of ``deployment`` beyond the newest ``keep`` (never ``current``); returns
    the removed run ids. The journal keeps the runs' records (and says their artifacts were rotated away)."""
    if keep is None or not runs_dir.is_dir():
        return []
    mine = []
    for path in runs_dir.iterdir():
        match = RUN_DIR_RE.match(path.name)
        if path.is_dir() and match and match.group("deployment") == deployment:
            mine.append((path.name[:15], path.stat().st_mtime, path.name))  # UTC stamp, then age within a second
    others = [name for _, _, name in sorted(mine) if name != current]
    keep_others = keep - 1 if current else keep
    removed = others[:max(0, len(others) - keep_others)]
    for name in removed:
        shutil.rmtree(runs_dir / name, ignore_errors=True)
    return removed


def _result_message(result: Dict[str, Any], limit: int) -> str:
    """A failed result's message; for a loop, the first failed item's message too."""
    msg = str(result.get("msg") or result.get("stderr") or "")
    items = result.get("results")
    if isinstance(items, list):
        item = next((str(r["msg"]) for r in items if isinstance(r, dict) and r.get("failed") and r.get("msg")), "")
        msg = "%s: %s" % (msg, item) if msg and item and item != msg else (item or msg)
    return msg[:limit]


def _progress_line(event: Dict[str, Any]) -> Optional[str]:
    kind = event.get("event")
    data = event.get("event_data") or {}
    if kind == "playbook_on_play_start":
        return "PLAY %s" % (data.get("play") or data.get("name") or "")
    if kind == "playbook_on_task_start":
        return "  TASK %s" % (data.get("task") or data.get("name") or "")
    if kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
        result = data.get("res") or {}
        word = "UNREACHABLE" if kind == "runner_on_unreachable" else "FAILED"
        return "    %s %s: %s" % (word, data.get("host"), _result_message(result, 400))
    if kind == "runner_on_ok" and (data.get("res") or {}).get("changed"):
        return "    changed: %s" % data.get("host")
    return None


def _failure(event: Dict[str, Any]) -> Optional[Dict[str, str]]:
    """{host, task, message} of a failed or unreachable task result (not an ignored one)."""
    data = event.get("event_data") or {}
    if event.get("event") in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
        result = data.get("res") or {}
        return {"host": str(data.get("host")), "task": str(data.get("task")), "message": _result_message(result, 600)}
    return None


def tools_path() -> str:
    """PATH with this Python's bin dir first: ansible-playbook and ansible-runner of this environment,
    even when the venv is not activated (CI, cron, AWX)."""
    return str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")


def collections_path() -> str:
    """The framework's own collection first (the wheel's site-packages or the checkout), then the operator's."""
    from tosca2ansible.collection import collections_root

    extra = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys([str(collections_root())] + extra))


def unsafe_vars_yaml(variables: Dict[str, Any]) -> str:
    """A vars file of ``variables`` as data: every string reaches Ansible as written, never rendered, with
    its type kept (the compiled project's writer, one trust rule: tosca2ansible/compiler/yamlwrite.py)."""
    from tosca2ansible.compiler.render import Unsafe  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.yamlwrite import dump  # pylint: disable=import-outside-toplevel

    def mark(value):
        if isinstance(value, dict):
            return {str(k): mark(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [mark(v) for v in value]
        return Unsafe(value) if isinstance(value, str) else value

    return dump(mark(variables))


def ssh_common_args(known_hosts: Iterable[Path]) -> str:
    files = " ".join(str(p) for p in known_hosts)
    return "-o StrictHostKeyChecking=accept-new -o %s" % shlex.quote("UserKnownHostsFile=" + files)


def run_playbook(project_dir, playbook: str, *, deployment: str, action: str, extravars: Optional[Dict[str, Any]] = None,
                 inventory: Optional[Iterable[str]] = None, known_hosts: Iterable[Path] = (),
                 progress: Optional[Callable[[str], None]] = None, on_event: Optional[EventSink] = None,
                 timeout: Optional[int] = None, envvars: Optional[Dict[str, str]] = None,
                 catalogue: Optional[str] = None, secret_vars: Optional[Dict[str, Any]] = None,
                 execution_node: Optional[str] = None) -> RunResult:
    """Run ``playbook`` of ``project_dir``; ``inventory`` defaults to the project's ``inventory/`` dir.
    ``execution_node`` (default ``$INDIGO_EXECUTION_NODE``): run it there through receptor (runtime/remote.py)."""
    try:
        import ansible_runner
    except ImportError:
        raise EnvironmentProblem("ansible-runner is not installed in this Python (pip install ansible-runner)")
    project_dir = Path(project_dir).resolve()
    if not (project_dir / playbook).is_file():
        raise EnvironmentProblem("no playbook %s in %s" % (playbook, project_dir))
    from tosca2ansible.runtime.journal.api import RunJournal, new_run_id

    keep = keep_artifacts()  # a bad setting stops before anything runs
    run_id = new_run_id(deployment, action)
    private_dir = indigo_home() / "runs" / run_id
    private_dir.mkdir(parents=True, exist_ok=True)
    # The journal masks site credentials and secret-named variables in progress lines and artifacts.
    from tosca2ansible.collection import secrets_rule

    journal = RunJournal(run_id, deployment, action, private_dir, extravars=extravars, catalogue=catalogue,
                         extra_secrets=secrets_rule().secret_values(secret_vars or {}))
    emit = progress or (lambda line: print(line, file=sys.stderr, flush=True))

    def say(line):
        emit(journal.redact(line))

    failures: List[str] = []
    failed_tasks: List[Dict[str, str]] = []
    error_classes: List[str] = []

    def handle(event):
        line = _progress_line(event)
        if line:
            say(line)
        failure = _failure(event)
        if failure:
            failure = {key: journal.redact(value) for key, value in failure.items()}
            failed_tasks.append(failure)
            failures.append("%(host)s: %(task)s: %(message)s" % failure)
            error_class = ((event.get("event_data") or {}).get("res") or {}).get("error_class")
            if error_class:
                error_classes.append(str(error_class))
        if on_event:
            on_event(event)
        return True  # keep the event in the artifacts

    env = {
        "ANSIBLE_CONFIG": str(project_dir / "ansible.cfg"),
        "ANSIBLE_SSH_COMMON_ARGS": ssh_common_args(known_hosts),
        "ANSIBLE_FORCE_COLOR": "0",
        "INDIGO_DEPLOYMENT": deployment,
        "ANSIBLE_COLLECTIONS_PATH": collections_path(),
    }
    env["PATH"] = tools_path()
    if os.environ.get("INDIGO_SITES"):
        env["INDIGO_SITES"] = os.environ["INDIGO_SITES"]
    env.update(envvars or {})
    env.update(journal.env())
    inventories = list(inventory) if inventory else [str(project_dir / "inventory")]
    cmdline = None
    if secret_vars and not (execution_node or os.environ.get("INDIGO_EXECUTION_NODE")):
        # A vars file, not extravars: nothing secret in the artifacts' env/extravars nor on a command line,
        # and `!unsafe` so that Jinja never evaluates what the user typed. It lives in the run's lease
        # (0700, under $INDIGO_HOME, outside the artifacts): removed when the run closes, and by the next
        # command that opens the journal if this process is killed.
        secrets_file = journal.lease.write_private("secrets.yml", unsafe_vars_yaml(secret_vars))
        cmdline = "-e @%s" % shlex.quote(str(secrets_file))
        # the journal callback masks these variables whatever their names (declared secret in TOSCA)
        env["INDIGO_SECRET_VARS"] = ",".join(sorted(secret_vars))
    node = execution_node or os.environ.get("INDIGO_EXECUTION_NODE")
    with stop_signals(active=not node) as cancelled:
        runner = _run(node, private_dir, project_dir, playbook, journal, inventories, extravars, env, handle, timeout,
                      cmdline, cancelled, known_hosts=known_hosts, secret_vars=secret_vars, catalogue=catalogue,
                      envvars=envvars, deployment=deployment, say=say, failed_tasks=failed_tasks, failures=failures)
        stats = runner.stats or {}
        journal.close(runner.rc, runner.status, stats)
        prune_artifacts(private_dir.parent, deployment, keep, current=run_id)
    changed = sum((stats.get("changed") or {}).values())
    return RunResult(run_id=run_id, status=runner.status, rc=runner.rc if runner.rc is not None else -1,
                     changed=changed, failures=failures, stats=stats,
                     artifacts_dir=str(private_dir / "artifacts" / "run"), error_classes=error_classes,
                     failed_tasks=failed_tasks)


@contextlib.contextmanager
def stop_signals(active: bool = True):
    """SIGTERM/SIGINT during a local run cancel it (ansible-runner stops ansible-playbook), then stop this process
    as they would have. Left to itself ansible-runner installs a handler that only cancels, and leaves it
    installed: a long-lived process (`indigo elastic run`) could then no longer be stopped. Yields the
    cancel callback for ansible-runner (``active`` False, e.g. a receptor job: the signals are left alone)."""
    if not active or threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    caught: List[int] = []
    saved = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    for number in saved:
        signal.signal(number, lambda got, frame: caught.append(got))
    try:
        yield lambda: bool(caught)
    finally:
        for number, handler in saved.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
    if caught:
        signal.raise_signal(caught[0])


def _run(node, private_dir, project_dir, playbook, journal, inventories, extravars, env, handle, timeout, cmdline,
         cancelled, *, known_hosts, secret_vars, catalogue, envvars, deployment, say, failed_tasks, failures):
    import ansible_runner

    try:
        if node:
            runner = _run_remote(node, private_dir, project_dir, playbook, journal, extravars=dict(extravars or {}),
                                 known_hosts=known_hosts, secret_vars=secret_vars, catalogue=catalogue, timeout=timeout,
                                 envvars=envvars, handle=handle, deployment=deployment)
            if runner.reason:
                say("    FAILED %s: %s" % (node, runner.reason))
                failed_tasks.append({"host": node, "task": "receptor work unit", "message": journal.redact(runner.reason)})
                failures.append("%s: receptor work unit: %s" % (node, journal.redact(runner.reason)))
        else:
            runner = ansible_runner.run(
                private_data_dir=str(private_dir), project_dir=str(project_dir), playbook=playbook,
                inventory=inventories, extravars=dict(extravars or {}), envvars=env, ident="run",
                event_handler=handle, quiet=True, timeout=timeout, cmdline=cmdline,
                # cwd stays the project so relative paths in ansible.cfg resolve
                directory_isolation_base_path=None,
                # facts in memory: runner's jsonfile cache (a fresh dir per run, so never reused) is written 0644
                # whatever the umask (ansible/plugins/cache/__init__.py:166, chmod S_IRWU_RG_RO)
                fact_cache_type="memory", cancel_callback=cancelled,
            )
    finally:
        journal.lease.release()
    return runner


def _run_remote(node, private_dir, project_dir, playbook, journal, *, extravars, known_hosts, secret_vars, catalogue,
                timeout, envvars, handle, deployment):
    """The job on a receptor execution node: the control side's files under $INDIGO_HOME travel with the job,
    the site's own files (a local site's known_hosts) are the site's, where the node runs the job."""
    from tosca2ansible.runtime.remote import run_on_node

    home = indigo_home().resolve()
    known = [Path(p) for p in known_hosts]
    shipped = [p for p in known if home in Path(p).resolve().parents]
    env = {key: value for key, value in (envvars or {}).items() if key != "INDIGO_SITES"}  # the job's own catalogue
    env.update({"ANSIBLE_FORCE_COLOR": "0", "INDIGO_DEPLOYMENT": deployment})
    return run_on_node(node, private_dir=private_dir, project_dir=project_dir, playbook=playbook, extravars=extravars,
                       envvars=env, known_hosts=shipped, site_known_hosts=[p for p in known if p not in shipped],
                       catalogue=catalogue, secrets_yaml=unsafe_vars_yaml(secret_vars) if secret_vars else None,
                       journal=journal, timeout=timeout, event_handler=handle)
