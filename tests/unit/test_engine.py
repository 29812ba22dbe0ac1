"""The generic state machine (module_utils/engine.py) against an in-memory provider: concurrency,
exact-count planning, adoption, rollback on failure, transient retries and the SSH wait."""

import itertools
import os
import socket
import sys
import threading
import time

import pytest
from tests.helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible_collections.indigo.paas.plugins.module_utils.engine import Engine, wait_for_port  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (  # noqa: E402
    FatalError, Instance, InstanceSpec, Provider, QuotaError, Resource, TransientError)


class MemoryProvider(Provider):
    """Instances in a dict; ``latency`` per create; ``fail`` maps index → exception raised on create."""

    kind = "memory"

    def __init__(self, latency=0.0, address="127.0.0.1"):
        super().__init__({"name": "mem", "kind": "memory"})
        self.latency, self.address = latency, address
        self.instances, self.resources, self.fail = {}, [], {}
        self.ids = itertools.count()
        self.lock = threading.Lock()
        self.creates = 0

    def find_instances(self, deployment, node=None):
        with self.lock:
            return [i for i in self.instances.values() if i.deployment == deployment and (node is None or i.node == node)]

    def create_instance(self, spec):
        time.sleep(self.latency)
        with self.lock:
            self.creates += 1
            failure = self.fail.get(spec.index)
            if isinstance(failure, list):
                failure = failure.pop(0) if failure else None
            if failure is not None:
                raise failure
            inst = Instance("id-%d" % next(self.ids), spec.name, "mem", spec.deployment, spec.node, spec.index,
                            "active", private_ips=[self.address])
            self.instances[inst.id] = inst
            return inst

    def get_instance(self, instance_id):
        return self.instances.get(instance_id)

    def delete_instance(self, instance_id, wait=True):
        with self.lock:
            self.instances.pop(instance_id, None)
        return []

    def prepare_deployment(self, deployment, specs):
        with self.lock:
            if self.resources:
                return []
            self.resources.append(Resource("network", "net-1", deployment, "mem"))
            return list(self.resources)

    def find_resources(self, deployment):
        return list(self.resources)

    def delete_deployment(self, deployment):
        gone = [Resource("instance", i.id, i.name, "mem") for i in self.find_instances(deployment)] + self.resources
        self.instances.clear()
        self.resources = []
        return gone


def spec_for(index):
    return InstanceSpec(deployment="dep", node="wn", index=index)


def ensure(provider, count, **kwargs):
    engine = Engine(provider, retry_base_delay=0.01, poll_interval=0.05)
    return engine.ensure(spec_for, "dep", "wn", count, **kwargs)


def indexes(provider):
    return sorted(i.index for i in provider.find_instances("dep"))


def test_creates_concurrently_and_is_idempotent():
    provider = MemoryProvider(latency=0.3)
    start = time.monotonic()
    result = ensure(provider, 10, wait=False)
    assert time.monotonic() - start < 1.5  # ten creates of 0.3 s each, run side by side
    assert result.changed and len(result.created) == 10 and indexes(provider) == list(range(10))
    again = ensure(provider, 10, wait=False)
    assert not again.changed and provider.creates == 10 and len(again.adopted) == 10


def test_scale_down_removes_highest_indexes_and_fills_gaps():
    provider = MemoryProvider()
    ensure(provider, 6, wait=False)
    victim = next(i for i in provider.find_instances("dep") if i.index == 1)
    provider.delete_instance(victim.id)  # lost outside the engine
    result = ensure(provider, 3, wait=False)
    assert indexes(provider) == [0, 1, 2] and len(result.created) == 1 and len(result.deleted) == 3


def test_duplicate_index_is_treated_as_surplus():
    provider = MemoryProvider()
    ensure(provider, 2, wait=False)
    provider.create_instance(spec_for(1))  # e.g. a create whose reply was lost and was retried
    result = ensure(provider, 2, wait=False)
    assert indexes(provider) == [0, 1] and len(result.deleted) == 1


def test_check_mode_changes_nothing():
    provider = MemoryProvider()
    ensure(provider, 4, wait=False)
    result = ensure(provider, 2, check_mode=True)
    assert result.changed and len(result.deleted) == 2 and indexes(provider) == [0, 1, 2, 3]
    result = ensure(provider, 6, check_mode=True)
    assert result.created == ["dep-wn-4", "dep-wn-5"] and provider.creates == 4


def test_failure_deletes_what_this_call_created_and_keeps_the_rest():
    provider = MemoryProvider()
    ensure(provider, 2, wait=False)
    provider.fail = {4: QuotaError("quota exceeded for instances", "mem")}
    with pytest.raises(QuotaError, match="quota exceeded"):
        ensure(provider, 6, wait=False)
    assert indexes(provider) == [0, 1]  # the two adopted instances stay, the new ones are gone
    assert provider.resources  # the deployment existed before: its network stays


def test_failure_of_a_fresh_deployment_removes_its_resources():
    provider = MemoryProvider()
    provider.fail = {0: FatalError("image not found", "mem")}
    with pytest.raises(FatalError):
        ensure(provider, 3, wait=False)
    assert provider.find_instances("dep") == [] and provider.resources == []


def test_transient_errors_are_retried_and_unexpected_errors_stay_bugs():
    provider = MemoryProvider()
    provider.fail = {0: [TransientError("503", "mem"), TransientError("503", "mem")]}
    result = ensure(provider, 2, wait=False)
    assert len(result.created) == 2 and provider.creates == 4
    provider.fail = {2: RuntimeError("boom")}
    with pytest.raises(RuntimeError, match="boom"):  # a bug goes up as itself, not as a site's FatalError
        ensure(provider, 3, wait=False)
    assert sorted(i.index for i in provider.instances.values()) == [0, 1]  # rolled back all the same


def test_wait_checks_the_ssh_port():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    try:
        provider = MemoryProvider()
        engine = Engine(provider, ssh_port=port, retry_base_delay=0.01, poll_interval=0.05)
        result = engine.ensure(spec_for, "dep", "wn", 2, wait=True, wait_timeout=5)
        assert [i.address for i in result.instances] == ["127.0.0.1", "127.0.0.1"]
    finally:
        listener.close()
    provider = MemoryProvider()
    engine = Engine(provider, ssh_port=port, retry_attempts=1, poll_interval=0.05)
    with pytest.raises(TransientError, match="SSH port"):
        engine.ensure(spec_for, "dep", "wn", 1, wait=True, wait_timeout=1)
    assert provider.find_instances("dep") == []  # rolled back
    assert wait_for_port("127.0.0.1", port, 0.2, interval=0.05) is False


def test_teardown_deletes_everything_once():
    provider = MemoryProvider()
    engine = Engine(provider)
    ensure(provider, 3, wait=False)
    assert len(engine.teardown("dep", check_mode=True)) == 4 and indexes(provider) == [0, 1, 2]
    assert {d["kind"] for d in engine.teardown("dep")} == {"instance", "network"}
    assert engine.teardown("dep") == []


def test_negative_count_is_rejected():
    with pytest.raises(FatalError, match="count must be >= 0"):
        ensure(MemoryProvider(), -1)


def test_indexes_present_and_absent_touch_only_those_slots():
    provider = MemoryProvider(latency=0.2)
    ensure(provider, 0, indexes=[1, 3], wait=False)
    assert indexes(provider) == [1, 3]
    start = time.monotonic()
    result = ensure(provider, 0, indexes=[0, 2, 5], wait=False)  # three slots boot side by side
    assert time.monotonic() - start < 0.5
    assert indexes(provider) == [0, 1, 2, 3, 5] and len(result.created) == 3 and not result.deleted
    assert sorted(i.index for i in result.instances) == [0, 2, 5]
    result = ensure(provider, 0, indexes=[1, 5, 7], absent=True, wait=False)
    assert indexes(provider) == [0, 2, 3] and len(result.deleted) == 2 and not result.created
    again = ensure(provider, 0, indexes=[1, 5], absent=True, wait=False)
    assert not again.changed
    with pytest.raises(FatalError):
        ensure(provider, 0, indexes=[-1], wait=False)


class ReportingProvider(MemoryProvider):
    """Each create makes a floating IP and each delete removes it, as the calls report; listing the
    deployment's resources is an error (the engine must not need it to report)."""

    def create_instance(self, spec):
        inst = super().create_instance(spec)
        inst.created_resources = [Resource("floating_ip", "fip-%s" % inst.id, inst.name, "mem")]
        return inst

    def delete_instance(self, instance_id, wait=True):
        super().delete_instance(instance_id, wait)
        return [Resource("floating_ip", "fip-%s" % instance_id, instance_id, "mem")]

    def find_resources(self, deployment):
        raise AssertionError("ensure listed the deployment's resources")


def test_created_and_deleted_resources_come_from_the_calls():
    provider = ReportingProvider()
    first = ensure(provider, 2, wait=False)
    assert sorted((r["kind"], r["id"]) for r in first.created_resources) == [
        ("floating_ip", "fip-%s" % first.created[0]), ("floating_ip", "fip-%s" % first.created[1]),
        ("network", "net-1")]
    assert first.deleted_resources == []
    again = ensure(provider, 3, wait=False)  # the network exists: only the new instance's IP is new
    assert [r["id"] for r in again.created_resources] == ["fip-%s" % again.created[0]]
    down = ensure(provider, 1, wait=False)
    assert sorted(r["id"] for r in down.deleted_resources) == sorted("fip-%s" % i for i in down.deleted)
    assert down.created_resources == [] and down.changed
    assert not ensure(provider, 1, wait=False).changed
