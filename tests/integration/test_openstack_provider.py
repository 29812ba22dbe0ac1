"""OpenStackProvider against the OpenStack emulator process, through unmodified openstacksdk.

Every outcome is checked on the emulator's own state (``/_emulator/state``), not on what the
provider says about itself."""

import concurrent.futures
import os
import sys

import pytest
from tests.helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "collections"))

from tests.fixtures.openstack import emulator_fixture  # noqa: E402  (puts the emulator's launcher on sys.path)
from launcher import APP_CREDENTIAL_AUTH, OIDC_AUTH, PASSWORD_AUTH  # noqa: E402

from ansible_collections.indigo.paas.plugins.module_utils.providers import get_provider  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (  # noqa: E402
    AuthError, FatalError, InstanceSpec, QuotaError, TransientError, VolumeSpec)

pytestmark = pytest.mark.emulator


emulator = emulator_fixture(0.2, scope="module")


@pytest.fixture
def emu(emulator):
    emulator.clear_faults()
    emulator.configure(build_delay=0.2, quotas={"instances": 20, "cores": 40, "ram": 81920})
    yield emulator
    assert emulator.leftovers() == {}, "a test left resources behind"


def site_for(emu, **extra):
    site = {"name": "os-test", "kind": "openstack", "endpoint": emu.auth_url, "region": "RegionOne",
            "poll_interval": 0.05, "api_retry_delay": 0.01, "delete_timeout": 20}
    site.update(extra)
    return site


def provider_for(emu, credentials=None, **site):
    return get_provider(site_for(emu, **site), dict(PASSWORD_AUTH if credentials is None else credentials))


def spec(deployment, index, **extra):
    args = dict(deployment=deployment, node="wn", index=index, num_cpus=1, mem_mb=1024,
                os_distribution="debian", os_version="12", ports=[{"port": 8080}])
    args.update(extra)
    return InstanceSpec(**args)


def create_many(provider, deployment, indexes, **extra):
    """Create concurrently like the engine does; returns (instances, errors)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(provider.create_instance, spec(deployment, i, **extra)) for i in indexes]
    done, errors = [], []
    for future in futures:
        try:
            done.append(future.result())
        except Exception as exc:  # collected: the test asserts their classes
            errors.append(exc)
    return done, errors


def servers_of(emu, deployment):
    return sorted(int(s["metadata"]["indigo_index"]) for s in emu.state()["servers"]
                  if s["metadata"].get("indigo_deployment") == deployment)


def test_create_adopt_scale_and_teardown(emu):
    provider = provider_for(emu)
    created, errors = create_many(provider, "life", range(5), ssh_public_key="ssh-ed25519 AAAAlife op@x")
    assert errors == []
    assert servers_of(emu, "life") == [0, 1, 2, 3, 4]
    found = provider.find_instances("life", "wn")
    assert [i.name for i in found] == ["life-wn-%d" % n for n in range(5)]
    assert {i.id for i in found} == {i.id for i in created}
    active = provider.wait_active(found[0].id, timeout=10)
    assert active.status == "active" and active.private_ips[0].startswith("10.10.0.") and active.flavor == "m1.small"

    state = emu.state()
    assert [n["name"] for n in state["networks"]] == ["indigo-life"]
    assert state["networks"][0]["tags"] == ["indigo_deployment=life"]
    assert len(state["routers"]) == 1 and state["keypairs"] == ["indigo-life"]
    group = state["security_groups"][0]
    assert group["name"] == "indigo-life-wn"
    assert {(r["protocol"], r["port_range_min"]) for r in group["security_group_rules"] if r["direction"] == "ingress"} \
        == {("tcp", 22), ("tcp", 8080), (None, None)}
    server = next(s for s in state["servers"] if s["name"] == "life-wn-0")
    assert server["key_name"] == "indigo-life" and server["security_groups"] == [{"name": "indigo-life-wn"}]

    # a second provider (a re-run) adopts what exists: nothing new is created
    rerun = provider_for(emu)
    assert [i.id for i in rerun.find_instances("life")] == [i.id for i in found]
    rerun.prepare_deployment("life", [spec("life", 0, ssh_public_key="ssh-ed25519 AAAAlife op@x")])
    after = emu.state()
    assert len(after["networks"]) == 1 and len(after["security_groups"]) == 1 and len(after["routers"]) == 1
    assert len(after["security_groups"][0]["security_group_rules"]) == len(group["security_group_rules"])

    _, errors = create_many(rerun, "life", range(5, 8))
    assert errors == [] and servers_of(emu, "life") == list(range(8))
    for instance in sorted(rerun.find_instances("life"), key=lambda i: -i.index)[:5]:
        rerun.delete_instance(instance.id)
    assert servers_of(emu, "life") == [0, 1, 2]
    assert len(emu.state()["ports"]) == 3 + 1  # three servers and the router interface

    kinds = sorted(r.kind for r in rerun.delete_deployment("life"))
    assert kinds == ["instance"] * 3 + ["keypair", "network", "router", "security_group", "subnet"]
    assert emu.leftovers() == {}
    assert rerun.delete_deployment("life") == [] and rerun.find_resources("life") == []


def test_public_ip_volumes_and_existing_network(emu):
    provider = provider_for(emu, network={"private": "private", "public": "public"})
    instance = provider.create_instance(spec("vols", 0, public_ip=True, volumes=[VolumeSpec(name="data", size_gb=5)]))
    state = emu.state()
    assert state["networks"] == [] and state["routers"] == []  # the site's own network is used
    assert instance.private_ips[0].startswith("10.0.0.") and instance.public_ips[0].startswith("203.0.113.")
    fip = state["floatingips"][0]
    assert fip["floating_ip_address"] == instance.public_ips[0] and fip["tags"] == ["indigo_deployment=vols"]
    volume = state["volumes"][0]
    assert (volume["name"], volume["size"], volume["status"]) == ("vols-wn-0-data", 5, "in-use")
    assert volume["attachments"][0]["server_id"] == instance.id

    provider.delete_instance(instance.id)
    state = emu.state()
    assert state["servers"] == [] and state["floatingips"] == [] and state["volumes"] == []
    assert [r.kind for r in provider.delete_deployment("vols")] == ["security_group"]


def test_quota_exceeded_is_classified_and_leaves_nothing(emu):
    provider = provider_for(emu)
    emu.configure(quotas={"instances": 2})
    created, errors = create_many(provider, "quota", range(5))
    assert len(created) == 2 and len(errors) == 3
    assert all(isinstance(e, QuotaError) for e in errors), errors
    assert "Quota exceeded for instances" in errors[0].message
    for instance in created:
        provider.delete_instance(instance.id)
    provider.delete_deployment("quota")
    assert emu.leftovers() == {}

    emu.configure(quotas={"instances": 20})
    emu.inject({"kind": "quota", "count": 1, "status": 413})  # the legacy OverLimit answer
    with pytest.raises(QuotaError):
        provider.create_instance(spec("quota", 0))
    assert servers_of(emu, "quota") == []
    provider.delete_deployment("quota")


def test_transient_errors_are_retried(emu):
    provider = provider_for(emu)
    before = emu.state()["request_counts"].get("POST /compute/v2.1/servers", 0)
    emu.inject({"kind": "error", "status": 503, "method": "POST", "path": "/servers$", "count": 2},
               {"kind": "error", "status": 502, "method": "GET", "path": "/network/v2.0/networks$", "count": 1})
    instance = provider.create_instance(spec("flaky", 0))
    assert emu.state()["request_counts"]["POST /compute/v2.1/servers"] == before + 3
    assert servers_of(emu, "flaky") == [0] and instance.name == "flaky-wn-0"
    assert [f["count"] for f in emu.state()["faults"]] == [0, 0]

    emu.inject({"kind": "error", "status": 500, "method": "GET", "path": "/servers/detail$"})  # for good
    with pytest.raises(TransientError):
        provider.find_instances("flaky")
    emu.clear_faults()
    provider.delete_deployment("flaky")


def test_server_error_state_is_fatal(emu):
    provider = provider_for(emu)
    emu.inject({"kind": "server_error", "count": 1})
    instance = provider.create_instance(spec("broken", 0))
    with pytest.raises(FatalError, match="No valid host was found"):
        provider.wait_active(instance.id, timeout=5)
    provider.delete_deployment("broken")


@pytest.mark.parametrize("credentials", [APP_CREDENTIAL_AUTH, OIDC_AUTH], ids=["application_credential", "oidc"])
def test_other_auth_methods(emu, credentials):
    provider = provider_for(emu, dict(credentials))
    assert provider.find_instances("nobody") == []
    assert provider.health()["reachable"] is True


def test_token_and_clouds_yaml_auth(emu, tmp_path, monkeypatch):
    token = provider_for(emu).conn.session.get_token()
    by_token = provider_for(emu, {"token": token, "project_name": "demo", "project_domain_name": "Default"})
    assert by_token.find_instances("nobody") == []
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds:\n  emu:\n    region_name: RegionOne\n    auth:\n      auth_url: %s\n%s" % (
        emu.auth_url, "".join("      %s: %s\n" % item for item in PASSWORD_AUTH.items())))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    assert provider_for(emu, {"cloud": "emu"}, endpoint=None).find_instances("nobody") == []


def test_auth_failures_are_classified(emu):
    wrong = dict(PASSWORD_AUTH, password="wrong-secret")
    with pytest.raises(AuthError) as failure:
        provider_for(emu, wrong).find_instances("nobody")
    assert "wrong-secret" not in str(failure.value)
    health = provider_for(emu, wrong).health()
    assert health["error_class"] == "auth" and health["reachable"] is True
    with pytest.raises(AuthError):
        provider_for(emu, dict(OIDC_AUTH, access_token="expired")).find_instances("nobody")


def test_unreachable_site_is_transient(emu):
    provider = provider_for(emu, endpoint="http://127.0.0.1:9/v3", api_retries=2)
    with pytest.raises(TransientError):
        provider.find_instances("nobody")
    assert provider.health()["reachable"] is False


def test_usage_and_health(emu):
    provider = provider_for(emu)
    instance = provider.create_instance(spec("usage", 0, num_cpus=2))
    usage = provider.usage()
    assert usage["instances"] == {"limit": 20, "used": 1}
    assert usage["cores"] == {"limit": 40, "used": 2} and usage["ram_mb"] == {"limit": 81920, "used": 4096}
    assert usage["floating_ips"]["limit"] == 20
    health = provider.health()
    assert health["reachable"] is True and health["error"] is None and health["latency_ms"] > 0
    provider.delete_instance(instance.id)
    provider.delete_deployment("usage")


@pytest.mark.parametrize("requirements, flavor", [
    ({"num_cpus": 1, "mem_mb": 512}, "m1.tiny"),
    ({"num_cpus": 3, "mem_mb": 1024}, "m1.large"),
    ({"num_cpus": 1, "mem_mb": 16000}, "m1.xlarge"),  # same size as g1.large: CPU-only wins
    ({"num_cpus": 1, "gpus": 1}, "g1.large"),
    ({"num_cpus": 1, "gpus": 1, "gpu_model": "A100"}, "g2.xlarge"),
])
def test_flavor_matching(emu, requirements, flavor):
    chosen = provider_for(emu)._resolve_flavor(InstanceSpec(deployment="m", node="n", index=0, **requirements))
    assert chosen.name == flavor


@pytest.mark.parametrize("requirements, image", [
    ({"os_distribution": "ubuntu"}, "ubuntu-24.04"),
    ({"os_distribution": "Ubuntu", "os_version": "22.04"}, "ubuntu-22.04"),
    ({"image": "centos-7"}, "centos-7"),
])
def test_image_matching(emu, requirements, image):
    chosen = provider_for(emu)._resolve_image(InstanceSpec(deployment="m", node="n", index=0, **requirements))
    assert chosen.name == image


def test_bad_requests_fail_clearly(emu):
    provider = provider_for(emu)
    with pytest.raises(FatalError, match="no flavor .* 64 cpus"):
        provider._resolve_flavor(InstanceSpec(deployment="m", node="n", index=0, num_cpus=64))
    with pytest.raises(FatalError, match="no image for windows"):
        provider._resolve_image(InstanceSpec(deployment="m", node="n", index=0, os_distribution="windows"))
    with pytest.raises(FatalError, match="invalid deployment id"):
        provider.find_instances("Bad_ID")
    with pytest.raises(FatalError, match="protocol"):
        provider.create_instance(spec("badport", 0, ports=[{"port": 80, "protocol": "sctp"}]))
    provider.delete_deployment("badport")
