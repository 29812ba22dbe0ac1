"""providers/ec2.py in-process against moto_server: error classification through real botocore
parsing of EC2 error documents (fault proxy), image and instance type matching, per-node groups."""

import os
import sys

import boto3
import pytest

from test_ec2_support import ROOT, proxy_fixture

sys.path.insert(0, os.path.join(ROOT, "collections"))
from ansible_collections.indigo.paas.plugins.module_utils.providers import get_provider  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (  # noqa: E402
    AuthError, FatalError, InstanceSpec, QuotaError, TransientError)

pytestmark = pytest.mark.emulator
CREDS = {"access_key": "testing", "secret_key": "testing"}


proxy = proxy_fixture("module")


@pytest.fixture
def provider(proxy):
    proxy.clear()
    return get_provider({"name": "aws-p", "kind": "aws", "endpoint": proxy.url, "region": "us-west-2",
                         "images": [], "flavors": []}, CREDS)


@pytest.mark.parametrize("code, status, error", [
    ("AuthFailure", 401, AuthError), ("UnauthorizedOperation", 403, AuthError),
    ("VcpuLimitExceeded", 400, QuotaError), ("InstanceLimitExceeded", 400, QuotaError),
    ("InternalError", 500, TransientError), ("RequestLimitExceeded", 503, TransientError),
    ("InvalidParameterValue", 400, FatalError),
])
def test_errors_are_classified(provider, proxy, code, status, error):
    proxy.inject("DescribeInstances", code, status=status)
    with pytest.raises(error) as excinfo:
        provider.find_instances("any")
    assert code in excinfo.value.message and excinfo.value.site == "aws-p"
    assert type(excinfo.value) is error


def test_unreachable_endpoint_is_transient():
    provider = get_provider({"name": "down", "kind": "aws", "endpoint": "http://127.0.0.1:9", "region": "us-east-1"}, CREDS)
    with pytest.raises(TransientError, match="unreachable"):
        provider.find_instances("any")


def test_image_and_instance_type_matching(provider, moto_server):
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name="us-west-2", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]
    spec = InstanceSpec(deployment="match", node="n", index=0, image=image["Name"], num_cpus=4, mem_mb=16384)
    assert provider._image_id(spec) == image["ImageId"]
    chosen = provider._instance_type(spec)
    info = ec2.describe_instance_types(InstanceTypes=[chosen])["InstanceTypes"][0]
    assert info["VCpuInfo"]["DefaultVCpus"] >= 4 and info["MemoryInfo"]["SizeInMiB"] >= 16384
    with pytest.raises(FatalError, match="no instance type"):
        provider._instance_type(InstanceSpec(deployment="match", node="n", index=0, num_cpus=100000))
    with pytest.raises(FatalError, match="not found"):
        provider._image_id(InstanceSpec(deployment="match", node="n", index=0, image="no-such-image"))


def test_one_group_per_node_with_its_ports(provider, moto_server):
    specs = [InstanceSpec(deployment="groups", node="front", index=0, ports=[{"port": 443, "protocol": "tcp"}]),
             InstanceSpec(deployment="groups", node="wn", index=0)]
    created = provider.prepare_deployment("groups", specs)
    # what the call made, as it reports it: the network of the deployment and a group per node
    assert sorted(r.kind for r in created) == ["internet_gateway", "route_table", "security_group", "security_group",
                                               "subnet", "vpc"]
    assert provider.prepare_deployment("groups", specs) == []  # idempotent: nothing more made
    assert sorted((r.kind, r.id) for r in created) == sorted((r.kind, r.id) for r in provider.find_resources("groups"))
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name="us-west-2", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    front = ec2.describe_security_groups(GroupIds=[provider._contexts["groups"]["security_groups"]["front"]])["SecurityGroups"][0]
    assert {p["FromPort"] for p in front["IpPermissions"]} == {22, 443}
    gone = provider.delete_deployment("groups")
    assert {"vpc", "subnet", "security_group", "internet_gateway", "route_table"} <= {r.kind for r in gone}
    assert provider.find_resources("groups") == []
