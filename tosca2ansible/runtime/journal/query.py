"""Read views of the journal for the CLI: runs merged from their records, one run, one deployment."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from tosca2ansible.errors import UserInputError
from tosca2ansible.runtime.journal.redact import Redactor
from tosca2ansible.runtime.journal.store import JournalStore

FINAL_PHASES = ("closed", "finished")  # closed (runtime, authoritative rc) wins over finished (callback)


def _merge_run(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    run: Dict[str, Any] = {"run_id": rows[0]["run_id"], "deployment": None, "action": None, "started": rows[0]["ts"],
                           "ended": None, "rc": None, "status": "running", "artifacts": None, "stats": None,
                           "phases": [r["phase"] for r in rows]}
    for row in rows:
        for key in ("deployment", "action", "artifacts"):
            run[key] = row.get(key) or run[key]
        if row["phase"] in FINAL_PHASES:
            run["ended"] = row["ts"]
            run["stats"] = row.get("stats") or run["stats"]
            if row["phase"] == "closed" or "closed" not in run["phases"]:
                run["rc"], run["status"] = row.get("rc"), row.get("status")
    return run


def list_runs(store: JournalStore, deployment: Optional[str] = None) -> List[Dict[str, Any]]:
    rows = store.rows("runs", "deployment = ?", [deployment]) if deployment else store.rows("runs")
    by_run: Dict[str, List[Dict[str, Any]]] = {}
    for row in rows:
        by_run.setdefault(row["run_id"], []).append(row)
    return [_merge_run(r) for r in by_run.values()]


def resolve_run_id(store: JournalStore, run: str) -> str:
    ids = sorted({r["run_id"] for r in store.rows("runs", "run_id LIKE ?", [run.replace("%", "") + "%"])})
    if run in ids:
        return run
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise UserInputError("no run %r in the journal %s (see `indigo runs`)" % (run, store.path))
    raise UserInputError("run %r is ambiguous: %s" % (run, ", ".join(ids[:5])))


def run_detail(store: JournalStore, run: str) -> Dict[str, Any]:
    run_id = resolve_run_id(store, run)
    summary = _merge_run(store.rows("runs", "run_id = ?", [run_id]))
    # artifacts rotate away (INDIGO_KEEP_ARTIFACTS); the journal's record of the run stays
    summary["artifacts_present"] = bool(summary["artifacts"]) and os.path.isdir(summary["artifacts"])
    events = store.rows("host_events", "run_id = ?", [run_id])
    recap = summary.get("stats") or {}
    if not recap:  # the run never reached its recap: count what the events say
        for event in events:
            counts = recap.setdefault(event["host"], {"ok": 0, "changed": 0, "failures": 0, "unreachable": 0, "skipped": 0, "ignored": 0})
            key = {"failed": "failures"}.get(event["status"], event["status"])
            counts[key] = counts.get(key, 0) + 1
    return {
        "run": summary, "recap": recap,
        "failed_tasks": [{k: e[k] for k in ("seq", "host", "play", "task", "action", "status", "message")}
                         for e in events if e["status"] in ("failed", "unreachable")],
        "attempts": store.rows("attempts", "run_id = ?", [run_id]),
        "resources": store.rows("resources", "run_id = ?", [run_id]),
    }


def run_events(store: JournalStore, run: str) -> List[Dict[str, Any]]:
    return store.rows("host_events", "run_id = ?", [resolve_run_id(store, run)])


def current_resources(resource_rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Resources created and not deleted since, in creation order."""
    live: Dict[tuple, Dict[str, Any]] = {}
    for row in resource_rows:
        rid, site = row["resource_id"], row.get("site")
        if row["change"] == "deleted":  # a deletion without a site matches the id on any site
            for key in [k for k in live if k[1] == rid and (site is None or k[0] in (None, site))]:
                live.pop(key)
        else:
            live[(site, rid)] = row
    return list(live.values())


def deployment_detail(store: JournalStore, deployment: str, home: Optional[str] = None) -> Dict[str, Any]:
    history = store.rows("deployments", "deployment = ?", [deployment])
    runs = list_runs(store, deployment)
    if not history and not runs:
        raise UserInputError("deployment %r is not in the journal %s" % (deployment, store.path))
    resources = store.rows("resources", "deployment = ?", [deployment])

    def latest(key):
        return next((row[key] for row in reversed(history) if row.get(key)), None)

    site = latest("site") or next((r["site"] for r in reversed(resources) if r.get("site")), None)
    outputs = None
    outputs_file = os.path.join(home, "deployments", deployment, "outputs.json") if home else None
    if outputs_file and os.path.isfile(outputs_file):
        with open(outputs_file) as handle:
            try:
                outputs = Redactor().data(json.load(handle))  # secret-named outputs are masked here too
            except ValueError:
                outputs = {"error": "outputs.json is not valid JSON"}
    return {
        "deployment": deployment, "status": history[-1]["status"] if history else runs[-1]["status"], "site": site,
        "template_digest": latest("template_digest"), "inputs": latest("inputs"),
        # who created it; the rows after say who acted
        "owner": next((row["owner"] for row in history if row.get("owner")), None),
        "group": latest("group"), "resources": current_resources(resources), "resource_history": resources,
        "outputs": outputs, "history": history, "runs": runs,
    }
