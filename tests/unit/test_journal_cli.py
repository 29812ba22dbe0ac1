"""`indigo runs`, `indigo runs show|events|verify`, `indigo show DEPLOYMENT` on a journal built via the API."""

import json
import sqlite3

import pytest

from tosca2ansible.cli import cli, runs_cmd
from tosca2ansible.runtime.journal.api import Journal
from tests.helpers import indigo

runs_cmd.register(cli)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path))
    with Journal(str(tmp_path / "journal.sqlite")) as journal:
        journal.record_deployment("demo", "deploying", site="local", template="t: 1\n", inputs={"db_password": "Sekrit99", "n": 2},
                                  owner="alice", group="physics")
        journal.run_opened("run-a1", "demo", "deploy", artifacts="/x/runs/run-a1/artifacts/run")
        store = journal.store
        store.append("runs", run_id="run-a1", deployment="demo", action="deploy", phase="started", source="callback")
        store.append("host_events", run_id="run-a1", deployment="demo", host="demo-vm-0", task="Install", status="changed")
        store.append("host_events", run_id="run-a1", deployment="demo", host="demo-vm-1", task="Install", status="failed",
                     message="apt failed")
        journal.record_attempt("run-a1", "demo", 1, "local", "ok")
        journal.record_resource("run-a1", "demo", "local", "instance", "i-0", "created", name="demo-vm-0")
        journal.record_resource("run-a1", "demo", "local", "instance", "i-1", "created", name="demo-vm-1")
        journal.record_resource("run-b2", "demo", None, "instance", "i-1", "deleted")
        store.append("runs", run_id="run-a1", deployment="demo", action="deploy", phase="finished", rc=2, status="failed",
                     stats_json={"demo-vm-0": {"ok": 3, "changed": 1}, "demo-vm-1": {"ok": 1, "failures": 1}})
        journal.run_closed("run-a1", "demo", "deploy", rc=2, status="failed", artifacts="/x/runs/run-a1/artifacts/run")
        journal.run_opened("run-other", "other", "deploy")
        journal.record_deployment("demo", "deploy-failed")
    (tmp_path / "deployments" / "demo").mkdir(parents=True)
    (tmp_path / "deployments" / "demo" / "outputs.json").write_text(json.dumps({"url": "http://10.0.0.2", "admin_password": "Out123"}))
    return tmp_path


def _run(*args):
    result = indigo(*list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_runs_lists_and_filters_by_deployment(home):
    code, out = _run("runs")
    assert code == 0 and "run-a1" in out and "run-other" in out and "failed" in out
    code, out = _run("runs", "--deployment", "demo", "--json")
    runs = json.loads(out)
    assert [(r["run_id"], r["status"], r["rc"], r["artifacts"]) for r in runs] == [
        ("run-a1", "failed", 2, "/x/runs/run-a1/artifacts/run")]


def test_runs_show_gives_recap_and_failed_tasks(home):
    code, out = _run("runs", "show", "run-a")  # unique prefix
    assert code == 0
    assert "demo-vm-1" in out and "failed=1" in out and "demo-vm-1 | Install | failed: apt failed" in out
    detail = json.loads(_run("runs", "show", "run-a1", "--json")[1])
    assert detail["failed_tasks"][0]["message"] == "apt failed"
    assert detail["recap"]["demo-vm-0"] == {"ok": 3, "changed": 1}
    assert [a["site"] for a in detail["attempts"]] == ["local"]


def test_unknown_or_ambiguous_run_is_a_clear_error(home):
    code, out = _run("runs", "show", "nope")
    assert code == 2 and "no run 'nope'" in out
    code, out = _run("runs", "show", "run-")
    assert code == 2 and "ambiguous" in out


def test_runs_events_one_line_per_host_task(home):
    events = json.loads(_run("runs", "events", "run-a1", "--json")[1])
    assert [(e["host"], e["status"]) for e in events] == [("demo-vm-0", "changed"), ("demo-vm-1", "failed")]
    code, out = _run("runs", "events", "run-a1")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2 and "demo-vm-0" in lines[0] and "changed" in lines[0] and "failed" in lines[1]


def test_show_deployment_status_resources_outputs_history(home):
    code, out = _run("show", "demo")
    assert code == 0 and "deploy-failed" in out and "Sekrit99" not in out and "Out123" not in out
    detail = json.loads(_run("show", "demo", "--json")[1])
    assert detail["status"] == "deploy-failed" and detail["site"] == "local"
    assert (detail["owner"], detail["group"]) == ("alice", "physics")
    assert detail["inputs"] == {"db_password": "********", "n": 2}
    assert [r["resource_id"] for r in detail["resources"]] == ["i-0"]  # i-1 deleted later
    assert detail["outputs"] == {"url": "http://10.0.0.2", "admin_password": "********"}
    assert [h["status"] for h in detail["history"]] == ["deploying", "deploy-failed"]


def test_verify_ok_then_names_the_edited_record(home):
    code, out = _run("runs", "verify")
    assert code == 0 and "hash chain intact" in out
    head = json.loads(_run("runs", "verify", "--json")[1])["head"]
    assert head["seq"] == 13 and len(head["hash"]) == 64 and head["hash"] in out
    conn = sqlite3.connect(str(home / "journal.sqlite"))
    seq = conn.execute("SELECT seq FROM host_events WHERE status = 'failed'").fetchone()[0]
    conn.execute("UPDATE host_events SET status = 'ok', message = NULL WHERE seq = ?", (seq,))
    conn.commit()
    conn.close()
    code, out = _run("runs", "verify")
    assert code == 1 and "first bad record #%d (host_events)" % seq in out
    report = json.loads(_run("runs", "verify", "--json")[1])
    assert report["ok"] is False and report["problems"][0]["seq"] == seq


def test_fresh_home_is_an_empty_journal(tmp_path, monkeypatch):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "empty"))
    assert _run("runs") == (0, "no runs\n")
    assert _run("runs", "--json") == (0, "[]\n")
    code, out = _run("runs", "verify")
    assert code == 0 and "no records yet" in out
    assert json.loads(_run("runs", "verify", "--json")[1])["ok"] is True
    code, out = _run("show", "web-1")
    assert code == 2 and "deployment 'web-1' is not in the journal" in out
    code, out = _run("runs", "show", "abc")
    assert code == 2 and "run 'abc' is not in the journal" in out
    assert not (tmp_path / "empty").exists()  # reading never creates the journal
