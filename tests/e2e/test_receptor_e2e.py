"""End to end, as AWX runs jobs: the Slurm example deployed and undeployed on receptor execution nodes.

A mesh of Debian's receptor (trixie's package, runtime/receptor.py): this host's control node and two
execution nodes. `indigo deploy --execution-node exec-a` sends the job as ansible-runner transmit → receptor
work submit → `ansible-runner worker` on exec-a → results streamed back → ansible-runner process; the events
reach the control side (progress, artifacts) and the journal is written there (the node journals nothing).
`indigo undeploy --execution-node exec-b` removes it from the other node. A second deployment whose node is
killed mid-job (receptor and every process started on it, as a machine dies) gives a failed run with the
reason, closed in the journal; its undeploy leaves nothing. Timings are printed (run with -s).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.local_nodes import leftovers, local_site  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "slurm_cluster.yaml"
NAMES = ["rcpt-e2e-lrms_server-0", "rcpt-e2e-lrms_wn-0", "rcpt-kill-lrms_server-0", "rcpt-kill-lrms_wn-0"]


def indigo(*args, timeout=900):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", "from tosca2ansible.cli import main; main()"] + list(args),
                          capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))
    return proc, time.monotonic() - started


def runs_of(home, deployment):
    from tosca2ansible.runtime.journal import Journal

    with Journal(str(home / "journal.sqlite")) as journal:
        runs = journal.store.rows("runs", "deployment = ?", [deployment])
        events = {r["run_id"]: journal.store.rows("host_events", "run_id = ?", [r["run_id"]]) for r in runs}
        assert journal.store.verify()["ok"]
    return runs, events


def phases(runs, run_id):
    return [(r["phase"], r["source"], r["status"]) for r in runs if r["run_id"] == run_id]


@pytest.mark.slow
def test_slurm_deploys_and_undeploys_on_execution_nodes_and_a_killed_node_fails_the_run(local_site, tmp_path,
                                                                                          monkeypatch):
    from tosca2ansible.runtime.receptor import Mesh

    home = tmp_path / "home"
    monkeypatch.setenv("INDIGO_HOME", str(home))
    mesh = Mesh(home / "receptor")
    timings = {}
    try:
        started = time.monotonic()
        mesh.start(["exec-a", "exec-b"])
        timings["mesh"] = time.monotonic() - started
        proc, timings["deploy"] = indigo("deploy", str(EXAMPLE), "-i", "wn_num=1", "--deployment", "rcpt-e2e",
                                         "--execution-node", "exec-a", "--json")
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads(proc.stdout)
        assert result["status"] == "deployed" and len(result["outputs"]["wn_ips"]) == 1
        # the events came back: progress on stderr, one artifact per event on the control side
        assert "TASK Restart slurmctld" in proc.stderr
        artifacts = home / "runs" / result["run_id"] / "artifacts" / "run"
        assert len(list((artifacts / "job_events").glob("*.json"))) > 50 and (artifacts / "rc").read_text() == "0"
        # the job ran on exec-a (its worker's private data dir), not here
        command = json.loads((artifacts / "command").read_text())
        assert command["cwd"].startswith(str(mesh.base / "exec-a" / "jobs"))
        runs, events = runs_of(home, "rcpt-e2e")
        assert phases(runs, result["run_id"]) == [("opened", "runtime", None), ("started", "receptor", None),
                                                  ("finished", "receptor", "successful"),
                                                  ("closed", "runtime", "successful")]
        tasks = [e["task"] for e in events[result["run_id"]]]
        assert tasks[0] == "Provision lrms_server" and "Write outputs.json" in tasks
        assert not list(mesh.base.rglob("*.sqlite*")), "an execution node journaled"
        # the cluster works
        proc, _ = indigo("ssh", "rcpt-e2e", "--node", "lrms_server", "--", "srun", "-N1", "hostname", timeout=180)
        assert proc.returncode == 0 and "rcpt-e2e-lrms-wn-0" in proc.stdout, proc.stderr

        proc, timings["undeploy"] = indigo("undeploy", "rcpt-e2e", "--execution-node", "exec-b", "--json")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert json.loads(proc.stdout)["status"] == "undeployed"
        assert json.loads(proc.stdout)["removed_by_tags"] == []  # undeploy.yml removed everything, on exec-b
        runs, _ = runs_of(home, "rcpt-e2e")
        undeploy = [r for r in runs if r["action"] == "undeploy"]
        assert [r["phase"] for r in undeploy] == ["opened", "started", "finished", "closed"]
        assert not [e for e in (mesh.base / "exec-a" / "jobs").iterdir()], "exec-a kept a job dir"

        # a node that dies mid-job
        started = time.monotonic()
        job = subprocess.Popen([sys.executable, "-c", "from tosca2ansible.cli import main; main()", "deploy", str(EXAMPLE),
                                "-i", "wn_num=1", "--deployment", "rcpt-kill", "--execution-node", "exec-b", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT))
        seen = []
        for line in job.stderr:
            seen.append(line)
            if "TASK Wait for lrms_server" in line:
                break
        killed = mesh.kill_node("exec-b")
        timings["killed_after"] = time.monotonic() - started
        out, err = job.communicate(timeout=600)
        err = "".join(seen) + err
        timings["kill_run"] = time.monotonic() - started
        assert len(killed) >= 3, killed  # receptor, the worker, ansible-playbook (and the async provisioning jobs)
        assert job.returncode != 0 and "receptor execution node exec-b left the mesh during the job" in err, err[-3000:]
        runs, events = runs_of(home, "rcpt-kill")
        (run_id,) = {r["run_id"] for r in runs if r["action"] == "deploy"}
        assert [p[0] for p in phases(runs, run_id)] == ["opened", "started", "closed"]  # nothing left open
        assert phases(runs, run_id)[-1][2] == "failed"
        last = events[run_id][-1]
        assert (last["host"], last["task"], last["status"]) == ("exec-b", "receptor work unit", "failed")
        assert "left the mesh" in last["message"]
        proc, _ = indigo("status", "rcpt-kill", "--json")
        assert json.loads(proc.stdout)["status"] == "failed"
        proc, timings["undeploy_killed"] = indigo("undeploy", "rcpt-kill", "--execution-node", "exec-a", "--json")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert leftovers(local_site, NAMES) == {}
    finally:
        for deployment in ("rcpt-e2e", "rcpt-kill"):
            if (home / "deployments" / deployment).exists():
                indigo("undeploy", deployment)
        mesh.stop()
        print("receptor e2e timings (s):", {k: round(v, 1) for k, v in timings.items()})
    assert leftovers(local_site, NAMES) == {}
