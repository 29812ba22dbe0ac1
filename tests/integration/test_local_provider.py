"""The local provider under the generic engine and the indigo.paas.instance module (real nodes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.local_nodes import local_site, ssh_keypair  # noqa: F401
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.indigo.paas.plugins.module_utils.engine import Engine  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.providers import get_provider  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (  # noqa: E402
    FatalError,
    InstanceSpec,
    QuotaError,
    TransientError,
)
from ansible_collections.indigo.paas.plugins.module_utils.sites import resolve_site  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.localsite.site import NodeRecord  # noqa: E402

CATALOGUE = str(ROOT / "inventories" / "sites")


def local_provider(**local):
    site = resolve_site("local", CATALOGUE)
    site["local"] = dict(site["local"], **local)
    return get_provider(site, {})


def spec_factory(deployment, node, key, **extra):
    return lambda index: InstanceSpec(deployment=deployment, node=node, index=index, ssh_public_key=key, **extra)


def test_bad_local_settings_are_fatal():
    with pytest.raises(FatalError, match="subnet"):
        local_provider(subnet="8.8.8.0/24")


def test_a_node_whose_machine_stopped_while_booting_fails_at_once(monkeypatch):
    provider = local_provider()
    calls = []

    def stopped(instance_id):
        calls.append(instance_id)
        return provider._to_instance(NodeRecord(name=instance_id, address="10.77.0.9", tags={}, status="stopped"))

    monkeypatch.setattr(provider, "get_instance", stopped)
    with pytest.raises(FatalError, match="stopped while booting"):
        provider.wait_active("d-wn-0", timeout=300)
    assert calls == ["d-wn-0"]  # no waiting out the timeout


@pytest.mark.slow
def test_engine_creates_adopts_scales_down_and_tears_down(local_site, ssh_keypair):
    provider = local_provider()
    engine = Engine(provider, poll_interval=0.3)
    key = ssh_keypair.with_suffix(".pub").read_text()
    specs = spec_factory("tprov", "lrms_wn", key, num_cpus=1, mem_mb=256)
    try:
        first = engine.ensure(specs, "tprov", "lrms_wn", 2, wait_timeout=120)
        assert first.changed and sorted(i.name for i in first.instances) == ["tprov-lrms_wn-0", "tprov-lrms_wn-1"]
        assert all(i.status == "active" and i.address.startswith("10.77.0.") for i in first.instances)
        again = engine.ensure(specs, "tprov", "lrms_wn", 2, wait_timeout=120)
        assert not again.changed and sorted(again.adopted) == sorted(i.id for i in first.instances)
        down = engine.ensure(specs, "tprov", "lrms_wn", 1, wait_timeout=120)
        assert down.deleted == ["tprov-lrms_wn-1"]
        assert [i.name for i in provider.find_instances("tprov")] == ["tprov-lrms_wn-0"]
        # tags come back from the metadata file
        only = provider.find_instances("tprov", "lrms_wn")[0]
        assert (only.deployment, only.node, only.index) == ("tprov", "lrms_wn", 0)
    finally:
        deleted = engine.teardown("tprov")
    assert [d["name"] for d in deleted] == ["tprov-lrms_wn-0"]
    assert provider.find_instances("tprov") == []


@pytest.mark.slow
def test_node_too_big_for_the_host_is_a_quota_error_and_leaves_nothing(local_site, ssh_keypair):
    provider = local_provider()
    engine = Engine(provider, poll_interval=0.3)
    huge = spec_factory("tquota", "big", None, mem_mb=10 ** 7)
    with pytest.raises(QuotaError, match="MB RAM"):
        engine.ensure(huge, "tquota", "big", 1, wait_timeout=60)
    assert provider.find_instances("tquota") == []


@pytest.mark.slow
def test_node_not_up_in_time_is_transient_and_cleaned_up(local_site, ssh_keypair):
    provider = local_provider(boot_timeout=0.05)
    engine = Engine(provider, poll_interval=0.3, retry_attempts=2, retry_base_delay=0.1)
    with pytest.raises(TransientError, match="did not answer SSH"):
        engine.ensure(spec_factory("tslow", "n", None), "tslow", "n", 2, wait_timeout=60)
    assert provider.find_instances("tslow") == []
    assert not (local_site.cfg.nodes_dir / "tslow-n-0").exists()


PLAYBOOK = """
- name: Local nodes through the instance module
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Two nodes
      indigo.paas.instance:
        deployment: tmod
        node: wn
        count: 2
        site: local
        catalogue: {catalogue}
        num_cpus: 1
        mem_size: 256 MB
        ssh_public_key: "{key}"
      register: created
    - name: Same again converges
      indigo.paas.instance:
        deployment: tmod
        node: wn
        count: 2
        site: local
        catalogue: {catalogue}
        num_cpus: 1
        mem_size: 256 MB
        ssh_public_key: "{key}"
      register: again
    - name: Teardown
      indigo.paas.instance:
        deployment: tmod
        state: absent
        site: local
        catalogue: {catalogue}
      register: gone
    - name: Report
      ansible.builtin.copy:
        content: "{{{{ {{'created': created, 'again': again, 'gone': gone}} | to_json }}}}"
        dest: {out}
        mode: "0600"
"""


@pytest.mark.slow
def test_instance_module_drives_local_nodes(local_site, ssh_keypair, tmp_path):
    out = tmp_path / "result.json"
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK.format(catalogue=CATALOGUE, key=ssh_keypair.with_suffix(".pub").read_text().strip(), out=out))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(ROOT / "inventories" / "localhost.yml"), str(playbook)],
        capture_output=True, text=True, cwd=str(ROOT), timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    result = json.loads(out.read_text())
    assert result["created"]["changed"] and len(result["created"]["instances"]) == 2
    assert result["again"]["changed"] is False
    assert sorted(d["name"] for d in result["gone"]["deleted"]) == ["tmod-wn-0", "tmod-wn-1"]
    assert local_site.nodes(indigo_deployment="tmod") == []
