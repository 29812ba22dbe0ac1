"""What the runtime (runner.py, deploy.py) tells the journal; the callback plugin records the rest.

The callback plugin ``indigo.paas.journal`` writes, from inside ansible-playbook (under ansible-runner,
plain ansible-playbook or AWX): run started/finished with the host stats, task results summarised per
host, and the resources ``indigo.paas.instance``/``deployment_teardown`` report created or deleted.
Only the runtime knows the rest, and records it with this API: the artifact dir and the authoritative
rc/status of the run, the broker's attempts, and the deployment record (template digest, inputs with
secrets redacted, owner, group, status).
"""

from __future__ import annotations

import datetime
import getpass
import hashlib
import os
import uuid
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from ansible_collections.indigo.paas.plugins.plugin_utils.journal import lease
from ansible_collections.indigo.paas.plugins.plugin_utils.journal.redact import (
    Redactor,
    redact_inputs,
    redact_tree,
    secret_values_from_vars,
    secrets_for_run,
)
from ansible_collections.indigo.paas.plugins.plugin_utils.journal.store import JournalStore, default_path

CALLBACK_NAME = "indigo.paas.journal"


def new_run_id(deployment: str, action: str) -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return "%s-%s-%s-%s" % (stamp, deployment or "none", action or "run", uuid.uuid4().hex[:6])


def callback_env(run_id: str, deployment: str, action: str, indigo_home: Optional[str] = None,
                 enabled: str = "") -> Dict[str, str]:
    """Environment variables that enable the journal callback for one run.

    ``enabled`` is the current ANSIBLE_CALLBACKS_ENABLED value, kept (the env var replaces ansible.cfg's
    ``callbacks_enabled``)."""
    callbacks = [c for c in (enabled or "").split(",") if c.strip()]
    if CALLBACK_NAME not in callbacks:
        callbacks.append(CALLBACK_NAME)
    home = indigo_home or os.environ.get("INDIGO_HOME") or os.path.expanduser("~/.indigo")
    return {
        "ANSIBLE_CALLBACKS_ENABLED": ",".join(callbacks),
        "INDIGO_HOME": str(home),
        "INDIGO_RUN_ID": run_id,
        "INDIGO_DEPLOYMENT": deployment,
        "INDIGO_ACTION": action,
    }


def template_digest(template: Any) -> Optional[str]:
    """sha256 of a template file (a path) or of its text/bytes."""
    if template is None:
        return None
    if isinstance(template, Path) or (isinstance(template, str) and "\n" not in template and os.path.isfile(template)):
        data = Path(template).read_bytes()
    else:
        data = template.encode("utf-8") if isinstance(template, str) else bytes(template)
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Journal:
    """The journal at ``$INDIGO_HOME/journal.sqlite`` (or ``path``)."""

    def __init__(self, path: Optional[str] = None, secrets: Iterable[str] = ()):
        self.path = path or default_path()
        self.store = JournalStore(self.path)
        self.redactor = Redactor(secrets)

    def close(self) -> None:
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Values masked in every message recorded through this object from now on."""
        self.redactor.add(secrets)

    # --- deployments -------------------------------------------------------------------------
    def record_deployment(self, deployment: str, status: str, *, site: Optional[str] = None, template: Any = None,
                          inputs: Optional[Dict[str, Any]] = None, owner: Optional[str] = None,
                          group: Optional[str] = None, note: Optional[str] = None,
                          secret_names: Iterable[str] = ()) -> int:
        """One row of the deployment's history (status e.g. deploying, deployed, failed, undeployed).
        Inputs are stored with secret-named values and known secret values masked; the values of
        secret-named inputs are masked in everything this object records afterwards."""
        secret_names = set(secret_names or ())
        self.redactor.add(secret_values_from_vars(inputs, secret_names))
        return self.store.append(
            "deployments", deployment=deployment, status=status, site=site, template_digest=template_digest(template),
            inputs_json=redact_inputs(inputs, self.redactor.secrets, secret_names) if inputs is not None else None,
            owner=owner or _current_user(), grp=group, note=self.redactor.text(note))

    # --- runs --------------------------------------------------------------------------------
    def run_opened(self, run_id: str, deployment: str, action: str, artifacts: Optional[str] = None) -> int:
        """Before ansible-runner starts: the run exists even if ansible never gets to load the callback."""
        return self.store.append("runs", run_id=run_id, deployment=deployment, action=action, phase="opened",
                                 artifacts=str(artifacts) if artifacts else None, source="runtime")

    def run_closed(self, run_id: str, deployment: str, action: str, *, rc: int, status: str,
                   artifacts: Optional[str] = None, stats: Optional[Dict[str, Any]] = None) -> int:
        """After ansible-runner returns: the authoritative rc/status and where the artifacts are."""
        return self.store.append("runs", run_id=run_id, deployment=deployment, action=action, phase="closed",
                                 rc=int(rc), status=status, stats_json=stats, source="runtime",
                                 artifacts=str(artifacts) if artifacts else None)

    def record_deleted(self, run_id: Optional[str], deployment: str, deleted: Iterable[Any],
                       site: Optional[str] = None) -> List[int]:
        """What a provider deleted outside any playbook (attempt teardown, undeploy's removal by tags):
        ``Resource``/``Instance`` objects or their dicts (kind, id, name, site)."""
        rows = []
        for item in deleted:
            data = item.to_dict() if hasattr(item, "to_dict") else (item if isinstance(item, dict) else {"id": item})
            rows.append(("resources", dict(run_id=run_id, deployment=deployment, site=data.get("site") or site,
                                           kind=data.get("kind") or "instance", resource_id=str(data.get("id")),
                                           name=data.get("name"), change="deleted")))
        return self.store.append_many(rows) if rows else []

    # --- attempts (from the broker) ------------------------------------------------------------
    def record_attempt(self, run_id: str, deployment: str, attempt: int, site: str, outcome: str,
                       error_class: Optional[str] = None, message: Optional[str] = None) -> int:
        """One placement attempt: ``outcome`` is ok|failed|skipped; ``error_class`` quota|auth|transient|fatal."""
        return self.store.append("attempts", run_id=run_id, deployment=deployment, attempt=int(attempt), site=site,
                                 outcome=outcome, error_class=error_class, message=self.redactor.text(message))

    # --- resources ----------------------------------------------------------------------------
    def record_resource(self, run_id: Optional[str], deployment: str, site: Optional[str], kind: str, resource_id: str,
                        change: str, name: Optional[str] = None, detail: Optional[Dict[str, Any]] = None) -> int:
        """``change`` is created|deleted|present."""
        return self.store.append("resources", run_id=run_id, deployment=deployment, site=site, kind=kind,
                                 resource_id=str(resource_id), name=name, change=change,
                                 detail_json=self.redactor.data(detail) if detail is not None else None)


def scrub_artifacts(private_data_dir, catalogue: Optional[str] = None, variables: Optional[Dict[str, Any]] = None,
                    extra_secrets: Iterable[str] = ()) -> int:
    """``redact_tree`` with the secrets of one run: site credentials of ``catalogue`` (resolved from this
    process's environment), secret-named ``variables`` (extra vars, inputs) and ``extra_secrets``."""
    secrets = secrets_for_run(catalogue, variables) | {s for s in extra_secrets if s}
    return redact_tree(private_data_dir, secrets)


class RunJournal:
    """Everything runner.py does for one run, in three calls::

        journal_run = RunJournal(run_id, deployment, action, private_dir, extravars=extravars, catalogue=catalogue)
        env.update(journal_run.env())                 # enables the callback with this run's id
        say(journal_run.redact(line))                 # progress lines and failure messages
        result = journal_run.close(rc, status, stats) # scrubs the private data dir, records rc/status/artifacts
    """

    def __init__(self, run_id: str, deployment: str, action: str, private_dir, *, extravars: Optional[Dict[str, Any]] = None,
                 catalogue: Optional[str] = None, ident: str = "run", journal_path: Optional[str] = None,
                 extra_secrets: Iterable[str] = ()):
        self.run_id, self.deployment, self.action = run_id, deployment, action
        self.private_dir = Path(private_dir)
        self.artifacts = self.private_dir / "artifacts" / ident
        self.journal_path = journal_path
        self.secrets = secrets_for_run(catalogue, extravars) | {s for s in extra_secrets if s}
        self._redactor = Redactor(self.secrets)
        # held while this process lives: the run's secrets file goes in lease.dir
        self.lease = lease.RunLease(os.path.dirname(os.path.abspath(self.journal_path or default_path())), run_id)
        self.lease.keep_scrub(self.private_dir, self.secrets)
        with Journal(self.journal_path) as journal:
            journal.run_opened(run_id, deployment, action, artifacts=str(self.artifacts))

    def env(self, enabled: Optional[str] = None) -> Dict[str, str]:
        home = str(Path(self.journal_path).parent) if self.journal_path else None
        env = callback_env(self.run_id, self.deployment, self.action, indigo_home=home,
                           enabled=os.environ.get("ANSIBLE_CALLBACKS_ENABLED", "") if enabled is None else enabled)
        if self.journal_path:
            env["INDIGO_JOURNAL"] = str(self.journal_path)
        return env

    def redact(self, text: Optional[str]) -> Optional[str]:
        return self._redactor.text(text)

    def close(self, rc: Optional[int], status: str, stats: Optional[Dict[str, Any]] = None) -> int:
        """Scrub the private data dir, record the run's end; returns the number of files scrubbed."""
        self.lease.release()
        scrubbed = redact_tree(self.private_dir, self.secrets)
        with Journal(self.journal_path, secrets=self.secrets) as journal:
            journal.run_closed(self.run_id, self.deployment, self.action, rc=-1 if rc is None else rc, status=status,
                               artifacts=str(self.artifacts), stats=per_host_stats(stats))
        return scrubbed


RUNNER_STAT_KEYS = {"ok": "ok", "changed": "changed", "failures": "failures", "dark": "unreachable",
                    "skipped": "skipped", "rescued": "rescued", "ignored": "ignored"}


def per_host_stats(stats: Optional[Dict[str, Any]]) -> Optional[Dict[str, Dict[str, int]]]:
    """ansible-runner's ``{"ok": {host: n}, "dark": {...}, ...}`` as the callback records it: ``{host: {"ok": n,
    "unreachable": n, ...}}`` (every host ansible processed, zeros included)."""
    if not stats:
        return stats
    hosts = set(stats.get("processed") or {})
    for key in RUNNER_STAT_KEYS:
        hosts |= set(stats.get(key) or {})
    return {host: {name: int((stats.get(key) or {}).get(host, 0)) for key, name in RUNNER_STAT_KEYS.items()}
            for host in sorted(hosts)}


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): the uid still identifies the operator
        return "uid:%d" % os.getuid()


__all__: List[str] = ["Journal", "RunJournal", "callback_env", "new_run_id", "per_host_stats", "redact_tree", "scrub_artifacts",
                      "template_digest"]
