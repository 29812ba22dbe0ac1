"""indigo.paas.instance / instance_info / deployment_teardown on an OpenNebula site: real
ansible-playbook runs against the OpenNebula XML-RPC emulator process (pyone unmodified); every
outcome is checked on the emulator's state."""

import functools
import os
import sys

import pytest
import yaml

import test_ec2_support as support
from test_ec2_support import run_playbook, teardown_tasks
from tests.helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "tests", "emulators", "opennebula"))

from control import OpenNebulaEmulator  # noqa: E402

pytestmark = pytest.mark.emulator
SITE = "one-test"


@pytest.fixture(scope="module")
def emulator():
    with OpenNebulaEmulator(step_delay=0.02) as emu:
        yield emu


@pytest.fixture
def env(tmp_path, emulator, monkeypatch):
    emulator.reset_faults()
    emulator.configure(VMS=-2)
    site = {
        "name": SITE, "kind": "opennebula", "endpoint": emulator.endpoint,
        "credentials": {"env": {"username": "ONE_TEST_USER", "password": "ONE_TEST_PASSWORD"}},
        "images": [{"name": "debian-13", "distribution": "debian", "version": "13"}],
        "flavors": [{"name": "small", "num_cpus": 1, "mem_mb": 1024}],
        "network": {"private": "private", "public": "public"},
    }
    (tmp_path / "sites.yml").write_text(yaml.safe_dump({"sites": [site]}))
    monkeypatch.setenv("ONE_TEST_USER", "indigo")
    monkeypatch.setenv("ONE_TEST_PASSWORD", "secret")
    return dict(os.environ, INDIGO_SITES=str(tmp_path / "sites.yml"))


instance_task = functools.partial(support.instance_task, site=SITE, os_version="13", mem_size="2 GB")


def owned(emu, deployment):
    """(live VMs by index, security groups) the emulator holds for ``deployment``."""
    state = emu.state()
    vms = [vm for vm in state["vms"] if vm["user_template"].get("INDIGO_DEPLOYMENT") == deployment]
    by_index = {int(vm["user_template"]["INDIGO_INDEX"]): vm for vm in vms}
    assert len(by_index) == len(vms), "two VMs share an index: %s" % [vm["name"] for vm in vms]
    groups = [sg["name"] for sg in state["secgroups"] if sg["template"].get("INDIGO_DEPLOYMENT") == deployment]
    return by_index, groups


def test_exact_count_lifecycle(tmp_path, env, emulator):
    dep = "life"
    before = emulator.state()["calls"].get("one.vm.allocate", 0)
    dry, first, rerun, up, down, info = run_playbook(tmp_path, [
        dict(instance_task(dep, 5), check_mode=True),
        instance_task(dep, 5, ssh_public_key="ssh-ed25519 AAAAtest op@x"),
        instance_task(dep, 5), instance_task(dep, 8), instance_task(dep, 3),
        {"indigo.paas.instance_info": {"deployment": dep, "site": SITE, "resources": True}},
    ], env, name="lifecycle")
    assert dry["changed"] is True and dry["created"] == ["life-wn-%d" % n for n in range(5)]
    assert first.get("failed") is not True, first
    assert first["changed"] and len(first["created"]) == 5
    assert [i["name"] for i in first["instances"]] == ["life-wn-%d" % n for n in range(5)]
    assert rerun["changed"] is False and rerun["created"] == [] and len(rerun["instances"]) == 5
    assert {i["id"] for i in rerun["instances"]} == {i["id"] for i in first["instances"]}
    assert up["changed"] and len(up["created"]) == 3 and [i["index"] for i in up["instances"]] == list(range(8))
    # check mode and the re-run allocated nothing: 5 + 3 allocations in all
    assert emulator.state()["calls"]["one.vm.allocate"] == before + 8
    assert down["changed"] and len(down["deleted"]) == 5 and [i["index"] for i in down["instances"]] == [0, 1, 2]
    assert set(down["deleted"]) == {i["id"] for i in up["instances"] if i["index"] >= 3}
    assert [i["name"] for i in info["instances"]] == ["life-wn-0", "life-wn-1", "life-wn-2"]
    assert [r["kind"] for r in info["resources"]] == ["security_group"]
    vms, groups = owned(emulator, dep)
    assert sorted(vms) == [0, 1, 2] and groups == ["life-wn"]
    assert {vm["memory"] for vm in vms.values()} == {"2048"}
    assert vms[0]["context"]["SSH_PUBLIC_KEY"] == "ssh-ed25519 AAAAtest op@x"

    check, teardown, again = run_playbook(tmp_path, teardown_tasks(dep, SITE), env, name="teardown")
    assert check["changed"] and len([d for d in check["deleted"] if d["kind"] == "instance"]) == 3
    assert teardown["changed"] and sorted({d["kind"] for d in teardown["deleted"]}) == ["instance", "security_group"]
    assert again["changed"] is False and again["deleted"] == []
    assert owned(emulator, dep) == ({}, [])


def test_failures_are_classified_and_leave_nothing(tmp_path, env, emulator):
    # the user may run two more VMs: two of the five allocations succeed, the rest hit oned's quota
    emulator.configure(VMS=len(emulator.state()["vms"]) + 2)
    before = emulator.state()["calls"].get("one.vm.allocate", 0)
    auth, quota = run_playbook(tmp_path, [
        instance_task("auth", 1, credentials={"username": "indigo", "password": "wrong-secret"}),
        instance_task("quota", 5),
    ], env, name="failures")
    assert auth["failed"] is True and auth["error_class"] == "auth"
    assert "wrong-secret" not in auth["msg"]  # the secret never shows up
    assert quota["failed"] is True and quota["error_class"] == "quota"
    assert "reached for VMS quota" in quota["msg"]
    assert emulator.state()["calls"]["one.vm.allocate"] - before >= 3  # two accepted, then refusals
    assert owned(emulator, "quota") == ({}, []) and owned(emulator, "auth") == ({}, [])


def test_transient_errors_are_retried(tmp_path, env, emulator):
    emulator.fault("http_503", count=3, method="one.vm.allocate")
    emulator.fault("reset", count=1, method="one.vmpool.infoextended")
    result, info = run_playbook(tmp_path, [
        instance_task("flaky", 2),
        {"indigo.paas.instance_info": {"deployment": "flaky", "site": SITE}},
    ], env, name="flaky")
    assert result.get("failed") is not True, result
    assert len(result["created"]) == 2 and emulator.state()["faults"] == []
    assert sorted(owned(emulator, "flaky")[0]) == [0, 1] and len(info["instances"]) == 2
    assert info["instances"][0]["private_ips"][0].startswith("10.10.")
