"""`--site auto` per node group (brokering.rank_groups, deploy.candidate_sites): each placed group is ranked
alone on its allowed sites, the following groups together; quota counts everything a site is given."""

from __future__ import annotations


import pytest

from tosca2ansible import brokering
from tosca2ansible.errors import DeploymentFailed
from tosca2ansible.runtime import deploy
from tests.helpers import ROOT

EXAMPLE = ROOT / "examples" / "hybrid_slurm_cluster.yaml"
CATALOGUE = str(ROOT / "inventories" / "hybrid" / "sites.yml")
broker = brokering.broker


def site(name, priority, instances=20):
    return {"name": name, "kind": "local",
            "images": [{"name": "debian-13", "distribution": "debian", "version": "13"}],
            "flavors": [{"name": "small", "num_cpus": 1, "mem_mb": 1024, "disk_gb": 10, "gpus": 0}],
            "sla": [{"id": "sla-" + name, "group": "default", "priority": priority,
                     "quota": {"instances": instances, "cores": 40, "ram_mb": 81920, "gpus": 0}}]}


def node(name, count=1):
    return broker.NodeRequest(name=name, count=count, num_cpus=1, mem_mb=1024, os_distribution="debian", os_version="13")


def test_placed_groups_go_to_their_sites_and_the_others_follow_the_ranking():
    request = broker.Request(nodes=[node("front"), node("wn", 2), node("db")], node_sites={"front": ["a"], "wn": ["b"]})
    choice = brokering.rank_groups(request, [site("a", 1), site("b", 2), site("c", 3)])
    assert choice.node_sites == {"front": "a", "wn": "b"} and choice.problems == []
    assert choice.following_sites == ["a", "b", "c"]  # db: best SLA priority first
    assert any(line.startswith("rank wn kept b") for line in choice.lines)
    assert any(line.startswith("rank wn dropped a") for line in choice.lines)


def test_a_group_allowed_on_two_sites_takes_the_best_with_room():
    # a takes one instance: front is placed there first, so wn (allowed on a and b) goes to b
    request = broker.Request(nodes=[node("front"), node("wn")], node_sites={"front": ["a"], "wn": ["a", "b"]})
    choice = brokering.rank_groups(request, [site("a", 1, instances=1), site("b", 2)])
    assert choice.node_sites == {"front": "a", "wn": "b"}
    assert any("dropped a: cannot also take front placed there" in line for line in choice.lines)
    assert choice.following_sites == ["a"]  # every group placed: the first group's site is the deployment's


def test_node_auto_ranks_that_group_over_every_site_and_fixed_groups_count_in_quota():
    request = broker.Request(nodes=[node("front"), node("wn", 2)])
    choice = brokering.rank_groups(request, [site("a", 1, instances=2), site("b", 2)], auto_nodes={"wn"},
                                   fixed={"front": "a"})
    assert choice.node_sites == {"wn": "b"}  # a would hold 3 instances with the front-end: over its quota
    choice = brokering.rank_groups(request, [site("a", 1, instances=3), site("b", 2)], auto_nodes={"wn"},
                                   fixed={"front": "a"})
    assert choice.node_sites == {"wn": "a"}


def test_following_groups_skip_a_site_full_with_placed_ones_and_nothing_fits_is_a_problem():
    request = broker.Request(nodes=[node("front"), node("wn", 2)], node_sites={"front": ["a"]})
    choice = brokering.rank_groups(request, [site("a", 1, instances=2), site("b", 2)])
    assert choice.node_sites == {"front": "a"} and choice.following_sites == ["b"]
    request = broker.Request(nodes=[node("front", 30)], node_sites={"front": ["a"]})
    assert "node group front: no site takes it" in brokering.rank_groups(request, [site("a", 1)]).problems[0]


def test_site_auto_on_the_hybrid_example_places_each_group(monkeypatch):
    monkeypatch.setattr(brokering, "probe_all", lambda sites: ({}, {}))  # no node is booted: no monitoring data
    node_sites = {}
    sites = deploy.candidate_sites(["auto"], CATALOGUE, EXAMPLE, {}, "default", node_sites=node_sites)
    assert node_sites == {"lrms_server": "local-a", "lrms_wn": "local-b"}
    assert [s["name"] for s in sites] == ["local-a"]
    # a software node names its Compute; NODE=auto lets the broker choose (local-a: best SLA priority)
    node_sites = {"wn_node": "auto"}
    sites = deploy.candidate_sites(["local-b"], CATALOGUE, EXAMPLE, {}, "default", node_sites=node_sites)
    assert node_sites == {"lrms_server": "local-a", "lrms_wn": "local-a"} and [s["name"] for s in sites] == ["local-b"]


def test_a_group_no_site_takes_stops_before_anything_is_compiled(monkeypatch):
    monkeypatch.setattr(brokering, "probe_all", lambda sites: ({}, {}))
    with pytest.raises(DeploymentFailed, match="node group lrms_wn: no site takes it"):
        deploy.candidate_sites(["auto"], CATALOGUE, EXAMPLE, {"wn_num": "50"}, "default", node_sites={})
