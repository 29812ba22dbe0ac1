"""indigo.paas.instance / instance_info / deployment_teardown on an OpenStack site: real
ansible-playbook runs against the OpenStack emulator process (openstacksdk unmodified); every outcome
is checked on the emulator's state."""

import functools
import os

import pytest
import yaml

import test_ec2_support as support
from test_ec2_support import run_playbook
from tests.fixtures.openstack import PASSWORD_AUTH, emulator_fixture, openstack_site

pytestmark = pytest.mark.emulator
SITE = "os-test"


emulator = emulator_fixture(0.2, scope="module")


@pytest.fixture
def env(tmp_path, emulator):
    emulator.clear_faults()
    emulator.configure(quotas={"instances": 20, "cores": 40, "ram": 81920})
    site = openstack_site(SITE, emulator, tmp_path, version="12", poll_interval=0.05, verify_tls=True)
    (tmp_path / "sites.yml").write_text(yaml.safe_dump({"sites": [site]}))
    yield dict(os.environ, INDIGO_SITES=str(tmp_path / "sites.yml"))
    assert emulator.leftovers() == {}, "a test left resources behind"


instance_task = functools.partial(support.instance_task, site=SITE, os_version="12", mem_size="2 GB")


def servers_of(emu, deployment):
    return sorted(int(s["metadata"]["indigo_index"]) for s in emu.state()["servers"]
                  if s["metadata"].get("indigo_deployment") == deployment)


def creates(emu):
    return emu.state()["request_counts"].get("POST /compute/v2.1/servers", 0)


def test_exact_count_lifecycle(tmp_path, env, emulator):
    dep = "life"
    before = creates(emulator)
    dry, first = run_playbook(tmp_path, [
        dict(instance_task(dep, 5), check_mode=True),
        instance_task(dep, 5, ssh_public_key="ssh-ed25519 AAAAtest op@x"),
    ], env, name="create")
    assert dry["changed"] is True and dry["created"] == ["life-wn-%d" % n for n in range(5)], dry
    assert first.get("failed") is not True, first
    assert first["changed"] and len(first["created"]) == 5
    assert creates(emulator) == before + 5  # check mode created nothing
    assert [i["name"] for i in first["instances"]] == ["life-wn-%d" % n for n in range(5)]
    assert servers_of(emulator, dep) == [0, 1, 2, 3, 4]
    server = emulator.state()["servers"][0]
    assert server["flavor"]["original_name"] == "m1.small" and server["key_name"] == "indigo-life"

    rerun, up, down, info = run_playbook(tmp_path, [
        instance_task(dep, 5), instance_task(dep, 8), instance_task(dep, 3),
        {"indigo.paas.instance_info": {"deployment": dep, "site": SITE}},
    ], env, name="scale")
    assert rerun["changed"] is False and rerun["created"] == [] and len(rerun["instances"]) == 5
    assert up["changed"] and len(up["created"]) == 3 and [i["index"] for i in up["instances"]] == list(range(8))
    assert creates(emulator) == before + 8
    assert down["changed"] and len(down["deleted"]) == 5 and [i["index"] for i in down["instances"]] == [0, 1, 2]
    assert set(down["deleted"]) == {i["id"] for i in up["instances"] if i["index"] >= 3}
    assert servers_of(emulator, dep) == [0, 1, 2]
    assert [i["name"] for i in info["instances"]] == ["life-wn-0", "life-wn-1", "life-wn-2"]

    teardown, again = run_playbook(tmp_path, [
        {"indigo.paas.deployment_teardown": {"deployment": dep, "site": SITE}},
        {"indigo.paas.deployment_teardown": {"deployment": dep, "site": SITE}},
    ], env, name="teardown")
    assert teardown["changed"]
    assert sorted({d["kind"] for d in teardown["deleted"]}) == [
        "instance", "keypair", "network", "router", "security_group", "subnet"]
    assert again["changed"] is False and again["deleted"] == []


def test_failures_are_classified_and_leave_nothing(tmp_path, env, emulator):
    emulator.configure(quotas={"instances": len(emulator.state()["servers"]) + 2})
    auth, quota = run_playbook(tmp_path, [
        instance_task("auth", 1, credentials=dict(PASSWORD_AUTH, password="wrong-secret")),
        instance_task("quota", 5),
    ], env, name="failures")
    assert auth["failed"] is True and auth["error_class"] == "auth", auth
    assert "wrong-secret" not in str(auth)
    assert quota["failed"] is True and quota["error_class"] == "quota", quota
    assert "Quota exceeded for instances" in quota["msg"]
    assert servers_of(emulator, "quota") == [] and servers_of(emulator, "auth") == []


def test_transient_errors_are_retried(tmp_path, env, emulator):
    emulator.inject({"kind": "error", "status": 503, "method": "POST", "path": "/servers$", "count": 3},
                    {"kind": "error", "status": 504, "method": "GET", "path": "/servers/detail$", "count": 1})
    result, info, teardown = run_playbook(tmp_path, [
        instance_task("flaky", 2),
        {"indigo.paas.instance_info": {"deployment": "flaky", "site": SITE}},
        {"indigo.paas.deployment_teardown": {"deployment": "flaky", "site": SITE}},
    ], env, name="flaky")
    assert result.get("failed") is not True, result
    assert len(result["created"]) == 2 and all(f["count"] == 0 for f in emulator.state()["faults"])
    assert len(info["instances"]) == 2 and info["instances"][0]["private_ips"][0].startswith("10.10.0.")
    assert teardown["changed"] and servers_of(emulator, "flaky") == []
