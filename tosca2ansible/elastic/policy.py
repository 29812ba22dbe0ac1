"""The elasticity policy: one pure function from what is (queue, worker slots, limits, clock) to what to do.

Nothing here talks to a site or an LRMS, so the rules can be property-tested (tests/unit/test_elastic_policy.py):
never above the pool maximum or the site's maximum, never a busy node powered off, at most
``max_booting`` nodes booting, boot timeouts and idle times respected, repeated passes converge.

A pool has ``max_nodes`` fixed slots (index 0..max-1, each with a fixed LRMS node name). A slot is
*up* when its instance exists on the site (tags are the only truth), *off* otherwise.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

# What the LRMS says about a node (each source maps its own states onto these).
OFF = "off"            # powered down / not in the pool
BOOTING = "booting"    # asked for (or instance up) but not yet joined
IDLE = "idle"          # joined, runs nothing
BUSY = "busy"          # runs or finishes a job: ALLOCATED, MIXED, COMPLETING, claimed startd
DRAINING = "draining"  # drained while still running jobs (busy until its jobs end)
DRAINED = "drained"    # drained and empty
DOWN = "down"          # failed in the LRMS (not responding, resume timeout)
LRMS_STATES = (OFF, BOOTING, IDLE, BUSY, DRAINING, DRAINED, DOWN)


@dataclasses.dataclass(frozen=True)
class Slot:
    """One worker slot of the pool."""

    index: int
    name: str                      # the LRMS node name (fixed per slot)
    up: bool                       # an instance with this slot's tags exists on the site
    lrms: str = OFF                # one of LRMS_STATES
    since: float = 0.0             # when the slot entered its current state (clock seconds)
    jobs: int = 0                  # jobs running on the node
    wanted: bool = False           # the LRMS asked for this node (Slurm POWERING_UP)
    released: bool = False         # the LRMS let this node go (Slurm POWERING_DOWN / POWERED_DOWN)
    instance_failed: bool = False  # the site reports the instance in error

    @property
    def busy(self) -> bool:
        return self.jobs > 0 or self.lrms in (BUSY, DRAINING)


@dataclasses.dataclass(frozen=True)
class Demand:
    """What waits in the queue beyond the nodes the LRMS named itself."""

    nodes: int = 0                 # nodes the waiting jobs need (sources without power hooks); idle and
                                   # booting nodes of the pool count against it
    jobs: Tuple[str, ...] = ()     # ids of the waiting jobs (the trigger, journaled)
    unplaced: Tuple[str, ...] = ()  # waiting jobs the scheduler has not looked at yet (Slurm reason None):
                                    # the nodes they will want are not named yet


@dataclasses.dataclass(frozen=True)
class Limits:
    min_nodes: int = 0
    max_nodes: int = 1
    site_max: Optional[int] = None  # this site's share (quota, or a hybrid burst split); None: no limit
    max_booting: int = 4
    idle_time: float = 300.0        # seconds idle before power-off (sources that do not decide it)
    boot_timeout: float = 600.0     # seconds from power-up to joined before the node counts as failed
    lrms_decides_idle: bool = False  # Slurm's SuspendTime releases nodes itself

    def ceiling(self) -> int:
        return self.max_nodes if self.site_max is None else min(self.max_nodes, self.site_max)


@dataclasses.dataclass(frozen=True)
class Actions:
    power_up: Tuple[str, ...] = ()
    power_down: Tuple[str, ...] = ()
    mark_failed: Tuple[str, ...] = ()     # down in the LRMS, jobs requeued, then removed like power_down
    waits: Tuple[str, ...] = ()           # why requested nodes are not powered up now

    @property
    def empty(self) -> bool:
        return not (self.power_up or self.power_down or self.mark_failed)


def _failed(slot: Slot, limits: Limits, now: float) -> bool:
    if not slot.up or slot.busy:
        return False  # a node running a job is never removed, failed or not: it is left to finish
    if slot.instance_failed:
        return True
    if slot.lrms == DOWN:
        return True
    return slot.lrms in (BOOTING, OFF) and not slot.released and now - slot.since >= limits.boot_timeout


def _idle_out(slot: Slot, limits: Limits, now: float) -> bool:
    if not slot.up or slot.busy or slot.wanted:
        return False
    if slot.released or slot.lrms == DRAINED:
        return True
    if slot.lrms == OFF:
        return not slot.wanted  # an instance the LRMS does not count as powered: an orphan of a past pass
    return not limits.lrms_decides_idle and slot.lrms == IDLE and now - slot.since >= limits.idle_time


def decide(slots: Tuple[Slot, ...], demand: Demand, limits: Limits, now: float) -> Actions:
    """The actions of one reconcile pass."""
    failed = [s for s in slots if _failed(s, limits, now)]
    failed_names = {s.name for s in failed}
    leaving = [s for s in slots if s.name not in failed_names and _idle_out(s, limits, now)]
    staying = [s for s in slots if s.up and s.name not in failed_names and s not in leaving]
    # keep min_nodes up: cancel idle power-offs (lowest index first stays) while below the minimum
    leaving.sort(key=lambda s: s.index)
    floor = min(limits.min_nodes, limits.ceiling())
    while leaving and len(staying) < floor and not leaving[0].released:
        staying.append(leaving.pop(0))
    ceiling = limits.ceiling()
    room = max(0, ceiling - len(staying))
    booting = sum(1 for s in staying if s.lrms in (BOOTING, OFF))
    boot_room = max(0, limits.max_booting - booting)
    # what is asked: nodes the LRMS named, then anonymous demand, then the minimum
    off = sorted((s for s in slots if not s.up), key=lambda s: s.index)
    named = [s for s in off if s.wanted]
    others = [s for s in off if not s.wanted]
    coming = sum(1 for s in staying if s.lrms in (BOOTING, OFF, IDLE) and not s.busy)
    anonymous = max(demand.nodes - coming, floor - len(staying) - len(named), 0)
    asked = named + others[:anonymous]
    granted = asked[:min(room, boot_room)]
    waits = []
    if len(granted) < len(asked):
        held = len(asked) - len(granted)
        if room < len(asked):
            if limits.site_max is not None and limits.site_max < limits.max_nodes and len(staying) + len(asked) > limits.site_max:
                waits.append("%d node(s) wait: site maximum %d reached" % (held, limits.site_max))
            else:
                waits.append("%d node(s) wait: max_instances %d reached" % (held, limits.max_nodes))
        else:
            waits.append("%d node(s) wait: %d already booting (max_booting %d)" % (held, booting, limits.max_booting))
    if demand.nodes - coming > len(others):
        waits.append("queue wants %d more node(s) than max_instances %d allows" % (demand.nodes - coming - len(others), limits.max_nodes))
    return Actions(power_up=tuple(s.name for s in granted), power_down=tuple(s.name for s in leaving),
                   mark_failed=tuple(s.name for s in failed), waits=tuple(waits))
