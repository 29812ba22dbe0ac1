"""The OpenNebula provider (pyone, unmodified) against the OpenNebula XML-RPC emulator process.

Every outcome is checked on the emulator's own state (what a user would see with ``onevm list``),
not on what the provider says about itself.
"""

import base64
import concurrent.futures
import os
import subprocess
import sys

import pytest
from tests.helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "collections"))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulators", "opennebula"))

from control import OpenNebulaEmulator  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.providers import get_provider  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (  # noqa: E402
    AuthError, FatalError, InstanceSpec, QuotaError, TransientError, VolumeSpec)

pytestmark = pytest.mark.emulator
TOKEN = "one-login-token-123"


@pytest.fixture(scope="module")
def emulator():
    with OpenNebulaEmulator(token=TOKEN, step_delay=0.02) as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    emulator.reset_faults()
    emulator.configure(VMS=-2, CPU=-2, MEMORY=-2)
    yield emulator
    emulator.reset_faults()


def make_site(endpoint, **extra):
    site = {"name": "one-test", "kind": "opennebula", "endpoint": endpoint, "verify_tls": True,
            "images": [{"name": "ubuntu-24.04", "distribution": "ubuntu", "version": "24.04"}],
            "flavors": [{"name": "medium", "num_cpus": 2, "mem_mb": 4096, "disk_gb": 20}],
            "network": {"private": "private", "public": "public"}}
    site.update(extra)
    return site


def provider_for(emu, credentials=None, **site):
    provider = get_provider(make_site(emu.endpoint, **site), credentials or {"username": "indigo", "password": "secret"})
    provider.retry_base_delay = 0.02  # keep backoff short: the emulator answers at once
    provider.poll_interval = 0.02
    return provider


def spec(deployment, index, node="wn", **kw):
    kw.setdefault("image", "debian-13")
    return InstanceSpec(deployment=deployment, node=node, index=index, **kw)


def live(emu, deployment):
    """The emulator's live VMs of ``deployment`` by index; two VMs with one index is a bug."""
    vms = emu.live_vms(deployment)
    by_index = {int(vm["user_template"]["INDIGO_INDEX"]): vm for vm in vms}
    assert len(by_index) == len(vms), "duplicate indexes: %s" % [vm["name"] for vm in vms]
    return by_index


def exact_count(provider, deployment, node, count):
    """What the engine does for one node: create missing indexes concurrently, delete the highest."""
    current = {inst.index: inst for inst in provider.find_instances(deployment, node)}
    missing = [i for i in range(count) if i not in current]
    surplus = [current[i] for i in sorted(current, reverse=True) if i >= count]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda i: provider.create_instance(spec(deployment, i, node, ports=[{"port": 80}])),
                                missing))
        list(pool.map(lambda inst: provider.delete_instance(inst.id), surplus))
    return created, surplus


def test_lifecycle_create_adopt_scale_teardown(emu):
    provider = provider_for(emu)
    dep = "life"
    created, _ = exact_count(provider, dep, "wn", 5)
    assert len(created) == 5
    assert sorted(live(emu, dep)) == [0, 1, 2, 3, 4]
    active = [provider.wait_active(inst.id, timeout=10, interval=0.02) for inst in created]
    assert {inst.status for inst in active} == {"active"}
    assert all(inst.private_ips[0].startswith("10.10.") for inst in active)
    assert sorted(inst.name for inst in active) == ["life-wn-%d" % i for i in range(5)]
    vm = live(emu, dep)[0]
    assert vm["state"] == 3 and vm["lcm_state"] == 3  # ACTIVE / RUNNING, as oned reports it
    assert vm["user_template"]["INDIGO_NODE"] == "wn" and vm["name"] == "life-wn-0"
    groups = [sg for sg in emu.state()["secgroups"] if sg["template"].get("INDIGO_DEPLOYMENT") == dep]
    assert [sg["name"] for sg in groups] == ["life-wn"]
    assert all(vm["nics"][0]["SECURITY_GROUPS"] == str(groups[0]["id"]) for vm in live(emu, dep).values())

    allocations = emu.state()["calls"]["one.vm.allocate"]
    again, _ = exact_count(provider, dep, "wn", 5)
    assert again == [] and emu.state()["calls"]["one.vm.allocate"] == allocations  # adopted, nothing new

    exact_count(provider, dep, "wn", 8)
    assert sorted(live(emu, dep)) == list(range(8))
    _, removed = exact_count(provider, dep, "wn", 3)
    assert sorted(inst.index for inst in removed) == [3, 4, 5, 6, 7]
    assert sorted(live(emu, dep)) == [0, 1, 2]
    assert [inst.index for inst in provider.find_instances(dep, "wn")] == [0, 1, 2]

    deleted = provider.delete_deployment(dep)
    assert sorted(r.kind for r in deleted) == ["instance"] * 3 + ["security_group"]
    assert live(emu, dep) == {}
    assert not [sg for sg in emu.state()["secgroups"] if sg["template"].get("INDIGO_DEPLOYMENT") == dep]
    assert provider.find_resources(dep) == [] and provider.find_instances(dep) == []
    assert provider.delete_deployment(dep) == []  # a second teardown changes nothing


def test_requirements_become_the_vm_template(emu):
    provider = provider_for(emu)
    dep = "req"
    inst = provider.create_instance(InstanceSpec(
        deployment=dep, node="fe", index=0, flavor="medium", os_distribution="ubuntu", os_version="24.04",
        public_ip=True, ssh_public_key="ssh-ed25519 AAAAC3Nza test@indigo\n", user_data="#cloud-config\nx: ']]>'\n",
        volumes=[VolumeSpec(name="scratch", size_gb=5)]))
    vm = live(emu, dep)[0]
    assert (vm["cpu"], vm["memory"]) == ("2", "4096")
    assert [d.get("IMAGE") for d in vm["disks"]] == ["ubuntu-24.04", None]
    assert vm["disks"][0]["SIZE"] == str(20 * 1024) and vm["disks"][1]["SIZE"] == str(5 * 1024)
    assert [n["NETWORK"] for n in vm["nics"]] == ["private", "public"]
    assert vm["context"]["SSH_PUBLIC_KEY"] == "ssh-ed25519 AAAAC3Nza test@indigo"
    assert base64.b64decode(vm["context"]["USER_DATA"]).decode() == "#cloud-config\nx: ']]>'\n"
    assert inst.public_ips and inst.public_ips[0].startswith("192.0.2.") and inst.private_ips[0].startswith("10.10.")
    assert inst.address == inst.public_ips[0] and inst.flavor == "medium"
    with pytest.raises(FatalError, match="flavor 'huge' is not in the site catalogue"):
        provider.create_instance(spec(dep, 1, flavor="huge"))
    with pytest.raises(FatalError, match="image 'nope' not found"):
        provider.create_instance(spec(dep, 1, image="nope"))
    with pytest.raises(FatalError, match="GPU"):
        provider.create_instance(spec(dep, 1, gpus=1))
    with pytest.raises(FatalError, match="invalid port"):
        provider.create_instance(spec(dep, 1, node="other", ports=[{"port": "http"}]))
    assert sorted(live(emu, dep)) == [0]  # bad input never reached the site
    provider.delete_deployment(dep)
    assert live(emu, dep) == {}


def test_vm_template_instantiation_and_cpu_ratio(emu):
    provider = provider_for(emu, opennebula={"template": "debian-13-small", "cpu_ratio": 0.5})
    inst = provider.create_instance(InstanceSpec(deployment="tpl", node="wn", index=0, num_cpus=4, mem_mb=2048))
    vm = live(emu, "tpl")[0]
    assert (vm["cpu"], vm["memory"], vm["disks"][0]["IMAGE"]) == ("2", "2048", "debian-13")
    assert inst.image == "debian-13" and inst.flavor == "cpu=4,mem=2048MB"
    provider.delete_instance(inst.id)
    provider.delete_instance(inst.id)  # deleting what is gone is not an error
    assert live(emu, "tpl") == {} and provider.delete_deployment("tpl") == []


def test_security_group_created_by_another_process_is_adopted(emu):
    first, second = provider_for(emu), provider_for(emu)
    (created,) = first.prepare_deployment("race", [spec("race", 0, ports=[{"port": 443}])])
    assert created.kind == "security_group" and created.name == "race-wn"
    group = int(created.id)
    lookups = []
    real_lookup = second._deployment_secgroups

    def stale_then_real(deployment):  # the second process looked before the first one created the group
        lookups.append(deployment)
        return [] if len(lookups) == 1 else real_lookup(deployment)

    second._deployment_secgroups = stale_then_real
    inst = second.create_instance(spec("race", 1, ports=[{"port": 443}]))
    assert live(emu, "race")[1]["nics"][0]["SECURITY_GROUPS"] == str(group) and len(lookups) == 2
    assert [sg["name"] for sg in emu.state()["secgroups"] if sg["name"].startswith("race-")] == ["race-wn"]
    assert inst.index == 1 and inst.created_resources == []  # adopted: the first process made it
    first.delete_deployment("race")
    assert live(emu, "race") == {} and first.find_resources("race") == []


def test_quota_exceeded_is_quota_error_and_leaves_nothing(emu):
    provider = provider_for(emu)
    emu.fault("quota", count=1)
    with pytest.raises(QuotaError, match="limit of .* reached for VMS quota"):
        provider.create_instance(spec("quota", 0))
    assert live(emu, "quota") == {}

    emu.configure(VMS=len(emu.state()["vms"]) + 2)
    provider.create_instance(spec("quota", 0))
    provider.create_instance(spec("quota", 1))
    with pytest.raises(QuotaError):
        provider.create_instance(spec("quota", 2))
    usage = provider.usage()
    assert usage["instances"]["used"] == usage["instances"]["limit"] == len(emu.state()["vms"])
    assert usage["cores"]["limit"] is None and usage["ram_mb"]["used"] >= 2048
    provider.delete_deployment("quota")
    assert live(emu, "quota") == {}
    emu.configure(VMS=-1, DEFAULT_VMS=50)  # -1: the site's default user quota applies
    assert provider.usage()["instances"]["limit"] == 50
    emu.configure(DEFAULT_VMS=-2)


def test_transient_faults_are_retried(emu):
    provider = provider_for(emu)
    emu.fault("http_503", count=2, method="one.vm.allocate")
    emu.fault("reset", count=1, method="one.vmpool.infoextended")
    emu.fault("internal", count=1, method="one.vm.info")
    provider.create_instance(spec("flaky", 0))
    assert sorted(live(emu, "flaky")) == [0]
    assert [i.index for i in provider.find_instances("flaky")] == [0]
    assert emu.state()["faults"] == []  # every injected fault was hit and survived

    # the VM is created but the answer is lost: the retry adopts it instead of creating a twin
    emu.fault("drop_response", count=1, method="one.vm.allocate")
    inst = provider.create_instance(spec("flaky", 1))
    assert inst.index == 1 and sorted(live(emu, "flaky")) == [0, 1]
    assert emu.state()["faults"] == []

    emu.fault("http_500", count=10)
    with pytest.raises(TransientError, match="HTTP 500"):
        provider.find_instances("flaky")
    emu.reset_faults()
    provider.delete_deployment("flaky")
    assert live(emu, "flaky") == {}


def test_auth_failures_are_classified(emu):
    bad = provider_for(emu, {"username": "indigo", "password": "wrong"})
    with pytest.raises(AuthError, match="credentials refused"):
        bad.find_instances("any")
    health = bad.health()
    assert health["reachable"] is True and health["error"].startswith("auth")
    with pytest.raises(AuthError, match="username"):
        provider_for(emu, {"password": "secret"})
    token = provider_for(emu, {"username": "indigo", "token": TOKEN})
    assert token.find_instances("any") == []


def test_boot_failure_is_fatal(emu):
    provider = provider_for(emu)
    emu.fault("fail_boot", count=1)
    inst = provider.create_instance(spec("boot", 0))
    with pytest.raises(FatalError, match="went to ERROR: VM .* is in state ACTIVE/BOOT_FAILURE"):
        provider.wait_active(inst.id, timeout=5, interval=0.02)
    provider.delete_instance(inst.id)
    assert live(emu, "boot") == {}


def test_health_measures_latency(emu):
    provider = provider_for(emu)
    emu.fault("latency", value=0.2)
    health = provider.health()
    assert health["reachable"] and health["error"] is None and health["version"] == "7.0.0"
    assert health["latency_ms"] >= 200
    down = get_provider(make_site("http://127.0.0.1:1/RPC2"), {"username": "a", "password": "b"})
    assert down.health()["reachable"] is False


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # the opt-out warns, rightly
def test_tls_is_verified_by_default(tmp_path):
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    with OpenNebulaEmulator(tls=(cert, key)) as emu:
        assert emu.endpoint.startswith("https://")
        with pytest.raises(FatalError, match="TLS verification failed"):
            provider_for(emu).find_instances("tls")
        assert provider_for(emu, verify_tls=False).find_instances("tls") == []  # an explicit opt-out works
