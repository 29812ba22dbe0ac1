# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""Data movement with Rucio replication rules: get or create a rule, wait for it with progress, read its
per-file errors, delete it. Through the official ``rucio-clients`` (``Client``), built by
``locators.rucio_client`` from the catalogue's ``data_services.rucio`` and resolved credentials.

A rule's state is Rucio's (``OK``, ``REPLICATING``, ``STUCK``, ``SUSPENDED``, ...). Its per-file view is its
replica locks (``OK``/``REPLICATING``/``STUCK``) and, for locks not OK, the transfer request of that file to
that RSE (state and the transfer tool's error message) when the server still has it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import email.utils
import time

from ansible_collections.indigo.paas.plugins.module_utils.data.base import DataLocationError
from ansible_collections.indigo.paas.plugins.module_utils.data.locators import rucio_message

FINAL_OK = ("OK",)
FAILING = ("STUCK", "SUSPENDED")


class RuleError(DataLocationError):
    """A rule could not be created, read or deleted (message for the user)."""


def _split(did):
    scope, sep, name = did.partition(":")
    if not sep or not scope or not name:
        raise RuleError("not a Rucio DID (scope:name): %r" % did)
    return scope, name


def _call(what, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except DataLocationError:
        raise
    except Exception as exc:  # pylint: disable=broad-except  # RucioException, requests errors
        raise RuleError("Rucio %s: %s" % (what, rucio_message(exc)))


def find_rule(client, did, rse_expression, account=None):
    """The existing rule (a dict) of ``account`` (the client's when not given) for ``did`` to exactly
    ``rse_expression``, or None. A deleted rule is among them until Rucio's judge-cleaner removes it."""
    scope, name = _split(did)
    account = account or client.account
    for rule in _call("list rules of %s" % did, lambda: list(client.list_did_rules(scope, name))):
        if rule.get("rse_expression") == rse_expression and rule.get("account") == account:
            return rule
    return None


SOFT_DELETE = 3600  # Rucio's soft deletion: expires_at = min(now + 1 h, expires_at), then the judge-cleaner


def deleting(rule, now=None):
    """Whether ``rule`` is deleted (or about to expire): ``expires_at`` within Rucio's soft-deletion hour."""
    when = rule.get("expires_at")
    if not when:
        return False
    if not isinstance(when, datetime.datetime):
        try:
            when = email.utils.parsedate_to_datetime(when)
        except (TypeError, ValueError):
            try:
                when = datetime.datetime.fromisoformat(str(when).replace("Z", "+00:00"))
            except ValueError:
                return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return when <= now + datetime.timedelta(seconds=SOFT_DELETE + 60)


def ensure_rule(client, did, rse_expression, copies=1, lifetime=None, comment=None, activity=None,
                source_replica_expression=None):
    """Get or create the rule; returns ``(rule_id, created)``. Rucio refuses a second rule of the same
    account on the same DID and RSE expression (``DuplicateRule``): an existing one is reused, and one being
    deleted is given back its lifetime (``created`` is then True: this caller owns it again)."""
    existing = find_rule(client, did, rse_expression)
    if existing and not deleting(existing):
        return existing["id"], False
    if existing:
        _call("revive rule %s" % existing["id"], client.update_replication_rule, existing["id"],
              {"lifetime": lifetime})
        return existing["id"], True
    scope, name = _split(did)
    kwargs = {"dids": [{"scope": scope, "name": name}], "copies": copies, "rse_expression": rse_expression,
              "lifetime": lifetime, "comment": comment, "source_replica_expression": source_replica_expression}
    if activity:
        kwargs["activity"] = activity
    ids = _call("create a rule for %s to %s" % (did, rse_expression), client.add_replication_rule, **kwargs)
    return ids[0], True


def file_errors(client, rule, limit=50):
    """Per-file view of a rule's locks not OK: ``[{"did", "rse", "lock", "request", "error"}]``."""
    out = []
    locks = _call("list the locks of rule %s" % rule["id"], lambda: list(client.list_replica_locks(rule["id"])))
    for lock in locks:
        if lock.get("state") == "OK":
            continue
        entry = {"did": "%s:%s" % (lock["scope"], lock["name"]), "rse": lock.get("rse"),
                 "lock": lock.get("state"), "request": None, "error": None}
        try:
            request = client.list_request_by_did(lock["name"], lock.get("rse"), lock["scope"])
        except Exception:  # pylint: disable=broad-except  # RequestNotFound: not queued yet, or gone to history
            request = None
        if request and not isinstance(request, dict):
            request = next(iter(request), None)
        if isinstance(request, dict):
            entry["request"] = request.get("state")
            entry["error"] = request.get("err_msg") or None
        if not entry["error"]:
            entry["error"] = _history_error(client, lock)
        out.append(entry)
        if len(out) >= limit:
            break
    return out


def _history_error(client, lock):
    lister = getattr(client, "list_request_history_by_did", None)
    if lister is None:
        return None
    try:
        history = lister(lock["name"], lock.get("rse"), lock["scope"])
        history = [history] if isinstance(history, dict) else list(history or [])
    except Exception:  # pylint: disable=broad-except  # no history: nothing to add
        return None
    for request in reversed(history):
        if isinstance(request, dict) and request.get("err_msg"):
            return request["err_msg"]
    return None


def progress(client, rule_id, with_files=True):
    """A rule's state: ``{"id", "state", "ok", "replicating", "stuck", "total", "error", "files"}``."""
    rule = _call("read rule %s" % rule_id, client.get_replication_rule, rule_id)
    ok, rep, stuck = (int(rule.get(k) or 0) for k in ("locks_ok_cnt", "locks_replicating_cnt", "locks_stuck_cnt"))
    state = rule.get("state")
    out = {"id": rule_id, "did": "%s:%s" % (rule.get("scope"), rule.get("name")),
           "rse_expression": rule.get("rse_expression"), "state": state, "ok": ok, "replicating": rep,
           "stuck": stuck, "total": ok + rep + stuck, "error": rule.get("error"), "files": []}
    if with_files and state not in FINAL_OK:
        out["files"] = file_errors(client, rule)
    return out


def wait(client, rule_id, timeout, interval=2.0, on_progress=None, clock=time.monotonic, sleep=time.sleep):
    """Poll the rule until it is OK or ``timeout`` seconds pass; ``on_progress(p)`` is called whenever the
    counts change. Returns ``(done, p)``: done is False on timeout (``p`` then holds the last state with the
    per-file errors). A STUCK rule is waited on too: Rucio retries its transfers (judge-repairer)."""
    deadline = clock() + timeout
    last = None
    while True:
        current = progress(client, rule_id, with_files=False)
        key = (current["state"], current["ok"], current["replicating"], current["stuck"])
        if key != last and on_progress is not None:
            on_progress(current)
        last = key
        if current["state"] in FINAL_OK:
            return True, current
        if clock() >= deadline:
            return False, progress(client, rule_id, with_files=True)
        sleep(max(0.05, min(interval, deadline - clock())))


def delete(client, rule_id):
    """Delete the rule: Rucio's soft deletion (the rule expires within the hour, its judge-cleaner then
    removes it and the replicas it alone protected). A rule Rucio does not know is not an error: False."""
    try:
        client.delete_replication_rule(rule_id)
        return True
    except Exception as exc:  # pylint: disable=broad-except
        if exc.__class__.__name__ == "RuleNotFound":
            return False
        raise RuleError("Rucio delete rule %s: %s" % (rule_id, rucio_message(exc)))


def summary(p):
    """One line for a journal or a progress display."""
    line = "rule %s %s: %d/%d files OK" % (p["id"], p["state"], p["ok"], p["total"])
    if p.get("stuck"):
        line += ", %d stuck" % p["stuck"]
    if p.get("error"):
        line += " (%s)" % p["error"]
    return line
