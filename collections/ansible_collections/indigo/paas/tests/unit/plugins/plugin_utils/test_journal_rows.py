# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""plugin_utils/journal/rows: the rows of one task result, as the callback and a remote run's control side
record them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.indigo.paas.plugins.plugin_utils.journal import redact, rows


def test_instances_created_and_resources_deleted_are_rows():
    redactor = redact.Redactor(["s3cr3t"])
    res = {"site": "cloud-a", "created": ["i-1"],
           "instances": [{"id": "i-1", "name": "d-wn-0", "node": "wn", "index": 0, "private_ips": ["10.0.0.5"],
                          "status": "s3cr3t-active"}],
           "created_resources": [{"kind": "network", "id": "n-1", "name": "d-net"}],
           "deleted_resources": [{"kind": "keypair", "id": "k-1", "name": "d-key", "site": "cloud-b"}]}
    got = rows.resource_rows(res, "indigo.paas.instance", {}, "d", redactor)
    assert [row[:4] for row in got] == [("created", "cloud-a", "instance", "i-1"),
                                        ("created", "cloud-a", "network", "n-1"),
                                        ("deleted", "cloud-b", "keypair", "k-1")]
    assert got[0][4]["deployment"] == "d" and "s3cr3t" not in str(got[0][4]["detail_json"])


def test_a_loop_of_async_results_and_bare_ids():
    res = {"results": [{"site": "s", "created": ["i-2"]}, {"_ansible_no_log": True, "created": ["hidden"]}],
           "deleted": ["i-3"]}
    got = rows.resource_rows(res, "ansible.builtin.async_status", {"site": "s"}, "d", redact.Redactor([]))
    assert [row[:4] for row in got] == [("created", "s", "instance", "i-2"), ("deleted", "s", "resource", "i-3")]


def test_messages_status_and_no_log():
    redactor = redact.Redactor(["hunter2-long-secret"])
    res = {"msg": "One or more items failed", "results": [{"failed": True, "msg": "bad hunter2-long-secret here"}]}
    message = rows.result_message(res, redactor)
    assert message.startswith("One or more items failed: bad ") and "hunter2-long-secret" not in message
    assert rows.is_no_log({"censored": "x"}) and rows.is_no_log({}, task_no_log=True) and not rows.is_no_log({})
    assert rows.finished_row({"h": {"failures": 0, "unreachable": 1}}) == (4, "failed")
    assert rows.finished_row({"h": {"failures": 1, "unreachable": 0}}) == (2, "failed")
    assert rows.finished_row({"h": {"failures": 0, "unreachable": 0}}) == (0, "successful")
    assert rows.deployment_status("deploy", 0) == "deployed" and rows.deployment_status("undeploy", 2) == "undeploy-failed"
    assert rows.deployment_status("check", 0) is None
