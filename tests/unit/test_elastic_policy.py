"""Property tests of the elasticity policy (tosca2ansible/elastic/policy.py)."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from tosca2ansible.elastic import policy
from tosca2ansible.elastic.policy import BOOTING, BUSY, DOWN, DRAINED, DRAINING, IDLE, OFF, Demand, Limits, Slot

NOW = 10_000.0


@st.composite
def limits(draw):
    max_nodes = draw(st.integers(1, 8))
    return Limits(min_nodes=draw(st.integers(0, max_nodes)), max_nodes=max_nodes,
                  site_max=draw(st.one_of(st.none(), st.integers(0, 10))), max_booting=draw(st.integers(1, 5)),
                  idle_time=draw(st.sampled_from([0.0, 60.0, 300.0])), boot_timeout=draw(st.sampled_from([30.0, 600.0])),
                  lrms_decides_idle=draw(st.booleans()))


@st.composite
def slot(draw, index):
    up = draw(st.booleans())
    lrms = draw(st.sampled_from(policy.LRMS_STATES)) if up else draw(st.sampled_from([OFF, BOOTING, DOWN]))
    jobs = draw(st.integers(0, 3)) if lrms in (BUSY, DRAINING) else 0
    return Slot(index=index, name="wn-%d" % index, up=up, lrms=lrms, since=NOW - draw(st.sampled_from([0, 20, 100, 1000])),
                jobs=jobs, wanted=draw(st.booleans()), released=draw(st.booleans()) and lrms in (OFF, IDLE, DRAINED),
                instance_failed=up and draw(st.integers(0, 9)) == 0)


@st.composite
def pools(draw):
    lim = draw(limits())
    slots = tuple([draw(slot(i)) for i in range(lim.max_nodes)])
    demand = Demand(nodes=draw(st.integers(0, 10)), jobs=("1",))
    return slots, demand, lim


def by_name(slots):
    return {s.name: s for s in slots}


@settings(max_examples=400, deadline=None)
@given(pools())
def test_never_above_max_or_site_maximum(pool):
    slots, demand, lim = pool
    actions = policy.decide(slots, demand, lim, NOW)
    removed = set(actions.power_down) | set(actions.mark_failed)
    up_after = [s for s in slots if s.up and s.name not in removed] + list(actions.power_up)
    up_before = sum(1 for s in slots if s.up)
    assert not actions.power_up or len(up_after) <= lim.ceiling()
    assert len(up_after) <= max(lim.ceiling(), up_before)
    assert all(not by_name(slots)[n].up for n in actions.power_up)


@settings(max_examples=400, deadline=None)
@given(pools())
def test_never_powers_off_a_busy_node(pool):
    slots, demand, lim = pool
    actions = policy.decide(slots, demand, lim, NOW)
    named = by_name(slots)
    for name in actions.power_down + actions.mark_failed:
        assert not named[name].busy, named[name]
        assert named[name].lrms not in (BUSY, DRAINING)


@settings(max_examples=400, deadline=None)
@given(pools())
def test_max_booting_respected(pool):
    slots, demand, lim = pool
    actions = policy.decide(slots, demand, lim, NOW)
    removed = set(actions.power_down) | set(actions.mark_failed)
    booting = sum(1 for s in slots if s.up and s.lrms in (BOOTING, OFF) and s.name not in removed)
    assert not actions.power_up or booting + len(actions.power_up) <= lim.max_booting


@settings(max_examples=300, deadline=None)
@given(pools())
def test_boot_timeout_and_idle_time(pool):
    slots, demand, lim = pool
    actions = policy.decide(slots, demand, lim, NOW)
    for s in slots:
        if s.up and s.lrms == BOOTING and not s.busy and not s.released:
            assert (s.name in actions.mark_failed) == (s.instance_failed or NOW - s.since >= lim.boot_timeout)
        if s.up and s.lrms == IDLE and not s.released and not s.instance_failed and NOW - s.since < lim.idle_time:
            assert s.name not in actions.power_down
        if s.up and s.lrms == IDLE and lim.lrms_decides_idle and not s.released and not s.instance_failed:
            assert s.name not in actions.power_down


def _world_step(slots, actions, now):
    """The site and the LRMS after the actions: powered-up nodes join, removed ones go off."""
    named = by_name(slots)
    out = []
    for name, s in named.items():
        if name in actions.power_up:
            s = dataclasses.replace(s, up=True, lrms=IDLE, since=now, released=False, wanted=False)  # joins in time
        elif name in actions.power_down or name in actions.mark_failed:
            s = dataclasses.replace(s, up=False, lrms=OFF, since=now, jobs=0, released=False, wanted=False,
                                    instance_failed=False)
        elif s.up and s.lrms == BOOTING:
            s = dataclasses.replace(s, lrms=IDLE, since=now, wanted=False)
        elif s.up and s.lrms in (BUSY, DRAINING):
            s = dataclasses.replace(s, lrms=IDLE if s.lrms == BUSY else DRAINED, jobs=0, since=now)  # jobs end
        out.append(s)
    return tuple(sorted(out, key=lambda s: s.index))


@settings(max_examples=200, deadline=None)
@given(pools())
def test_converges_when_the_queue_empties(pool):
    slots, _demand, lim = pool
    lim = dataclasses.replace(lim, lrms_decides_idle=False)
    now = NOW
    empty = Demand()
    slots = tuple(dataclasses.replace(s, wanted=False) for s in slots)  # the queue is empty: nothing asked
    history = []
    for _ in range(30):
        actions = policy.decide(slots, empty, lim, now)
        history.append(actions.empty)
        slots = _world_step(slots, actions, now)
        now += max(lim.idle_time, lim.boot_timeout) + 1
    assert all(history[-5:]), "no fixed point after 30 passes: %r" % (slots,)
    up = sum(1 for s in slots if s.up)
    assert up == min(lim.min_nodes, lim.ceiling())


def test_slurm_named_nodes_boot_together_up_to_max_booting():
    slots = tuple(Slot(index=i, name="wn-%d" % i, up=False, lrms=BOOTING, wanted=True) for i in range(4))
    actions = policy.decide(slots, Demand(), Limits(max_nodes=4, max_booting=4), NOW)
    assert actions.power_up == ("wn-0", "wn-1", "wn-2", "wn-3")
    actions = policy.decide(slots, Demand(), Limits(max_nodes=4, max_booting=2), NOW)
    assert actions.power_up == ("wn-0", "wn-1")
    assert "max_booting 2" in actions.waits[0]


def test_site_maximum_is_the_reason_shown():
    slots = tuple(Slot(index=i, name="wn-%d" % i, up=False, wanted=True) for i in range(4))
    actions = policy.decide(slots, Demand(), Limits(max_nodes=4, site_max=1), NOW)
    assert actions.power_up == ("wn-0",)
    assert actions.waits == ("3 node(s) wait: site maximum 1 reached",)


def test_mixed_completing_draining_nodes_stay():
    slots = (Slot(0, "wn-0", True, BUSY, since=0, jobs=1, released=True),
             Slot(1, "wn-1", True, DRAINING, since=0, jobs=1),
             Slot(2, "wn-2", True, DRAINED, since=0),
             Slot(3, "wn-3", True, DOWN, since=0))
    actions = policy.decide(slots, Demand(), Limits(max_nodes=4, idle_time=0), NOW)
    assert actions.power_down == ("wn-2",)
    assert actions.mark_failed == ("wn-3",)


def test_min_nodes_kept_up():
    slots = tuple(Slot(index=i, name="wn-%d" % i, up=True, lrms=IDLE, since=0) for i in range(3))
    actions = policy.decide(slots, Demand(), Limits(min_nodes=1, max_nodes=3, idle_time=10), NOW)
    assert actions.power_down == ("wn-1", "wn-2")
    none_up = tuple(dataclasses.replace(s, up=False, lrms=OFF) for s in slots)
    assert policy.decide(none_up, Demand(), Limits(min_nodes=2, max_nodes=3), NOW).power_up == ("wn-0", "wn-1")
