"""The controller's pieces that need no site: the lease, the slots it builds, what `indigo status` shows."""

from __future__ import annotations

import multiprocessing

import pytest

from tosca2ansible.elastic import controller, policy
from tosca2ansible.elastic.sources import NodeView
from tosca2ansible.runtime.state import DeploymentState

CONFIG = {"nodes": ["wn-0", "wn-1", "wn-2"], "min_instances": 0, "max_instances": 3, "max_booting": 3,
          "idle_time": 30, "boot_timeout": 60}


class Inst:
    def __init__(self, status="active"):
        self.status = status


def _hold(home, started, release):
    state = DeploymentState("d1", home)
    with controller.lease(state):
        started.set()
        release.wait(10)


def test_a_second_controller_cannot_take_the_lease(tmp_path):
    state = DeploymentState("d1", tmp_path)
    state.dir.mkdir(parents=True)
    started, release = multiprocessing.Event(), multiprocessing.Event()
    other = multiprocessing.Process(target=_hold, args=(tmp_path, started, release))
    other.start()
    try:
        assert started.wait(10)
        with pytest.raises(controller.LeaseHeld) as info:
            with controller.lease(state):
                pass
        assert info.value.exit_code == 4
    finally:
        release.set()
        other.join(10)
    with controller.lease(state):  # free again once the other pass ended
        pass
    assert oct((state.dir / "elastic.lock").stat().st_mode & 0o777) == "0o600"


def test_slots_keep_their_clock_while_their_state_holds():
    views = {"wn-0": NodeView(policy.IDLE, detail="IDLE+CLOUD"), "wn-1": NodeView(policy.BOOTING, wanted=True)}
    first = controller._slots(CONFIG, {0: Inst(), 1: Inst()}, views, {}, now=100.0)
    assert [(s.up, s.lrms, s.since) for s in first] == [(True, policy.IDLE, 100.0), (True, policy.BOOTING, 100.0),
                                                      (False, policy.OFF, 100.0)]
    seen = {s.name: {"key": "%s/%s" % ("up" if s.up else "off", s.lrms), "since": s.since} for s in first}
    views["wn-1"] = NodeView(policy.BUSY, jobs=1)
    later = controller._slots(CONFIG, {0: Inst(), 1: Inst()}, views, seen, now=150.0)
    assert later[0].since == 100.0 and later[1].since == 150.0  # wn-0 idle since 100; wn-1 changed state


def test_an_instance_the_lrms_has_not_seen_is_booting_and_an_error_instance_failed():
    slots = controller._slots(CONFIG, {2: Inst("error"), 0: Inst()}, {}, {}, now=0.0)
    assert slots[0].lrms == policy.BOOTING and not slots[0].instance_failed
    assert slots[2].instance_failed


def test_a_stopped_instance_killed_while_it_boots_is_failed_at_once():
    views = {"wn-1": NodeView(policy.BOOTING, wanted=True, detail="ALLOCATED+CLOUD+POWERING_UP")}
    slots = controller._slots(CONFIG, {1: Inst("stopped")}, views, {}, now=0.0)
    assert slots[1].instance_failed
    actions = policy.decide(tuple(slots), policy.Demand(), policy.Limits(max_nodes=3), now=1.0)
    assert actions.mark_failed == ("wn-1",) and actions.power_up == ()


def test_pool_rows_and_summary():
    report = {"deployment": "d1", "slots": {
        "wn-0": {"key": "up/busy", "since": 1, "detail": "ALLOCATED+CLOUD"},
        "wn-1": {"key": "off/off", "since": 1, "detail": "IDLE+CLOUD+POWERED_DOWN"},
        "wn-2": {"key": "up/booting", "since": 1, "detail": "IDLE+CLOUD+POWERING_UP"},
        "wn-10": {"key": "up/down", "since": 1, "detail": "DOWN+CLOUD"}},
        "pending_jobs": ["7"], "waits": ["1 node(s) wait: max_instances 3 reached"], "actions": {"power_up": ["wn-1"]}}
    rows = controller.pool_rows(report)
    assert [(r["name"], r["state"]) for r in rows] == [("wn-0", "busy"), ("wn-1", "powered off"), ("wn-2", "booting"),
                                                       ("wn-10", "failed")]
    line = controller.summary_line(report)
    assert "busy 1" in line and "power up wn-1" in line and "max_instances 3 reached" in line


def _reads(monkeypatch, outputs):
    """read_lrms answers each of ``outputs`` in turn (the last one from then on)."""
    calls = []

    def read(site, address, source):
        calls.append(address)
        return outputs[min(len(calls), len(outputs)) - 1]
    monkeypatch.setattr(controller, "read_lrms", read)
    return calls


def test_a_pass_waits_until_slurm_placed_a_burst_of_jobs(monkeypatch):
    from tosca2ansible.elastic.sources import SlurmSource
    first = {"nodes": "NodeName=wn-0 State=ALLOCATED+CLOUD+POWERED_DOWN\nNodeName=wn-1 State=IDLE+CLOUD+POWERED_DOWN",
             "jobs": "1|CONFIGURING|1|wn-0|None\n2|PENDING|1|(null)|None"}
    placed = {"nodes": "NodeName=wn-0 State=ALLOCATED+CLOUD+POWERED_DOWN\nNodeName=wn-1 State=ALLOCATED+CLOUD+POWERED_DOWN",
              "jobs": "1|CONFIGURING|1|wn-0|None\n2|CONFIGURING|1|wn-1|None"}
    calls = _reads(monkeypatch, [first, first, placed])
    views, demand = controller.observe_settled(None, "fe", SlurmSource(), ["wn-0", "wn-1"], settle=5, pause=0)
    assert len(calls) == 3 and views["wn-1"].wanted and demand.unplaced == ()


def test_a_pass_waits_for_unplaced_jobs_at_most_settle_seconds(monkeypatch):
    from tosca2ansible.elastic.sources import SlurmSource
    never = {"nodes": "", "jobs": "2|PENDING|1|(null)|None"}
    calls = _reads(monkeypatch, [never])
    _, demand = controller.observe_settled(None, "fe", SlurmSource(), ["wn-0"], settle=0.3, pause=0.05)
    assert demand.unplaced == ("2",) and 2 <= len(calls) <= 10
