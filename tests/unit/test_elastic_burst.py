"""Bursting across sites (tosca2ansible/elastic/burst.py) composed with the elasticity policy: property tests
(never above a site's maximum, the first site with room first, a failed site skipped, up slots stay) and the
issue's case: at most 1 worker on local-a and 2 on local-b, a 3-node job bursts to local-b."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tosca2ansible.elastic import burst, policy
from tosca2ansible.elastic.policy import IDLE, OFF, Demand, Limits, Slot

SITES = ["a", "b", "c"]


@st.composite
def cases(draw):
    maxima = [(s, draw(st.integers(0, 3))) for s in draw(st.permutations(SITES))[:draw(st.integers(1, 3))]]
    slots = ["wn-%d" % i for i in range(8)]
    up = {}
    for slot in draw(st.lists(st.sampled_from(slots), unique=True, max_size=4)):
        up[slot] = draw(st.sampled_from(SITES))
    asked = draw(st.lists(st.sampled_from(slots), unique=True, max_size=8))
    failed = set(draw(st.lists(st.sampled_from(SITES), unique=True, max_size=2)))
    return up, asked, maxima, failed


@settings(max_examples=400, deadline=None)
@given(cases())
def test_placement_respects_every_site_maximum_and_order(case):
    up, asked, maxima, failed = case
    chosen, waits = burst.place(up, asked, maxima, failed)
    assert not set(chosen) & set(up)  # a slot that is up is never moved or made twice
    assert set(chosen) <= set(asked)
    limits = dict(maxima)
    for site, slots in burst.by_site(chosen).items():
        assert site in limits and site not in failed
        before = sum(1 for s in up.values() if s == site)
        assert before + len(slots) <= limits[site]
    # first site with room first: a slot goes past a site only if that site is full or failed
    for slot, site in chosen.items():
        for earlier, maximum in maxima[:[s for s, _ in maxima].index(site)]:
            here = sum(1 for s in list(up.values()) + list(chosen.values()) if s == earlier)
            assert earlier in failed or here >= maximum
    held = len([s for s in asked if s not in up]) - len(chosen)
    assert bool(waits) == (held > 0)
    if held:  # every usable site is full
        for site, maximum in maxima:
            assert site in failed or sum(1 for s in list(up.values()) + list(chosen.values()) if s == site) >= maximum


def test_ceiling_is_the_sum_of_the_maxima_bounded_by_max_instances():
    assert burst.ceiling([("local-a", 1), ("local-b", 2)]) == 3
    assert burst.ceiling([("local-a", 1), ("local-b", 2)], max_nodes=2) == 2
    assert burst.ceiling([("x", -1)]) == 0


def test_a_three_node_job_bursts_to_the_second_site_then_idles_out():
    maxima = [("local-a", 1), ("local-b", 2)]
    limits = Limits(min_nodes=0, max_nodes=3, site_max=burst.ceiling(maxima, 3), max_booting=3, idle_time=60.0)
    slots = tuple(Slot(index=i, name="wn-%d" % i, up=False, wanted=True) for i in range(3))
    actions = policy.decide(slots, Demand(nodes=3, jobs=("7",)), limits, 1000.0)
    assert actions.power_up == ("wn-0", "wn-1", "wn-2")
    chosen, waits = burst.place({}, actions.power_up, maxima)
    assert chosen == {"wn-0": "local-a", "wn-1": "local-b", "wn-2": "local-b"} and waits == []
    assert burst.by_site(chosen) == {"local-a": ["wn-0"], "local-b": ["wn-1", "wn-2"]}
    # local-a fails to boot its node in this pass: the slot goes to the next site with room
    chosen, waits = burst.place({}, actions.power_up, maxima, failed_sites={"local-a"})
    assert chosen == {"wn-0": "local-b", "wn-1": "local-b"} and waits[0].startswith("1 node(s) wait")
    # the job ended: idle nodes past idle_time are powered down on whatever site they are
    idle = tuple(Slot(index=i, name="wn-%d" % i, up=True, lrms=IDLE, since=0.0) for i in range(3))
    assert policy.decide(idle, Demand(), limits, 1000.0).power_down == ("wn-0", "wn-1", "wn-2")
    # a 4th node is never granted: the pool's ceiling is the sum of the site maxima
    busy = tuple(Slot(index=i, name="wn-%d" % i, up=True, lrms=policy.BUSY, jobs=1, since=0.0) for i in range(3))
    more = busy + (Slot(index=3, name="wn-3", up=False, lrms=OFF, wanted=True),)
    limits4 = Limits(min_nodes=0, max_nodes=4, site_max=burst.ceiling(maxima, 4), max_booting=4, idle_time=600.0)
    held = policy.decide(more, Demand(nodes=1), limits4, 1000.0)
    assert held.power_up == () and "site maximum 3 reached" in held.waits[0]
