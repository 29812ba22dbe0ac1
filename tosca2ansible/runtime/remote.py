"""Run a job on a receptor execution node, as AWX does: ``ansible-runner transmit`` → ``receptorctl work
submit`` → ``ansible-runner worker`` on the node → results streamed back → ``ansible-runner process``.

The job is a private data dir staged from the compiled project: ``project/`` (the project, the collection
installed in its ``collections/``, the deployment key and known_hosts in ``.indigo/``), its ``inventory/``
and the site catalogue in ``inventories/sites``. Paths the playbook needs are given relative to the job's own project dir
(``{{ playbook_dir }}``, resolved on the node); files the job writes for the control side (the outputs) go
to the job's artifacts dir, which the worker streams back. The node's own journal callback is off: the
control side journals the streamed events into its journal (same rows as the callback, rows.py) and closes
the run with the job's rc, or as failed with the reason when the node leaves the mesh mid-job.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from tosca2ansible.errors import EnvironmentProblem
from tosca2ansible.runtime.receptor import WORK_TYPE, Mesh

JOB_DIR = "{{ playbook_dir }}"
SHIPPED = ("indigo_ssh_private_key_file", "ansible_ssh_private_key_file")
RETURNED = ("indigo_outputs_file",)
LOST_AFTER = 3  # seconds without a route to the node: it left the mesh
RUNNER_STATS = ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored", "processed")


def stage_job(job: Path, project_dir: Path, extravars: Dict[str, Any], catalogue: Optional[str],
              known_hosts: List[Path], secrets_yaml: Optional[str]) -> Dict[str, Any]:
    """The job's private data dir under ``job``; returns the extravars as the node sees them."""
    from tosca2ansible.collection import collections_root

    project = job / "project"
    shutil.copytree(project_dir, project, symlinks=False, ignore=shutil.ignore_patterns(".compile-*"))
    shutil.copytree(collections_root() / "ansible_collections" / "indigo" / "paas", project / "collections" / "ansible_collections" / "indigo" / "paas",
                    ignore=shutil.ignore_patterns("tests", "__pycache__", "*.pyc", "output"))
    private = project / ".indigo"
    private.mkdir(mode=0o700)
    remote = dict(extravars)
    # ansible-runner's own inventory dir; the deployment inventory plugin finds the catalogue beside it
    shutil.copytree(project / "inventory", job / "inventory")
    # the node journals nothing: the control side journals the events it streams back
    config = project / "ansible.cfg"
    config.write_text("".join(line for line in config.read_text().splitlines(True)
                              if not line.startswith("callbacks_enabled")))
    if catalogue:
        sites = job / "inventories" / "sites"
        if Path(catalogue).is_dir():
            shutil.copytree(catalogue, sites)
        else:
            sites.mkdir(parents=True)
            shutil.copy2(catalogue, sites / "sites.yml")
        remote["indigo_catalogue"] = "%s/../inventories/sites" % JOB_DIR
    for name in SHIPPED:
        if isinstance(remote.get(name), str) and Path(remote[name]).is_file():
            target = private / Path(remote[name]).name
            shutil.copy2(remote[name], target)
            os.chmod(target, 0o600)
            remote[name] = "%s/.indigo/%s" % (JOB_DIR, target.name)
    for name in RETURNED:
        if name in remote:
            remote[name] = "%s/../artifacts/run/%s" % (JOB_DIR, name)  # the worker streams its artifacts back
    for index, path in enumerate(known_hosts):
        if path.is_file():
            shutil.copy2(path, private / ("known_hosts-%d" % index))
    if secrets_yaml is not None:
        (private / "secrets.yml").write_text(secrets_yaml)
        os.chmod(private / "secrets.yml", 0o600)
    return remote


def ssh_args(job: Path, site_known_hosts: List[Path]) -> str:
    """Known hosts: the job's copies (relative to the project dir, where ansible-playbook runs) and the
    site's own files (a local site's keys are written where its machines run: on this node's host)."""
    names = sorted(p.name for p in (job / "project" / ".indigo").glob("known_hosts-*"))
    files = [".indigo/%s" % n for n in names] + [str(p) for p in site_known_hosts]
    return "-o StrictHostKeyChecking=accept-new -o %s" % shlex.quote("UserKnownHostsFile=" + " ".join(files))


class EventJournal:
    """The control side's journal of a remote run: the rows the callback writes, from streamed events."""

    def __init__(self, journal_path: Optional[str], run_id: str, deployment: str, action: str, secrets):
        from ansible_collections.indigo.paas.plugins.plugin_utils.journal.api import Journal

        self.journal = Journal(journal_path, secrets=secrets)
        self.run_id, self.deployment, self.action = run_id, deployment, action
        self.seen = set()
        self.started = False
        self.per_host: Optional[Dict[str, Dict[str, int]]] = None

    def __call__(self, event: Dict[str, Any]) -> None:
        from ansible_collections.indigo.paas.plugins.plugin_utils.journal import rows

        kind, data = event.get("event"), event.get("event_data") or {}
        store, redactor = self.journal.store, self.journal.redactor
        if kind == "playbook_on_play_start" and not self.started:
            self.started = True
            store.append("runs", run_id=self.run_id, deployment=self.deployment, action=self.action, phase="started",
                         source="receptor")
        statuses = {"runner_on_ok": None, "runner_on_failed": "failed", "runner_on_unreachable": "unreachable",
                    "runner_on_skipped": "skipped"}
        if kind in statuses:
            res = data.get("res") or {}
            status = statuses[kind] or ("changed" if res.get("changed") else "ok")
            if kind == "runner_on_failed" and data.get("ignore_errors"):
                status = "ignored"
            no_log = rows.is_no_log(res)
            message = None
            if status in ("failed", "ignored", "unreachable"):
                message = "(output hidden: no_log)" if no_log else rows.result_message(res, redactor)
            store.append("host_events", run_id=self.run_id, deployment=self.deployment, host=data.get("host"),
                         play=data.get("play"), task=data.get("task"), action=data.get("task_action"), status=status,
                         message=message)
            if not no_log and status in ("ok", "changed"):
                for change, site, kind_, rid, values in rows.resource_rows(res, data.get("task_action"), {},
                                                                           self.deployment, redactor):
                    if (change, site, kind_, rid) not in self.seen:
                        self.seen.add((change, site, kind_, rid))
                        values.setdefault("deployment", self.deployment)
                        store.append("resources", run_id=self.run_id, site=site, kind=kind_, resource_id=rid,
                                     change=change, **values)
        if kind == "playbook_on_stats":
            hosts = sorted(set().union(*[set(data.get(k) or {}) for k in RUNNER_STATS]))
            names = {"dark": "unreachable"}
            self.per_host = {h: {names.get(k, k): int((data.get(k) or {}).get(h, 0)) for k in RUNNER_STATS
                                 if k != "processed"} for h in hosts}
            rc, outcome = rows.finished_row(self.per_host)
            store.append("runs", run_id=self.run_id, deployment=self.deployment, action=self.action, phase="finished",
                         rc=rc, status=outcome, stats_json=self.per_host, source="receptor")
            status = rows.deployment_status(self.action, rc)
            if status:
                self.journal.record_deployment(self.deployment, status, note="run %s (%s) on a receptor execution node"
                                               % (self.run_id, self.action))

    def lost(self, node: str, reason: str) -> None:
        """The job ended without its play's end: the execution node's failure is the run's last event."""
        self.journal.store.append("host_events", run_id=self.run_id, deployment=self.deployment, host=node,
                                  play=None, task="receptor work unit", action=WORK_TYPE, status="failed",
                                  message=self.journal.redactor.text(reason))

    def close(self):
        self.journal.close()


class RemoteRun:
    """What run_playbook reads of a finished run (ansible-runner's Runner attributes)."""

    def __init__(self, status: str, rc: Optional[int], stats: Dict[str, Any], reason: Optional[str] = None):
        self.status, self.rc, self.stats, self.reason = status, rc, stats, reason


def run_on_node(node: str, *, private_dir: Path, project_dir: Path, playbook: str, extravars: Dict[str, Any],
                envvars: Dict[str, str], known_hosts: List[Path], site_known_hosts: List[Path],
                catalogue: Optional[str], secrets_yaml: Optional[str], journal, timeout: Optional[int],
                event_handler: Callable[[Dict[str, Any]], Any], mesh: Optional[Mesh] = None) -> RemoteRun:
    import ansible_runner

    mesh = mesh or Mesh()
    if node not in mesh.routes():
        raise EnvironmentProblem("receptor execution node %s is not in the mesh (routes: %s)"
                                 % (node, ", ".join(sorted(mesh.routes())) or "none"))
    replay = EventJournal(journal.journal_path, journal.run_id, journal.deployment, journal.action, journal.secrets)
    stats: Dict[str, Any] = {}
    final: Dict[str, Any] = {}

    def on_event(event):
        replay(event)
        if event.get("event") == "playbook_on_stats":
            stats.update({k: (event.get("event_data") or {}).get(k) or {} for k in RUNNER_STATS})
        return event_handler(event)

    def on_status(data, runner_config=None):  # pylint: disable=unused-argument
        final.update(data)

    with tempfile.TemporaryDirectory(dir=str(private_dir), prefix=".job-") as tmp:
        job = Path(tmp)
        remote_vars = stage_job(job, project_dir, extravars, catalogue, known_hosts, secrets_yaml)
        env = dict(envvars, ANSIBLE_SSH_COMMON_ARGS=ssh_args(job, site_known_hosts))
        payload = tempfile.TemporaryFile(dir=str(private_dir))
        ansible_runner.run(streamer="transmit", _output=payload, private_data_dir=str(job), playbook=playbook,
                           extravars=remote_vars, envvars=env, ident="run",
                           quiet=True, timeout=timeout, cmdline="-e @.indigo/secrets.yml" if secrets_yaml else None)
    payload.seek(0)
    ctl = mesh.control()
    unit = ctl.submit_work(WORK_TYPE, payload, node=node)["unitid"]
    payload.close()
    ctl = mesh.control()
    sock, results = ctl.get_work_results(unit, return_socket=True, return_sockfile=True)
    lost: List[str] = []

    def watch():
        missing_since = None
        while not done.is_set():
            try:
                present = node in mesh.routes()
            except (OSError, RuntimeError, EnvironmentProblem):
                present = True  # the control node itself is busy: ask again
            now = time.monotonic()
            missing_since = None if present else (missing_since or now)
            if missing_since and now - missing_since >= LOST_AFTER:
                lost.append("receptor execution node %s left the mesh during the job (no route for %ds; work unit %s)"
                            % (node, LOST_AFTER, unit))
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            done.wait(1.0)

    done = threading.Event()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        processed = ansible_runner.run(streamer="process", _input=results, private_data_dir=str(private_dir), ident="run",
                                       quiet=True, event_handler=on_event, status_handler=on_status)
    finally:
        done.set()
        watcher.join(5)
        results.close()
        sock.close()
    detail = _release(mesh, unit, force=bool(lost))
    for name in RETURNED:
        returned = private_dir / "artifacts" / "run" / name
        if returned.is_file() and name in extravars:
            shutil.move(str(returned), extravars[name])
    if lost or processed.status == "error":
        reason = lost[0] if lost else final.get("job_explanation") or "the worker stream ended early"
        if detail:
            reason += " (receptor: %s)" % detail
        replay.lost(node, reason)
        replay.close()
        return RemoteRun("failed", None, stats, reason)
    replay.close()
    rc = final.get("rc")
    if rc is None:
        rc_file = private_dir / "artifacts" / "run" / "rc"
        rc = int(rc_file.read_text().strip()) if rc_file.is_file() else None
    return RemoteRun(processed.status, rc, stats)


def _release(mesh: Mesh, unit: str, force: bool) -> Optional[str]:
    """Release the work unit (forced when the node is gone); returns its last detail when it failed."""
    ctl = mesh.control()
    try:
        status = ctl.simple_command("work status %s" % unit)
    except RuntimeError as exc:
        status = {"Detail": str(exc)}
    finally:
        ctl.close()
    ctl = mesh.control()
    try:
        ctl.simple_command("work %s %s" % ("force-release" if force else "release", unit))
    except RuntimeError:
        pass
    finally:
        ctl.close()
    return None if status.get("StateName") == "Succeeded" else status.get("Detail")
