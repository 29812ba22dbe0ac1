"""module_utils/data/rules.py: the pure parts (expiry of deleted rules, waiting with progress and a timeout,
the per-file view) against an in-memory stand-in of the rucio-clients calls it makes. The same code runs
against a real Rucio server in tests/integration/test_rucio_real.py (slow)."""

import datetime

import pytest

from ansible_collections.indigo.paas.plugins.module_utils.data import rules


class RuleNotFound(Exception):
    pass


class FakeClient:
    account = "jdoe"

    def __init__(self, states):
        self.states = list(states)  # successive (state, ok, replicating, stuck)
        self.rules = []
        self.deleted = []
        self.updated = []

    def list_did_rules(self, scope, name):
        return iter(self.rules)

    def add_replication_rule(self, dids, copies, rse_expression, **kwargs):
        self.rules.append({"id": "r1", "account": self.account, "rse_expression": rse_expression,
                           "expires_at": None})
        return ["r1"]

    def get_replication_rule(self, rule_id):
        state, ok, rep, stuck = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"id": rule_id, "scope": "user.jdoe", "name": "inputs", "rse_expression": "B", "state": state,
                "locks_ok_cnt": ok, "locks_replicating_cnt": rep, "locks_stuck_cnt": stuck,
                "error": "[1/2 locks stuck]" if stuck else None}

    def list_replica_locks(self, rule_id):
        return iter([{"scope": "user.jdoe", "name": "f1", "rse": "B", "state": "OK"},
                     {"scope": "user.jdoe", "name": "f2", "rse": "B", "state": "STUCK"}])

    def list_request_by_did(self, name, rse, scope):
        return {"state": "FAILED", "err_msg": "RequestErrMsg.TRANSFER_FAILED:SOURCE [404] HTTP 404 on GET"}

    def update_replication_rule(self, rule_id, options):
        self.updated.append((rule_id, options))

    def delete_replication_rule(self, rule_id):
        if rule_id != "r1":
            raise RuleNotFound(rule_id)
        self.deleted.append(rule_id)


def test_get_or_create_reuses_a_live_rule_and_revives_a_deleted_one():
    client = FakeClient([("OK", 1, 0, 0)])
    assert rules.ensure_rule(client, "user.jdoe:inputs", "B") == ("r1", True)
    assert rules.ensure_rule(client, "user.jdoe:inputs", "B") == ("r1", False)
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=59)
    client.rules[0]["expires_at"] = soon.strftime("%a, %d %b %Y %H:%M:%S UTC")  # as the server renders it
    assert rules.deleting(rules.find_rule(client, "user.jdoe:inputs", "B"))
    assert rules.ensure_rule(client, "user.jdoe:inputs", "B") == ("r1", True)
    assert client.updated == [("r1", {"lifetime": None})]
    with pytest.raises(rules.RuleError, match="not a Rucio DID"):
        rules.ensure_rule(client, "inputs", "B")


def test_deleting_reads_rfc1123_iso_and_datetimes():
    now = datetime.datetime(2026, 12, 2, 13, 0, tzinfo=datetime.timezone.utc)
    assert rules.deleting({"expires_at": "Wed, 02 Dec 2026 13:59:00 UTC"}, now)
    assert not rules.deleting({"expires_at": "2026-12-03T14:00:00"}, now)
    assert rules.deleting({"expires_at": datetime.datetime(2026, 12, 1)}, now)
    assert not rules.deleting({"expires_at": None}, now)


def test_wait_reports_each_change_and_ends_ok():
    client = FakeClient([("REPLICATING", 0, 2, 0), ("REPLICATING", 0, 2, 0), ("REPLICATING", 1, 1, 0),
                         ("OK", 2, 0, 0)])
    seen, now = [], [0.0]
    done, last = rules.wait(client, "r1", timeout=100, interval=1, on_progress=seen.append,
                            clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert done and last["state"] == "OK" and last["files"] == []
    assert [(p["state"], p["ok"]) for p in seen] == [("REPLICATING", 0), ("REPLICATING", 1), ("OK", 2)]


def test_wait_times_out_with_the_per_file_errors():
    client = FakeClient([("STUCK", 1, 0, 1)])
    now = [0.0]
    done, last = rules.wait(client, "r1", timeout=10, interval=3, clock=lambda: now[0],
                            sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert not done and now[0] >= 10
    assert last["files"] == [{"did": "user.jdoe:f2", "rse": "B", "lock": "STUCK", "request": "FAILED",
                              "error": "RequestErrMsg.TRANSFER_FAILED:SOURCE [404] HTTP 404 on GET"}]
    assert rules.summary(last) == "rule r1 STUCK: 1/2 files OK, 1 stuck ([1/2 locks stuck])"


def test_delete_of_an_unknown_rule_is_not_an_error():
    client = FakeClient([("OK", 1, 0, 0)])
    assert rules.delete(client, "r1") is True and client.deleted == ["r1"]
    assert rules.delete(client, "nope") is False
