# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""plugin_utils/journal: the hash chain the callback writes and the redaction it applies."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sqlite3

from ansible_collections.indigo.paas.plugins.plugin_utils.journal import redact, store


def test_rows_are_chained_and_verified(tmp_path):
    path = str(tmp_path / "journal.sqlite")
    journal = store.JournalStore(path)
    journal.append("runs", run_id="r1", deployment="d1", action="deploy", phase="started", source="test")
    journal.append("runs", run_id="r1", deployment="d1", action="deploy", phase="finished", rc=0, status="successful",
                   source="test")
    assert [r["phase"] for r in journal.rows("runs")] == ["started", "finished"]
    assert journal.verify()["ok"]
    journal.close()


def test_a_changed_row_breaks_the_chain(tmp_path):
    path = str(tmp_path / "journal.sqlite")
    journal = store.JournalStore(path)
    journal.append("runs", run_id="r1", deployment="d1", action="deploy", phase="started", source="test")
    journal.append("runs", run_id="r1", deployment="d1", action="deploy", phase="finished", rc=0, source="test")
    journal.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET rc = 2 WHERE phase = 'finished'")
    journal = store.JournalStore(path)
    assert not journal.verify()["ok"]
    journal.close()


def test_redactor_masks_secret_names_and_values():
    redactor = redact.Redactor(["hunter2-long-secret"])
    assert redactor.text("login with hunter2-long-secret failed") == "login with %s failed" % redact.MASK
    assert redactor.data({"db_password": "x-y-z", "note": ["hunter2-long-secret"]}) == {
        "db_password": redact.MASK, "note": [redact.MASK]}
