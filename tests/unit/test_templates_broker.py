"""The broker rules of issue 15 on one catalogue of three sites (GPU-less, GPU, and one holding g5.large):
a node naming `instance_type: g5.large` keeps only the last; a `4 GiB` node fits a 4096 MB flavor at every
site. The request is read from a template, as `indigo deploy` reads it."""

from __future__ import annotations

from ansible_collections.indigo.paas.plugins.module_utils import broker
from tests.helpers import broker_request, compute, tosca

TEMPLATE = tosca("node_templates:\n" + compute("vm", host="{num_cpus: 2, mem_size: 4 GiB%s}",
                                          os="{type: linux, distribution: ubuntu, version: 22.04}"))

CPU_4096 = {"name": "m1.medium", "num_cpus": 2, "mem_mb": 4096}
CATALOGUE = [
    {"name": "no-gpu", "flavors": [CPU_4096, {"name": "m1.large", "num_cpus": 4, "mem_mb": 8192}]},
    {"name": "gpu", "flavors": [CPU_4096, {"name": "g1.gpu", "num_cpus": 8, "mem_mb": 16384, "gpus": 1,
                                           "gpu_vendor": "NVIDIA"}]},
    {"name": "g5", "flavors": [CPU_4096, {"name": "g5.large", "num_cpus": 2, "mem_mb": 8192, "gpus": 1,
                                          "gpu_vendor": "NVIDIA"}]},
]


def _sites():
    return [dict(entry, kind="openstack", sla=[{"group": "default"}],
                 images=[{"name": "ubuntu-22.04", "distribution": "Ubuntu", "version": "22.04"}]) for entry in CATALOGUE]


def _request(tmp_path, extra=""):
    return broker_request(tmp_path, TEMPLATE % extra)


def test_a_4_gib_node_fits_a_4096_mb_flavor_at_every_site(tmp_path):
    request = _request(tmp_path)
    assert request.nodes[0].mem_mb == 4096
    ranked = broker.rank(request, _sites())
    assert sorted(r.site for r in ranked if r.kept) == ["g5", "gpu", "no-gpu"]
    assert {r.site: r.flavors for r in ranked} == {name: {"vm": "m1.medium"} for name in ("g5", "gpu", "no-gpu")}


def test_instance_type_g5_large_keeps_only_the_site_holding_it(tmp_path):
    request = _request(tmp_path, ", instance_type: g5.large")
    assert request.nodes[0].instance_type == "g5.large"
    ranked = {r.site: r for r in broker.rank(request, _sites())}
    assert [name for name, r in ranked.items() if r.kept] == ["g5"]
    assert ranked["g5"].flavors == {"vm": "g5.large"}  # the named flavor, though m1.medium is smaller and fits
    for name in ("no-gpu", "gpu"):
        assert ranked[name].dropped == ["no flavor g5.large (the node's instance_type) for node vm"]
