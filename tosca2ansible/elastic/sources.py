"""LRMS sources: queue and node state in (the text of read-only commands run on the front-end), the
policy's view out (per-node LRMS state and the demand).

A source is a small object with ``name``, ``lrms_decides_idle``, ``commands()`` (argv lists, run on the
front-end by the controller, read-only) and ``observe(outputs, names)``; adding Mesos or Kubernetes is one
more class here. Parsing is pure, so each source is unit-tested on real command output.
"""

from __future__ import annotations

import dataclasses
import math
import shlex
from typing import Dict, List, Sequence, Tuple

from tosca2ansible.elastic.policy import BOOTING, BUSY, DOWN, DRAINED, DRAINING, IDLE, OFF, Demand


@dataclasses.dataclass(frozen=True)
class NodeView:
    """What the LRMS says about one node."""

    lrms: str = OFF
    jobs: int = 0
    wanted: bool = False
    released: bool = False
    detail: str = ""          # the LRMS's own words (Slurm State=..., HTCondor State/Activity)


def _fields(line: str) -> Dict[str, str]:
    """``Key=Value Key=Value`` of one ``scontrol -o`` line; a token without ``=`` continues the value
    before it (Reason=... holds spaces)."""
    out: Dict[str, str] = {}
    key = None
    for token in line.split():
        name, sep, value = token.partition("=")
        if sep and name.replace("_", "").isalnum():
            key = name
            out[key] = value
        elif key is not None:
            out[key] += " " + token
    return out


class SlurmSource:
    """Slurm with power saving: the scheduler names the nodes it wants (POWERING_UP) and lets go of the
    idle ones after SuspendTime (POWERING_DOWN / POWERED_DOWN); the controller only realises that."""

    name = "slurm"
    lrms_decides_idle = True

    def commands(self) -> Dict[str, List[str]]:
        return {"nodes": ["scontrol", "-o", "show", "nodes"],
                "jobs": ["squeue", "-h", "-a", "-o", "%i|%T|%D|%N|%r"]}

    @staticmethod
    def node_view(state: str) -> NodeView:
        parts = state.upper().split("+")
        base, flags = parts[0].rstrip("*~#%!"), set(parts[1:])
        if "POWERING_UP" in flags or state.endswith("#"):
            return NodeView(BOOTING, wanted=True, detail=state)
        if "POWERED_DOWN" in flags and base in ("ALLOCATED", "MIXED"):
            return NodeView(BOOTING, wanted=True, detail=state)  # given to a job, its resume not yet called
        if "POWERED_DOWN" in flags or "POWERING_DOWN" in flags or "POWER_DOWN" in flags:
            busy = base in ("ALLOCATED", "MIXED", "COMPLETING") or "COMPLETING" in flags
            if busy:
                return NodeView(BUSY, jobs=1, detail=state)
            return NodeView(OFF if "POWERED_DOWN" in flags else IDLE, released=True, detail=state)
        busy = base in ("ALLOCATED", "MIXED", "COMPLETING") or "COMPLETING" in flags
        if "DRAIN" in flags or base in ("DRAINING", "DRAINED", "DRAIN"):
            return NodeView(DRAINING if busy or base == "DRAINING" else DRAINED, jobs=1 if busy else 0, detail=state)
        if busy:
            return NodeView(BUSY, jobs=1, detail=state)
        if base in ("DOWN", "FAIL", "FAILING") or "NOT_RESPONDING" in flags or "FAIL" in flags:
            return NodeView(DOWN, detail=state)
        if base == "IDLE":
            return NodeView(IDLE, detail=state)
        if base in ("CLOUD", "FUTURE", "UNKNOWN"):
            return NodeView(OFF, detail=state)
        return NodeView(DOWN, detail=state)

    def observe(self, outputs: Dict[str, str], names: Sequence[str]) -> Tuple[Dict[str, NodeView], Demand]:
        views = {}
        for line in outputs.get("nodes", "").splitlines():
            fields = _fields(line.strip())
            name = fields.get("NodeName")
            if name in names:
                views[name] = self.node_view(fields.get("State", "UNKNOWN"))
        pending, unplaced = [], []
        for line in outputs.get("jobs", "").splitlines():
            parts = line.strip().split("|")
            if len(parts) >= 2 and parts[1] in ("PENDING", "CONFIGURING"):
                pending.append(parts[0])
                # a batch job waits up to batch_sched_delay (3 s) before the scheduler places it
                if parts[1] == "PENDING" and len(parts) >= 5 and parts[4] == "None":
                    unplaced.append(parts[0])
        return views, Demand(nodes=0, jobs=tuple(pending), unplaced=tuple(unplaced))

    @staticmethod
    def before_remove(failed: Sequence[str], leaving: Sequence[str], slots) -> List[List[str]]:
        """Failed nodes: powered down by force, which requeues their jobs (ResumeFailProgram semantics);
        nodes let go by the policy but not by Slurm (e.g. drained ones): powered down first."""
        released = {s.name for s in slots if s.released}
        commands = []
        if failed:
            commands.append(["scontrol", "update", "nodename=" + ",".join(failed), "state=power_down_force",
                             "reason=indigo-elastic: failed to boot or join"])
        unasked = [n for n in leaving if n not in released]
        if unasked:
            commands.append(["scontrol", "update", "nodename=" + ",".join(unasked), "state=power_down"])
        return commands

    @staticmethod
    def reset_lost(slots, views: Dict[str, NodeView]) -> List[List[str]]:
        """Slurm's view of slots with no instance: a node Slurm thinks is powered (its instance deleted
        behind our back) is powered down by force (its jobs requeued, the slot free to boot again); a
        powered-down node left DOWN by a failure is returned to service."""
        lost, stuck = [], []
        for slot in slots:
            if slot.up:
                continue
            view = views.get(slot.name)
            if view is None:
                continue
            state = view.detail.upper()
            if "POWERED_DOWN" in state:
                if state.startswith("DOWN") or "+DOWN" in state:
                    stuck.append(slot.name)
            elif "POWERING_DOWN" not in state and not view.wanted and view.lrms != OFF:
                lost.append(slot.name)
        commands = []
        if lost:
            commands.append(["scontrol", "update", "nodename=" + ",".join(lost), "state=power_down_force",
                             "reason=indigo-elastic: instance gone"])
        if stuck:
            commands.append(["scontrol", "update", "nodename=" + ",".join(stuck), "state=resume"])
        return commands


class HTCondorSource:
    """HTCondor: idle jobs from the schedd make the demand; a startd that stays unclaimed past the idle
    time is let go by the policy (HTCondor has no power hooks to decide it)."""

    name = "htcondor"
    lrms_decides_idle = False

    def __init__(self, cpus_per_node: int = 1):
        self.cpus_per_node = max(1, int(cpus_per_node))

    def commands(self) -> Dict[str, List[str]]:
        return {"jobs": ["condor_q", "-allusers", "-constraint", "JobStatus == 1", "-af", "ClusterId", "ProcId",
                         "RequestCpus"],
                # INDIGO_SLOT: the pool slot an elastic worker's startd advertises (role indigo.paas.htcondor,
                # htcondor_elastic_slot); host names differ from slot names on most sites
                # the slot (Machine) ads: HTCondor 23's `condor_status -startd` lists StartD daemon ads, which
                # carry INDIGO_SLOT but no State/Activity (every joined node looked as if still booting)
                "slots": ["condor_status", "-af", "INDIGO_SLOT", "Machine", "State", "Activity"]}

    def observe(self, outputs: Dict[str, str], names: Sequence[str]) -> Tuple[Dict[str, NodeView], Demand]:
        per_machine: Dict[str, List[Tuple[str, str]]] = {}
        for line in outputs.get("slots", "").splitlines():
            parts = line.split()
            if len(parts) >= 4:
                machine = parts[0] if parts[0] != "undefined" else parts[1].split(".")[0]
                per_machine.setdefault(machine, []).append((parts[2], parts[3]))
        views = {}
        for name in names:
            slots = per_machine.get(name)
            if not slots:
                continue
            claimed = sum(1 for state, _ in slots if state in ("Claimed", "Preempting"))
            detail = ",".join("%s/%s" % s for s in slots)
            if any(state == "Drained" for state, _ in slots):
                views[name] = NodeView(DRAINING if claimed else DRAINED, jobs=claimed, detail=detail)
            elif claimed:
                views[name] = NodeView(BUSY, jobs=claimed, detail=detail)
            elif all(state == "Unclaimed" for state, _ in slots):
                views[name] = NodeView(IDLE, detail=detail)
            else:
                views[name] = NodeView(BOOTING, detail=detail)  # Owner / Matched: not ready yet
        jobs, cpus = [], 0
        for line in outputs.get("jobs", "").splitlines():
            parts = line.split()
            if len(parts) >= 2:
                jobs.append("%s.%s" % (parts[0], parts[1]))
                try:
                    cpus += max(1, int(parts[2])) if len(parts) > 2 else 1
                except ValueError:
                    cpus += 1
        return views, Demand(nodes=math.ceil(cpus / self.cpus_per_node), jobs=tuple(jobs))

    @staticmethod
    def before_remove(failed: Sequence[str], leaving: Sequence[str], slots) -> List[List[str]]:
        """Startds let go are turned off peacefully first, so no new job is matched to them while they are
        removed (a failed or already vanished startd cannot be reached: that is not an error)."""
        return [["sh", "-c", "condor_off -peaceful -daemon startd -constraint %s || true"
                 % shlex.quote('INDIGO_SLOT == "%s"' % name)] for name in list(failed) + list(leaving)]

    @staticmethod
    def reset_lost(slots, views) -> List[List[str]]:
        return []


SOURCES = {"slurm": SlurmSource, "htcondor": HTCondorSource}


def shell_line(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)
