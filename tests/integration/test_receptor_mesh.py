"""Jobs on receptor execution nodes, with localhost standing in for the nodes (no machine is created): a mesh of
Debian's receptor (control + two execution nodes), a playbook sent by run_playbook(execution_node=...) through
ansible-runner transmit / receptor / ansible-runner process, journaled on the control side; a node killed
mid-job gives a failed run with the reason. The Slurm example on real nodes: tests/e2e/test_receptor_e2e.py."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

from tosca2ansible.runtime.journal import Journal


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    from tosca2ansible.errors import EnvironmentProblem
    from tosca2ansible.runtime.receptor import Mesh, receptor_binary

    try:
        receptor_binary()
    except EnvironmentProblem as exc:
        pytest.skip("no receptor binary: %s" % exc)
    one = Mesh(tmp_path_factory.mktemp("mesh"))
    one.start(["exec-a", "exec-b"])
    yield one
    one.stop()


def _project(tmp_path, tasks):
    project = tmp_path / "project"
    (project / "inventory").mkdir(parents=True)
    (project / "ansible.cfg").write_text("[defaults]\ninventory = ./inventory\ncallbacks_enabled = indigo.paas.journal\n"
                                         "collections_path = ./collections\n")
    (project / "inventory" / "localhost.yml").write_text(
        "all:\n  hosts:\n    localhost: {ansible_connection: local, ansible_python_interpreter: %s}\n" % sys.executable)
    (project / "job.yml").write_text(json.dumps([{"name": "Job", "hosts": "localhost", "gather_facts": False,
                                                  "tasks": tasks}]))
    (tmp_path / "secret.key").write_text("not a real key\n")
    return project


def test_a_job_runs_on_the_execution_node_and_is_journaled_here(mesh, tmp_path, monkeypatch):
    from tosca2ansible.runtime.runner import run_playbook

    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INDIGO_RECEPTOR_DIR", str(mesh.base))
    tasks = [{"name": "Where am I", "ansible.builtin.command": "pwd", "changed_when": False, "register": "where"},
             {"name": "The key travelled with the job", "ansible.builtin.stat": {"path": "{{ ansible_ssh_private_key_file }}"},
              "register": "key", "failed_when": "not key.stat.exists"},
             {"name": "Write the outputs", "ansible.builtin.copy": {"content": "{{ {'cwd': where.stdout} | to_json }}",
                                                                    "dest": "{{ indigo_outputs_file }}", "mode": "0600"}}]
    project = _project(tmp_path, tasks)
    outputs = tmp_path / "outputs.json"
    lines = []
    result = run_playbook(project, "job.yml", deployment="rcpt-fast", action="deploy", execution_node="exec-a",
                          progress=lines.append, extravars={"indigo_outputs_file": str(outputs),
                                                            "ansible_ssh_private_key_file": str(tmp_path / "secret.key")})
    assert result.ok, (result.failures, lines)
    assert "  TASK Write the outputs" in lines
    ran_in = json.loads(outputs.read_text())["cwd"]  # came back through the artifacts stream
    assert ran_in.startswith(str(mesh.base / "exec-a" / "jobs")) and ran_in.endswith("/project")
    assert not Path(ran_in).exists()  # the worker removed its job dir
    with Journal(str(tmp_path / "home" / "journal.sqlite")) as journal:
        runs = journal.store.rows("runs", "run_id = ?", [result.run_id])
        assert [(r["phase"], r["source"]) for r in runs] == [("opened", "runtime"), ("started", "receptor"),
                                                             ("finished", "receptor"), ("closed", "runtime")]
        events = journal.store.rows("host_events", "run_id = ?", [result.run_id])
        assert [(e["task"], e["status"]) for e in events] == [("Where am I", "ok"), ("The key travelled with the job", "ok"),
                                                              ("Write the outputs", "changed")]
    assert not list(mesh.base.rglob("*.sqlite*"))
    assert not list(Path(result.artifacts_dir).parent.parent.glob(".job-*"))  # the staged job (key) is gone


def test_a_node_killed_mid_job_fails_the_run_with_the_reason(mesh, tmp_path, monkeypatch):
    from tosca2ansible.runtime.runner import run_playbook

    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INDIGO_RECEPTOR_DIR", str(mesh.base))
    project = _project(tmp_path, [{"name": "Started", "ansible.builtin.debug": {"msg": "up"}},
                                  {"name": "Long task", "ansible.builtin.command": "sleep 120"}])
    lines = []

    def kill_when_long_task_starts():
        deadline = time.monotonic() + 120
        while "  TASK Long task" not in lines and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        killed.extend(mesh.kill_node("exec-b"))

    killed = []
    killer = threading.Thread(target=kill_when_long_task_starts)
    killer.start()
    started = time.monotonic()
    try:
        result = run_playbook(project, "job.yml", deployment="rcpt-kill", action="deploy", execution_node="exec-b",
                              progress=lines.append)
    finally:
        killer.join()
        mesh.start(["exec-b"])  # the node comes back for the next test
    assert time.monotonic() - started < 60 and len(killed) >= 3  # receptor, the worker, ansible-playbook, sleep
    assert not result.ok and result.status == "failed"
    assert result.failed_tasks[-1]["host"] == "exec-b"
    assert "receptor execution node exec-b left the mesh during the job" in result.failed_tasks[-1]["message"]
    with Journal(str(tmp_path / "home" / "journal.sqlite")) as journal:
        runs = journal.store.rows("runs", "run_id = ?", [result.run_id])
        assert [(r["phase"], r["status"]) for r in runs] == [("opened", None), ("started", None), ("closed", "failed")]
        last = journal.store.rows("host_events", "run_id = ?", [result.run_id])[-1]
        assert (last["host"], last["task"], last["status"]) == ("exec-b", "receptor work unit", "failed")
