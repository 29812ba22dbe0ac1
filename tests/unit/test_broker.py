"""The broker core: every hard filter, every scoring rule, and INDIGO's shortcomings fixed."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.indigo.paas.plugins.module_utils import broker
from ansible_collections.indigo.paas.plugins.module_utils.broker import NodeRequest, Request


def site(name, **kw):
    base = {
        "name": name,
        "kind": "openstack",
        "flavors": [
            {"name": "small", "num_cpus": 1, "mem_mb": 2048, "disk_gb": 20},
            {"name": "large", "num_cpus": 8, "mem_mb": 16384, "disk_gb": 80},
        ],
        "images": [{"name": "ubuntu-22.04", "distribution": "ubuntu", "version": "22.04"}],
        "sla": [{"group": "default", "priority": 1, "quota": {"instances": 20, "cores": 40, "ram_mb": 81920, "gpus": 0}}],
    }
    base.update(kw)
    return base


def req(**kw):
    nodes = kw.pop("nodes", [NodeRequest("wn", count=2, num_cpus=2, mem_mb=4096)])
    return Request(nodes=nodes, **kw)


def by_site(rankings):
    return {r.site: r for r in rankings}


def test_quota_is_a_hard_filter_compared_with_the_request():
    tight = site("tight", sla=[{"group": "default", "priority": 1, "quota": {"cores": 8}}])
    result = by_site(broker.rank(req(nodes=[NodeRequest("wn", count=6, num_cpus=2)]), [tight]))
    assert not result["tight"].kept
    assert "dropped: quota 8 cores, in use 0, request 12" in result["tight"].reasons


def test_quota_counts_current_usage():
    s = site("a", sla=[{"group": "default", "priority": 1, "quota": {"instances": 5}}])
    usage = {"a": {"instances": {"used": 4}}}
    r = broker.rank(req(), [s], health={"a": {"reachable": True, "latency_ms": 5}}, usage=usage)[0]
    assert not r.kept and "dropped: quota 5 instances, in use 4, request 2" in r.reasons


def test_site_without_monitoring_is_kept_with_a_penalty():
    monitored, silent = site("monitored"), site("silent")
    health = {"monitored": {"reachable": True, "latency_ms": 1000}}
    result = by_site(broker.rank(req(), [monitored, silent], health=health))
    assert result["silent"].kept
    assert any("no monitoring data" in r for r in result["silent"].reasons)
    assert result["silent"].score < result["monitored"].score


def test_unreachable_site_is_dropped_with_the_error():
    r = broker.rank(req(), [site("down")], health={"down": {"reachable": False, "error": "connection refused"}})[0]
    assert not r.kept and "dropped: unreachable (connection refused)" in r.reasons


def test_gpu_flavor_filter_names_what_is_missing():
    r = broker.rank(req(nodes=[NodeRequest("gpu", num_cpus=4, mem_mb=8192, gpus=2, gpu_model="V100")]), [site("cpuonly")])[0]
    assert not r.kept
    assert "dropped: no flavor with >= 4 CPU, 8192 MB, 2 GPUs V100 for node gpu" in r.reasons


def test_smallest_fitting_flavor_is_chosen():
    r = broker.rank(req(nodes=[NodeRequest("fe", num_cpus=2, mem_mb=4096)]), [site("a")])[0]
    assert r.kept and r.flavors == {"fe": "large"}
    r = broker.rank(req(nodes=[NodeRequest("fe", num_cpus=1, mem_mb=1024)]), [site("a")])[0]
    assert r.flavors == {"fe": "small"}


def test_site_sizing_freely_has_no_flavor_filter():
    local = site("local", kind="local", flavors=None, images=[])
    r = broker.rank(req(nodes=[NodeRequest("fe", num_cpus=2, mem_mb=4096)]), [local])[0]
    assert r.kept and r.flavors == {"fe": None}


def test_image_by_name_and_by_distribution():
    s = site("a")
    assert broker.rank(req(nodes=[NodeRequest("n", image="centos-7")]), [s])[0].reasons[0] == "dropped: no image named centos-7 for node n"
    assert broker.rank(req(nodes=[NodeRequest("n", os_distribution="ubuntu", os_version="22.04")]), [s])[0].kept
    r = broker.rank(req(nodes=[NodeRequest("n", os_distribution="debian", os_version="13")]), [s])[0]
    assert not r.kept and any("no image of debian 13" in x for x in r.reasons)


def test_sla_allowed_images():
    s = site("a", sla=[{"group": "default", "priority": 1, "allowed_images": ["other"]}])
    r = broker.rank(req(nodes=[NodeRequest("n", image="ubuntu-22.04")]), [s])[0]
    assert "dropped: image ubuntu-22.04 not allowed by the SLA of group default for node n" in r.reasons


def test_group_without_sla_is_dropped():
    r = broker.rank(req(group="biology"), [site("a")])[0]
    assert "dropped: no SLA for group biology" in r.reasons


def test_placement_pins_and_forbids():
    sites = [site("a"), site("b"), site("c")]
    result = by_site(broker.rank(req(pinned_sites=["b"], forbidden_sites=["c"]), sites))
    assert [s for s, r in result.items() if r.kept] == ["b"]
    assert "dropped: placement policy forbids this site" in result["c"].reasons


def test_capabilities_infiniband_sgx_cuda():
    plain = site("plain")
    rich = site("rich", flavors=[{"name": "g", "num_cpus": 8, "mem_mb": 32768, "gpus": 2, "gpu_model": "Tesla V100", "gpu_vendor": "NVIDIA"}],
                capabilities={"infiniband": True, "sgx": True, "gpu": {"cuda_version": "12.2"}},
                sla=[{"group": "default", "priority": 1, "quota": {"gpus": 8}}])
    node = NodeRequest("n", num_cpus=4, mem_mb=8192, gpus=1, cuda_version="11.8", infiniband=True, sgx=True)
    s = site("rich2", **{k: v for k, v in rich.items() if k != "name"})
    s["capabilities"] = {"infiniband": True, "sgx": True, "gpu": {"cuda_version": "11.2"}}
    result = by_site(broker.rank(req(nodes=[node]), [plain, rich, s]))
    assert result["rich"].kept
    assert "dropped: node n needs InfiniBand" in result["plain"].reasons
    assert "dropped: node n needs CUDA >= 11.8 (site has 11.2)" in result["rich2"].reasons


def test_data_locality_bonus_and_requirement():
    holder = site("holder", data={"onedata_spaces": ["space1"]})
    other = site("other")
    result = by_site(broker.rank(req(data=["space1"]), [other, holder]))
    assert result["holder"].score > result["other"].score and result["other"].kept
    result = by_site(broker.rank(req(data=["space1"], data_required=True), [other, holder]))
    assert "dropped: does not host required data space1" in result["other"].reasons


def test_sla_priority_outweighs_headroom_by_default_and_rules_are_data():
    preferred = site("preferred", sla=[{"group": "default", "priority": 1, "quota": {"cores": 10}}])
    roomy = site("roomy", sla=[{"group": "default", "priority": 3, "quota": {"cores": 1000}}])
    assert broker.rank(req(), [roomy, preferred])[0].site == "preferred"
    rules = {"weights": {"sla_priority": 0.0, "headroom": 10.0}}
    assert broker.rank(req(), [roomy, preferred], rules=rules)[0].site == "roomy"


def test_price_prefers_cheaper_site():
    cheap, dear = site("cheap", price_per_core_hour=0.01), site("dear", price_per_core_hour=1.0)
    assert broker.rank(req(), [dear, cheap])[0].site == "cheap"


def test_split_places_nodes_where_they_fit():
    gpu = site("gpu", flavors=[{"name": "g", "num_cpus": 8, "mem_mb": 32768, "gpus": 1}],
               sla=[{"group": "default", "priority": 2, "quota": {"instances": 10, "gpus": 4}}])
    cpu = site("cpu")
    request = req(nodes=[NodeRequest("fe", num_cpus=1, mem_mb=1024), NodeRequest("wn", count=2, num_cpus=4, mem_mb=8192, gpus=1)])
    assert not any(r.kept for r in broker.rank(request, [cpu, site("nogpu")]))
    placement = broker.split(request, [cpu, gpu])
    assert placement["wn"] == "gpu" and placement["fe"] in ("cpu", "gpu")
    assert broker.split(req(nodes=[NodeRequest("x", gpus=4)]), [cpu]) is None


def test_disabled_site():
    assert broker.rank(req(), [site("off", enabled=False)])[0].reasons == ["dropped: site disabled in the catalogue"]


@pytest.mark.parametrize("dimension, limit, label, need", [
    ("instances", 3, "instances", 4), ("cores", 7, "cores", 8), ("ram_mb", 16000, "MB RAM", 16384), ("gpus", 1, "GPUs", 4),
])
def test_every_quota_dimension_is_a_hard_filter(dimension, limit, label, need):
    gpu_flavor = [{"name": "g", "num_cpus": 8, "mem_mb": 32768, "gpus": 2}]
    s = site("q", flavors=gpu_flavor, sla=[{"group": "default", "priority": 1, "quota": {dimension: limit}}])
    request = req(nodes=[NodeRequest("wn", count=4, num_cpus=2, mem_mb=4096, gpus=1)])
    r = broker.rank(request, [s])[0]
    assert not r.kept
    assert r.reasons == ["dropped: quota %d %s, in use 0, request %d" % (limit, label, need),
                         "no monitoring data: kept with a penalty of 3"]
    roomy = site("q", flavors=gpu_flavor, sla=[{"group": "default", "priority": 1, "quota": {dimension: need}}])
    assert broker.rank(request, [roomy])[0].kept  # exactly at the limit fits


def test_sla_priority_is_one_weighted_criterion_not_a_sort_key():
    # INDIGO sorted by the SLA weight first: a priority-2 site hosting the data, close and roomy could
    # never beat a priority-1 site that is far away and nearly full. Here the weighted sum decides.
    near = site("near", data={"onedata_spaces": ["space1"]},
                sla=[{"group": "default", "priority": 2, "quota": {"cores": 1000}}])
    far = site("far", sla=[{"group": "default", "priority": 1, "quota": {"cores": 5}}])
    health = {"near": {"reachable": True, "latency_ms": 5}, "far": {"reachable": True, "latency_ms": 900}}
    ranking = broker.rank(req(data=["space1"]), [far, near], health=health)
    assert [r.site for r in ranking] == ["near", "far"] and all(r.kept for r in ranking)
    assert ranking[1].criteria["sla_priority"] > ranking[0].criteria["sla_priority"]


def test_unmonitored_site_is_used_when_it_is_the_best_fit():
    # INDIGO scored a site without monitoring data 0 and never chose it
    silent = site("silent", data={"onedata_spaces": ["space1"]})
    full = site("full", sla=[{"group": "default", "priority": 1, "quota": {"cores": 2}}])
    ranking = broker.rank(req(data=["space1"]), [full, silent], health={"full": {"reachable": True, "latency_ms": 1}})
    assert ranking[0].site == "silent" and ranking[0].kept
    assert ranking[0].reasons[-1] == "no monitoring data: kept with a penalty of 3"


def test_no_monitoring_penalty_is_data():
    # b is cheaper (price criterion 0.8 better) but unmonitored: the penalty decides
    a, b = site("a", price_per_core_hour=1.0), site("b", price_per_core_hour=0.0)
    health = {"a": {"reachable": True, "latency_ms": 10000}}
    assert broker.rank(req(), [a, b], health=health)[0].site == "a"
    ranking = broker.rank(req(), [a, b], health=health, rules={"no_monitoring_penalty": 0})
    assert ranking[0].site == "b" and "no monitoring data: kept with a penalty of 0" in ranking[0].reasons


def test_every_failing_filter_is_reported_not_only_the_first():
    s = site("bad", sla=[{"group": "default", "priority": 1, "quota": {"instances": 1}}])
    request = req(nodes=[NodeRequest("wn", count=2, num_cpus=64, image="centos-7")], forbidden_sites=["bad"])
    r = broker.rank(request, [s], health={"bad": {"reachable": False, "error": "timeout"}})[0]
    assert r.reasons == [
        "dropped: placement policy forbids this site",
        "dropped: unreachable (timeout)",
        "dropped: no flavor with >= 64 CPU, 512 MB for node wn",
        "dropped: no image named centos-7 for node wn",
        "dropped: quota 1 instances, in use 0, request 2",
    ]


def test_nodes_with_the_same_needs_each_get_their_reason_and_flavor():
    nodes = [NodeRequest("a", num_cpus=2, mem_mb=4096), NodeRequest("b", num_cpus=16), NodeRequest("c", num_cpus=2, mem_mb=4096),
             NodeRequest("d", num_cpus=16)]
    r = broker.rank(req(nodes=nodes), [site("s")])[0]
    assert [x for x in r.reasons if "flavor" in x] == ["dropped: no flavor with >= 16 CPU, 512 MB for node b",
                                                      "dropped: no flavor with >= 16 CPU, 512 MB for node d"]
    assert r.flavors == {"a": "large", "b": None, "c": "large", "d": None}


def test_per_node_placement_policy():
    request = req(nodes=[NodeRequest("fe"), NodeRequest("wn")], node_sites={"wn": ["b"], "fe": []})
    result = by_site(broker.rank(request, [site("a"), site("b")]))
    assert result["a"].reasons[0] == "dropped: placement policy puts node wn on b"
    assert result["b"].kept


def test_gpu_vendor_must_match():
    amd = site("amd", flavors=[{"name": "g", "num_cpus": 8, "mem_mb": 32768, "gpus": 2, "gpu_vendor": "AMD", "gpu_model": "MI100"}],
               sla=[{"group": "default", "priority": 1, "quota": {"gpus": 8}}])
    node = NodeRequest("n", num_cpus=4, mem_mb=8192, gpus=1, gpu_vendor="NVIDIA")
    assert not broker.rank(req(nodes=[node]), [amd])[0].kept
    node.gpu_vendor = "amd"  # vendor names compare case-insensitively
    assert broker.rank(req(nodes=[node]), [amd])[0].flavors == {"n": "g"}


def test_sla_allowed_images_by_distribution():
    s = site("a", sla=[{"group": "default", "priority": 1, "allowed_images": ["other"]}])
    r = broker.rank(req(nodes=[NodeRequest("n", os_distribution="ubuntu")]), [s])[0]
    assert "dropped: no ubuntu image allowed by the SLA of group default for node n" in r.reasons


def test_equal_scores_are_ordered_by_name():
    ranking = broker.rank(req(), [site("c"), site("a"), site("b")])
    assert [r.site for r in ranking] == ["a", "b", "c"] and len({r.score for r in ranking}) == 1


def test_request_from_dict_ignores_unknown_keys():
    request = broker.Request.from_dict({"nodes": [{"name": "fe", "num_cpus": 2, "colour": "red"}], "group": "g", "x": 1})
    assert request.group == "g" and request.nodes[0].num_cpus == 2


# ---- property-based: the chosen site satisfies every hard constraint; ranking is deterministic ----

flavor_st = st.fixed_dictionaries({
    "name": st.sampled_from(["f1", "f2", "f3", "f4"]),
    "num_cpus": st.integers(1, 16), "mem_mb": st.integers(256, 65536),
    "disk_gb": st.integers(0, 200), "gpus": st.integers(0, 4),
})
site_st = st.builds(
    lambda n, fl, q, pr, img, reach: (
        {"name": "s%d" % n, "flavors": fl,
         "images": [{"name": i, "distribution": i.split("-")[0], "version": i.split("-")[1]} for i in img],
         "sla": [{"group": "default", "priority": pr, "quota": q}]},
        reach),
    st.integers(0, 50), st.lists(flavor_st, min_size=0, max_size=4),
    st.fixed_dictionaries({"instances": st.integers(0, 30), "cores": st.integers(0, 100), "ram_mb": st.integers(0, 200000), "gpus": st.integers(0, 8)}),
    st.integers(1, 5), st.lists(st.sampled_from(["ubuntu-22.04", "debian-13", "centos-7"]), unique=True),
    st.sampled_from([True, False, None]),
)
node_st = st.builds(NodeRequest, name=st.sampled_from(["fe", "wn", "db"]), count=st.integers(1, 6),
                    num_cpus=st.integers(1, 8), mem_mb=st.integers(256, 16384), gpus=st.integers(0, 2),
                    os_distribution=st.sampled_from([None, "ubuntu", "debian"]))


def independent_check(site_dict, request, health):
    """Re-derive every hard constraint without the broker's code paths."""
    if health is not None and not health["reachable"]:
        return False
    sla = site_dict["sla"][0]
    quota = sla["quota"]
    totals = request.totals
    if any(totals[k] > quota[k] for k in quota):
        return False
    for n in request.nodes:
        flavors = site_dict["flavors"]
        if flavors and not any(f["num_cpus"] >= n.num_cpus and f["mem_mb"] >= n.mem_mb and f["gpus"] >= n.gpus and f["disk_gb"] >= n.disk_gb for f in flavors):
            return False
        if n.os_distribution and site_dict["images"] and not any(i["distribution"] == n.os_distribution for i in site_dict["images"]):
            return False
    return True


@settings(max_examples=150, deadline=None)
@given(st.lists(site_st, min_size=1, max_size=8, unique_by=lambda s: s[0]["name"]), st.lists(node_st, min_size=1, max_size=3, unique_by=lambda n: n.name), st.randoms(use_true_random=False))
def test_property_chosen_site_satisfies_constraints_and_ranking_is_deterministic(entries, nodes, rnd):
    sites = [s for s, _ in entries]
    health = {s["name"]: {"reachable": reach, "latency_ms": 10} for s, reach in entries if reach is not None}
    request = Request(nodes=nodes)
    first = broker.rank(request, sites, health=health)
    for r in first:
        s = next(x for x in sites if x["name"] == r.site)
        assert r.kept == independent_check(s, request, health.get(r.site)), r.reasons
    shuffled = list(sites)
    rnd.shuffle(shuffled)
    assert [x.to_dict() for x in broker.rank(request, shuffled, health=health)] == [x.to_dict() for x in first]
    kept = [r for r in first if r.kept]
    assert kept == first[: len(kept)]
    assert [r.score for r in kept] == sorted((r.score for r in kept), reverse=True)
