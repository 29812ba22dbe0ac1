"""The OpenNebula emulator speaks oned's XML-RPC protocol: pyone, unmodified, drives every method the
provider needs and parses every answer with its generated bindings."""

import os
import sys
import time

import pyone
import pytest
from tests.helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "tests", "emulators", "opennebula"))

from control import OpenNebulaEmulator  # noqa: E402

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def emu():
    with OpenNebulaEmulator(step_delay=0.05) as emulator:
        yield emulator


@pytest.fixture
def one(emu):
    emu.reset_faults()
    return pyone.OneServer(emu.endpoint, session="indigo:secret")


def wait_state(one, vm_id, state, lcm, timeout=3.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        vm = one.vm.info(vm_id)
        seen.append((vm.STATE, vm.LCM_STATE))
        if (vm.STATE, vm.LCM_STATE) == (state, lcm):
            return seen
        time.sleep(0.01)
    raise AssertionError("VM %s never reached %s/%s: %s" % (vm_id, state, lcm, seen[-5:]))


def test_catalogue_queries(one):
    assert one.system.version() == "7.0.0"
    assert one.system.config().DEFAULT_DEVICE_PREFIX == ["vd"]
    assert [i.NAME for i in one.imagepool.info(-2, -1, -1).IMAGE][:2] == ["debian-13", "ubuntu-24.04"]
    assert one.image.info(1).NAME == "ubuntu-24.04"
    assert [n.NAME for n in one.vnpool.info(-2, -1, -1).VNET] == ["private", "public"]
    assert one.vn.info(1).BRIDGE == "br1"
    template = one.templatepool.info(-2, -1, -1).VMTEMPLATE[0]
    assert template.NAME == "debian-13-small" and one.template.info(template.ID).TEMPLATE["MEMORY"] == "1024"
    with pytest.raises(pyone.OneNoExistsException, match=r"\[one.image.info\] Error getting image \[99\]"):
        one.image.info(99)


def test_vm_lifecycle_states_and_user_template(one):
    vm_id = one.vm.allocate('NAME = "emu-0"\nCPU = 1\nMEMORY = 512\nDISK = [ IMAGE = "debian-13" ]\n'
                            'NIC = [ NETWORK = "private" ]\nINDIGO_DEPLOYMENT = "emu"\n', False)
    vm = one.vm.info(vm_id)
    assert (vm.NAME, vm.STATE, vm.LCM_STATE) == ("emu-0", pyone.VM_STATE.PENDING, pyone.LCM_STATE.LCM_INIT)
    assert vm.USER_TEMPLATE == {"INDIGO_DEPLOYMENT": "emu"} and "INDIGO_DEPLOYMENT" not in vm.TEMPLATE
    seen = wait_state(one, vm_id, pyone.VM_STATE.ACTIVE, pyone.LCM_STATE.RUNNING)
    assert (pyone.VM_STATE.ACTIVE, pyone.LCM_STATE.PROLOG) in seen or len(seen) == 1
    assert one.vm.info(vm_id).TEMPLATE["NIC"]["IP"].startswith("10.10.")

    one.vm.update(vm_id, {"TEMPLATE": {"LABELS": "indigo/emu"}}, 1)  # merge
    assert one.vm.info(vm_id).USER_TEMPLATE == {"INDIGO_DEPLOYMENT": "emu", "LABELS": "indigo/emu"}
    one.vm.update(vm_id, {"TEMPLATE": {"INDIGO_DEPLOYMENT": "emu", "NOTE": "x"}}, 0)  # replace
    assert one.vm.info(vm_id).USER_TEMPLATE == {"INDIGO_DEPLOYMENT": "emu", "NOTE": "x"}

    one.vm.action("poweroff", vm_id)
    wait_state(one, vm_id, pyone.VM_STATE.POWEROFF, pyone.LCM_STATE.LCM_INIT)
    with pytest.raises(pyone.OneActionException, match="not available for state POWEROFF"):
        one.vm.action("poweroff", vm_id)
    one.vm.action("resume", vm_id)
    wait_state(one, vm_id, pyone.VM_STATE.ACTIVE, pyone.LCM_STATE.RUNNING)
    one.vm.action("terminate-hard", vm_id)
    assert one.vm.info(vm_id).LCM_STATE == pyone.LCM_STATE.CANCEL
    wait_state(one, vm_id, pyone.VM_STATE.DONE, pyone.LCM_STATE.LCM_INIT)


def test_vmpool_filters(one):
    ids = [one.template.instantiate(0, "pool-%d" % n, n == 2, {"TEMPLATE": {"TIER": "t%d" % (n % 2)}}, False)
           for n in range(3)]
    mine = [vm.ID for vm in one.vmpool.info(-3, -1, -1, -1).VM]
    assert set(ids) <= set(mine)
    held = one.vmpool.info(-3, -1, -1, pyone.VM_STATE.HOLD).VM
    assert [vm.NAME for vm in held] == ["pool-2"]
    tier0 = one.vmpool.infoextended(-3, -1, -1, -1, "TIER=t0").VM
    assert sorted(vm.NAME for vm in tier0) == ["pool-0", "pool-2"]
    assert [vm.ID for vm in one.vmpool.info(-3, ids[1], ids[1], -1).VM] == [ids[1]]
    assert len(one.vmpool.info(-3, 0, -2, -1).VM) == 2  # pagination: offset 0, page size 2
    for vm_id in ids:
        one.vm.action("terminate-hard", vm_id)
    time.sleep(0.2)
    assert not set(ids) & {vm.ID for vm in getattr(one.vmpool.info(-3, -1, -1, -1), "VM", [])}
    assert set(ids) <= {vm.ID for vm in one.vmpool.info(-3, -1, -1, -2).VM}  # -2: DONE ones too


def test_security_groups(one):
    sg_id = one.secgroup.allocate({"TEMPLATE": {"NAME": "emu-sg", "RULE": [
        {"PROTOCOL": "TCP", "RULE_TYPE": "inbound", "RANGE": "22"}, {"PROTOCOL": "ALL", "RULE_TYPE": "outbound"}]}})
    group = one.secgroup.info(sg_id)
    assert group.NAME == "emu-sg" and len(group.TEMPLATE["RULE"]) == 2
    assert "emu-sg" in [sg.NAME for sg in one.secgrouppool.info(-3, -1, -1).SECURITY_GROUP]
    with pytest.raises(pyone.OneException, match="already taken"):
        one.secgroup.allocate({"TEMPLATE": {"NAME": "emu-sg", "DESCRIPTION": "twice"}})
    one.secgroup.delete(sg_id)
    with pytest.raises(pyone.OneNoExistsException):
        one.secgroup.info(sg_id)


def test_quota_and_auth_answers(emu, one):
    emu.configure(VMS=len(emu.state()["vms"]))
    try:
        with pytest.raises(pyone.OneAuthorizationException, match=r"limit of \d+ reached for VMS quota in VM"):
            one.vm.allocate({"TEMPLATE": {"CPU": 1, "MEMORY": 128}})
        [quota] = one.user.info(-1).VM_QUOTA.VM
        assert quota.VMS == quota.VMS_USED
    finally:
        emu.configure(VMS=-2)
    with pytest.raises(pyone.OneAuthenticationException, match="User couldn't be authenticated"):
        pyone.OneServer(emu.endpoint, session="indigo:wrong").vm.info(0)


def test_fault_injection(emu, one):
    emu.fault("internal", count=1, method="one.system.version")
    with pytest.raises(pyone.OneInternalException):
        one.system.version()
    emu.fault("http_503", count=1)
    with pytest.raises(Exception, match="503"):
        one.system.version()
    emu.fault("latency", value=0.1)
    start = time.monotonic()
    assert one.system.version() == "7.0.0" and time.monotonic() - start >= 0.1
    emu.fault("latency", value=0)
    emu.fault("fail_boot", count=1)
    vm_id = one.vm.allocate({"TEMPLATE": {"CPU": 1, "MEMORY": 128}})
    wait_state(one, vm_id, pyone.VM_STATE.ACTIVE, pyone.LCM_STATE.BOOT_FAILURE)
    one.vm.action("terminate-hard", vm_id)
    assert one.vm.info(vm_id).STATE == pyone.VM_STATE.DONE
