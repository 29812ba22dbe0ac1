"""One retry layer (providers/base.py): a cloud provider retries each API call itself, api_retries attempts
in all, with its SDK's retries off, and the engine then calls it once; a provider without retries of its own
is retried by the engine. So a transient error costs api_retries calls, never engine × provider × SDK."""

import pytest

from ansible_collections.indigo.paas.plugins.module_utils.engine import Engine
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (DEFAULT_API_ATTEMPTS, InstanceSpec,
                                                                                 Provider, TransientError)
from ansible_collections.indigo.paas.plugins.module_utils.providers.ec2 import EC2Provider
from ansible_collections.indigo.paas.plugins.module_utils.providers.openstack import OpenStackProvider
from ansible_collections.indigo.paas.plugins.module_utils.providers.opennebula import OpenNebulaProvider


class Flaky(Provider):
    kind = "flaky"

    def __init__(self, retries_own_calls):
        super().__init__({"name": "flaky"})
        self.retries_own_calls = retries_own_calls
        self.calls = 0

    def find_instances(self, deployment, node=None):
        return []

    def create_instance(self, spec):
        self.calls += 1
        raise TransientError("503", "flaky")


@pytest.mark.parametrize("own, calls", [(True, 1), (False, 3)])
def test_the_engine_retries_only_providers_without_their_own_retries(own, calls):
    provider = Flaky(own)
    engine = Engine(provider, retry_attempts=3, retry_base_delay=0.001)
    with pytest.raises(TransientError):
        engine.ensure(lambda i: InstanceSpec("d1", "vm", i), "d1", "vm", 1, wait=False)
    assert provider.calls == calls


def test_cloud_providers_retry_their_own_calls_with_the_sites_budget_and_sdk_retries_off():
    site = {"name": "a", "kind": "aws", "region": "us-east-1", "endpoint": "http://127.0.0.1:9", "api_retries": 2}
    ec2 = EC2Provider(site, {"access_key": "x", "secret_key": "y"})
    assert ec2.retries_own_calls and ec2.retry_attempts == 2
    assert ec2.client.meta.config.retries["total_max_attempts"] == 1  # botocore: one attempt, no retry of its own
    default = {k: v for k, v in site.items() if k != "api_retries"}
    assert EC2Provider(default, {"access_key": "x", "secret_key": "y"}).retry_attempts == DEFAULT_API_ATTEMPTS
    assert OpenStackProvider.retries_own_calls and OpenNebulaProvider.retries_own_calls


def test_ec2_transient_errors_cost_api_retries_calls(monkeypatch):
    site = {"name": "a", "kind": "aws", "region": "us-east-1", "endpoint": "http://127.0.0.1:9", "api_retries": 3,
            "api_retry_delay": 0.001}
    ec2 = EC2Provider(site, {"access_key": "x", "secret_key": "y"})
    calls = []

    def once(method, **kwargs):
        calls.append(method)
        raise TransientError("throttled", "a")

    monkeypatch.setattr(ec2, "_call_once", once)
    with pytest.raises(TransientError):
        ec2._call("describe_instances")
    assert calls == ["describe_instances"] * 3

