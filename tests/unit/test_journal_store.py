"""Hash chain, tamper detection and concurrent writers of the journal store."""

import sqlite3
import os
import subprocess
import time
import sys
import textwrap

import pytest

from tosca2ansible.runtime.journal.store import JournalError, JournalStore, default_path


@pytest.fixture
def store(tmp_path):
    journal = JournalStore(str(tmp_path / "journal.sqlite"))
    journal.append("deployments", deployment="demo", status="deploying", site="local", owner="alice")
    journal.append("runs", run_id="r1", deployment="demo", action="deploy", phase="started", source="test")
    journal.append_many([
        ("host_events", dict(run_id="r1", deployment="demo", host="h1", task="t1", status="ok")),
        ("host_events", dict(run_id="r1", deployment="demo", host="h1", task="t2", status="failed", message="boom")),
        ("resources", dict(run_id="r1", deployment="demo", site="local", kind="instance", resource_id="i-1", change="created")),
    ])
    journal.append("runs", run_id="r1", deployment="demo", action="deploy", phase="finished", rc=2, status="failed",
                   stats_json={"h1": {"ok": 1, "failures": 1}})
    yield journal
    journal.close()


def _raw(store, sql, *params):
    conn = sqlite3.connect(store.path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_intact_chain_verifies_and_links_every_record(store):
    report = store.verify()
    assert report == {"ok": True, "records": 6, "problems": []}
    rows = sorted((r for t in ("deployments", "runs", "host_events", "resources") for r in store.rows(t)), key=lambda r: r["seq"])
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in zip(rows, rows[1:]))
    assert store.rows("runs")[1]["stats"] == {"h1": {"ok": 1, "failures": 1}}
    assert store.rows("deployments")[0]["group"] is None  # "grp" column shown as "group"


def test_edited_record_is_named(store):
    _raw(store, "UPDATE host_events SET message = 'all fine' WHERE seq = 4")
    report = store.verify()
    assert not report["ok"]
    assert report["problems"][0] == {"seq": 4, "table": "host_events", "problem": "content edited (hash mismatch)"}


def test_edit_with_recomputed_own_hash_breaks_the_next_link(store):
    from tosca2ansible.runtime.journal.store import record_hash

    row = store.rows("host_events", "seq = 4")[0]
    values = {"run_id": "r1", "deployment": "demo", "host": "h1", "play": None, "task": "t2", "action": None,
              "status": "ok", "message": None}
    forged = record_hash("host_events", 4, row["ts"], row["prev_hash"], values)
    _raw(store, "UPDATE host_events SET status='ok', message=NULL, hash=? WHERE seq = 4", forged)
    problems = store.verify()["problems"]
    assert problems[0]["seq"] == 5 and problems[0]["table"] == "resources" and "link broken" in problems[0]["problem"]


def test_removed_record_is_named_as_a_gap(store):
    _raw(store, "DELETE FROM runs WHERE seq = 2")
    report = store.verify()
    assert not report["ok"]
    assert report["problems"][0]["seq"] == 2
    assert "record(s) 2..2 removed" in report["problems"][0]["problem"]


def test_removed_newest_record_is_detected_by_the_head(store):
    _raw(store, "DELETE FROM runs WHERE seq = 6")
    report = store.verify()
    assert not report["ok"]
    assert report["problems"] == [{"seq": 6, "table": None, "problem":
                                   "chain head says last record is #6 but the last present is #5 (newest record(s) removed)"}]


def test_unknown_table_or_column_is_a_clear_error(store):
    with pytest.raises(JournalError, match="no column"):
        store.append("runs", run_id="x", colour="red")
    with pytest.raises(JournalError, match="unknown journal table"):
        store.append("nope", run_id="x")


def test_journal_file_is_wal_and_private(store):
    import os
    import stat

    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600


WRITER = textwrap.dedent("""
    import sys
    from tosca2ansible.runtime.journal.store import JournalStore
    import os, time
    path, name, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = JournalStore(path)
    open(path + "." + name + ".ready", "w").close()
    while not os.path.exists(path + ".go"):  # start together, whatever each interpreter's start-up took
        time.sleep(0.01)
    for i in range(runs):
        run = "%s-%d" % (name, i)
        store.append("runs", run_id=run, deployment=name, action="deploy", phase="started")
        store.append_many([("host_events", dict(run_id=run, deployment=name, host="h%d" % h, task="t", status="ok"))
                           for h in range(4)])
        store.append("runs", run_id=run, deployment=name, action="deploy", phase="finished", rc=0, status="successful")
        time.sleep(0.002)  # real runs come spread over time; without a pause one writer may hold the lock throughout
    """)


def test_two_processes_writing_at_once_keep_one_consistent_chain(tmp_path):
    path = str(tmp_path / "journal.sqlite")
    JournalStore(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, path, name, "150"]) for name in ("alpha", "beta")]
    deadline = time.monotonic() + 60
    while not all(os.path.exists(path + "." + n + ".ready") for n in ("alpha", "beta")) and time.monotonic() < deadline:
        time.sleep(0.01)
    open(path + ".go", "w").close()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = JournalStore(path)
    report = store.verify()
    assert report["ok"], report["problems"][:3]
    assert report["records"] == 2 * 150 * 6
    for name in ("alpha", "beta"):
        runs = store.rows("runs", "deployment = ?", [name])
        assert [r["run_id"] for r in runs if r["phase"] == "finished"] == ["%s-%d" % (name, i) for i in range(150)]
        assert len(store.rows("host_events", "deployment = ?", [name])) == 600
    spans = {name: [r["seq"] for t in ("runs", "host_events") for r in store.rows(t, "deployment = ?", [name])]
             for name in ("alpha", "beta")}
    # the writers really interleaved (otherwise this test would not test concurrency)
    assert min(spans["beta"]) < max(spans["alpha"]) and min(spans["alpha"]) < max(spans["beta"])
    seqs = sorted(r["seq"] for t in ("runs", "host_events") for r in store.rows(t))
    assert seqs == list(range(1, 1801))
    store.close()


def test_default_home_is_dot_indigo(monkeypatch, tmp_path):
    from tosca2ansible.runtime.state import indigo_home

    monkeypatch.delenv("INDIGO_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_path() == str(tmp_path / ".indigo" / "journal.sqlite")
    assert indigo_home() == tmp_path / ".indigo"
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "elsewhere"))
    assert default_path() == str(tmp_path / "elsewhere" / "journal.sqlite")
