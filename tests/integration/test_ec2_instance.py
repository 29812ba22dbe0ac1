"""indigo.paas.instance / instance_info / deployment_teardown on AWS EC2: real ansible-playbook runs
against a real moto_server (behind a fault-injecting proxy), state checked by listing moto with boto3."""

import functools
import subprocess

import boto3
import pytest

import test_ec2_support as support
from test_ec2_support import proxy_fixture, run_playbook, teardown_tasks, write_catalogue

pytestmark = pytest.mark.emulator
SITE = "aws-test"


proxy = proxy_fixture("module")


@pytest.fixture
def ec2(moto_server, aws_env):
    return boto3.client("ec2", endpoint_url=moto_server, region_name="us-east-1")


@pytest.fixture
def env(tmp_path, proxy, ec2, aws_env):
    proxy.clear()
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    write_catalogue(tmp_path / "sites.yml", SITE, proxy.url, "us-east-1", image_id)
    return dict(aws_env, INDIGO_SITES=str(tmp_path / "sites.yml"))


def tagged(ec2, deployment):
    """Everything moto holds for ``deployment``: live instances by index, and other resources."""
    flt = [{"Name": "tag:indigo_deployment", "Values": [deployment]}]
    instances = {}
    for res in ec2.describe_instances(Filters=flt + [{"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]:
        for inst in res["Instances"]:
            tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
            instances[int(tags["indigo_index"])] = inst
    others = (ec2.describe_vpcs(Filters=flt)["Vpcs"] + ec2.describe_subnets(Filters=flt)["Subnets"]
              + ec2.describe_security_groups(Filters=flt)["SecurityGroups"] + ec2.describe_addresses(Filters=flt)["Addresses"]
              + ec2.describe_internet_gateways(Filters=flt)["InternetGateways"] + ec2.describe_key_pairs(Filters=flt)["KeyPairs"]
              + ec2.describe_route_tables(Filters=flt)["RouteTables"]
              + [v for v in ec2.describe_volumes(Filters=flt)["Volumes"] if v["State"] != "deleted"])
    return instances, others


def public_key(tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "id")], check=True)
    return (tmp_path / "id.pub").read_text().strip()


instance_task = functools.partial(support.instance_task, site=SITE, os_version="13")


def test_exact_count_lifecycle(tmp_path, env, ec2, proxy):
    dep = "life"
    [first] = run_playbook(tmp_path, [instance_task(dep, 5, public_ip=True, ssh_public_key=public_key(tmp_path))],
                           env, name="create")
    assert first.get("failed") is not True, first
    assert first["changed"] and len(first["created"]) == 5
    assert [i["name"] for i in first["instances"]] == ["life-wn-%d" % n for n in range(5)]
    instances, others = tagged(ec2, dep)
    assert sorted(instances) == [0, 1, 2, 3, 4]
    assert all(i["PublicIpAddress"] for i in instances.values())  # elastic IPs attached
    group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["life-wn"]}])["SecurityGroups"][0]
    assert {p["FromPort"] for p in group["IpPermissions"]} == {22, 8080}
    # what the run made besides instances is what its calls report, without listing the site before and
    # after: the reported ids are what moto holds for the deployment, and no listing of them was sent
    keys = ("AllocationId", "VolumeId", "RouteTableId", "InternetGatewayId", "GroupId", "SubnetId", "KeyName", "VpcId")
    ids = {next(o[k] for k in keys if k in o) for o in others}  # each resource's own id
    assert {r["id"] for r in first["created_resources"]} == ids
    assert {r["kind"] for r in first["created_resources"]} >= {"vpc", "subnet", "security_group", "elastic_ip",
                                                              "key_pair", "internet_gateway", "route_table"}
    listings = ("DescribeVolumes", "DescribeRouteTables")
    assert not any(proxy.calls.get(action) for action in listings), proxy.calls
    proxy.clear()

    rerun, up, down = run_playbook(tmp_path, [instance_task(dep, 5), instance_task(dep, 8), instance_task(dep, 3)],
                                   env, name="scale")
    assert rerun["changed"] is False and rerun["created"] == [] and len(rerun["instances"]) == 5
    assert up["changed"] and len(up["created"]) == 3 and [i["index"] for i in up["instances"]] == list(range(8))
    assert down["changed"] and len(down["deleted"]) == 5 and [i["index"] for i in down["instances"]] == [0, 1, 2]
    instances, _ = tagged(ec2, dep)
    assert sorted(instances) == [0, 1, 2]
    assert set(down["deleted"]) == {i["id"] for i in up["instances"] if i["index"] >= 3}
    assert not any(proxy.calls.get(action) for action in listings), proxy.calls  # scaling lists no resources
    [info] = run_playbook(tmp_path, [{"indigo.paas.instance_info": {"deployment": dep, "site": SITE, "resources": True}}],
                          env, name="info")
    assert [i["name"] for i in info["instances"]] == ["life-wn-0", "life-wn-1", "life-wn-2"]
    assert {"vpc", "subnet", "security_group", "key_pair"} <= {r["kind"] for r in info["resources"]}

    check, teardown, again = run_playbook(tmp_path, teardown_tasks(dep, SITE), env, name="teardown")
    assert check["changed"] and len([d for d in check["deleted"] if d["kind"] == "instance"]) == 3
    assert teardown["changed"] and {"instance", "vpc", "subnet", "security_group", "elastic_ip"} <= {d["kind"] for d in teardown["deleted"]}
    assert again["changed"] is False and again["deleted"] == []
    assert tagged(ec2, dep) == ({}, [])


def test_check_mode_creates_nothing(tmp_path, env, ec2, proxy):
    [result] = run_playbook(tmp_path, [instance_task("dry", 3)], env, check=True, name="check")
    assert result["changed"] is True and result["created"] == ["dry-wn-0", "dry-wn-1", "dry-wn-2"]
    assert proxy.calls.get("RunInstances", 0) == 0
    assert tagged(ec2, "dry") == ({}, [])


def test_quota_error_rolls_back_everything(tmp_path, env, ec2, proxy):
    # two instances are created, then the account is "full": the run must delete both and the network
    proxy.inject("RunInstances", "InstanceLimitExceeded", status=400, skip=2)
    [result] = run_playbook(tmp_path, [instance_task("quota", 5)], env, name="quota")
    assert result["failed"] is True and result["error_class"] == "quota"
    assert "InstanceLimitExceeded" in result["msg"]
    assert proxy.calls["RunInstances"] >= 3
    assert tagged(ec2, "quota") == ({}, [])


def test_transient_errors_are_retried(tmp_path, env, ec2, proxy):
    # four throttled answers outlast botocore's own three attempts; the engine's backoff recovers
    proxy.inject("RunInstances", "RequestLimitExceeded", status=503, times=4)
    [result] = run_playbook(tmp_path, [instance_task("flaky", 2)], env, name="flaky")
    assert result.get("failed") is not True, result
    assert proxy.injected == 4 and len(result["created"]) == 2
    instances, _ = tagged(ec2, "flaky")
    assert sorted(instances) == [0, 1]


def test_bad_input_fails_clearly(tmp_path, env):
    bad_id, bad_site, bad_size = run_playbook(tmp_path, [
        instance_task("Bad_Id", 1),
        {"indigo.paas.instance": {"deployment": "ok", "node": "wn", "site": "nowhere"}},
        instance_task("ok", 1, mem_size="lots"),
    ], env, name="bad")
    # the user's mistakes: error_class user (not the site's, not a bug)
    assert bad_id["failed"] and "^[a-z][a-z0-9-]{0,40}$" in bad_id["msg"] and bad_id["error_class"] == "user"
    assert bad_site["failed"] and "unknown site 'nowhere'" in bad_site["msg"] and SITE in bad_site["msg"]
    assert bad_site["error_class"] == "user"
    assert bad_size["failed"] and "mem_size" in bad_size["msg"] and bad_size["error_class"] == "user"
