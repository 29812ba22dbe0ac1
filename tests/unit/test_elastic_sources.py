"""LRMS sources parse the real commands' output (Slurm 24.11 scontrol/squeue, HTCondor 23 condor_q/status)."""

from tosca2ansible.elastic.policy import BOOTING, BUSY, DOWN, DRAINED, DRAINING, IDLE, OFF
from tosca2ansible.elastic.sources import HTCondorSource, SlurmSource

SCONTROL = """\
NodeName=d-wn-0 CoresPerSocket=1 CPUAlloc=0 CPUTot=1 State=IDLE+CLOUD+POWERED_DOWN ThreadsPerCore=1 Reason=none
NodeName=d-wn-1 Arch=x86_64 CPUAlloc=1 CPUTot=1 State=ALLOCATED+CLOUD+POWERING_UP ThreadsPerCore=1
NodeName=d-wn-2 Arch=x86_64 CPUAlloc=1 CPUTot=2 State=MIXED+CLOUD ThreadsPerCore=1
NodeName=d-wn-3 Arch=x86_64 CPUAlloc=0 CPUTot=1 State=IDLE+CLOUD+POWERING_DOWN ThreadsPerCore=1
NodeName=d-wn-4 Arch=x86_64 CPUAlloc=1 CPUTot=1 State=MIXED+DRAIN Reason=admin says so [root@2026-12-02T06:00:00]
NodeName=d-wn-5 Arch=x86_64 CPUAlloc=0 CPUTot=1 State=IDLE+DRAIN Reason=maintenance
NodeName=d-wn-6 Arch=x86_64 CPUAlloc=0 CPUTot=1 State=DOWN+CLOUD+NOT_RESPONDING Reason=ResumeTimeout reached
NodeName=d-wn-7 Arch=x86_64 CPUAlloc=1 CPUTot=1 State=COMPLETING+CLOUD
NodeName=d-wn-8 Arch=x86_64 CPUAlloc=0 CPUTot=1 State=IDLE+CLOUD
NodeName=other CPUAlloc=0 State=IDLE
"""
SQUEUE = """\
12|PENDING|3|(null)|Resources
13|CONFIGURING|1|d-wn-1|None
14|RUNNING|1|d-wn-2|None
"""


def test_slurm_states():
    names = ["d-wn-%d" % i for i in range(10)]
    views, demand = SlurmSource().observe({"nodes": SCONTROL, "jobs": SQUEUE}, names)
    got = {n: (v.lrms, v.wanted, v.released, v.jobs > 0) for n, v in views.items()}
    assert got == {
        "d-wn-0": (OFF, False, True, False),
        "d-wn-1": (BOOTING, True, False, False),
        "d-wn-2": (BUSY, False, False, True),
        "d-wn-3": (IDLE, False, True, False),
        "d-wn-4": (DRAINING, False, False, True),
        "d-wn-5": (DRAINED, False, False, False),
        "d-wn-6": (DOWN, False, False, False),
        "d-wn-7": (BUSY, False, False, True),
        "d-wn-8": (IDLE, False, False, False),
    }
    assert demand.jobs == ("12", "13") and demand.nodes == 0
    assert "other" not in views


def test_slurm_reason_with_spaces_kept():
    views, _ = SlurmSource().observe({"nodes": SCONTROL}, ["d-wn-4"])
    assert views["d-wn-4"].detail == "MIXED+DRAIN"


CONDOR_STATUS = """\
d-wn-0 host-a.local Unclaimed Idle
d-wn-1 host-b Claimed Busy
d-wn-1 host-b Unclaimed Idle
d-wn-2 host-c Drained Retiring
undefined d-wn-3.local Owner Idle
undefined front-end Unclaimed Idle
"""
CONDOR_Q = """\
7 0 1
7 1 1
8 0 2
"""


def test_htcondor_states_and_demand():
    names = ["d-wn-%d" % i for i in range(5)]
    views, demand = HTCondorSource(cpus_per_node=2).observe({"slots": CONDOR_STATUS, "jobs": CONDOR_Q}, names)
    assert {n: v.lrms for n, v in views.items()} == {"d-wn-0": IDLE, "d-wn-1": BUSY, "d-wn-2": DRAINED,
                                                     "d-wn-3": BOOTING}
    assert demand.jobs == ("7.0", "7.1", "8.0")
    assert demand.nodes == 2  # 4 CPUs at 2 a node


def test_htcondor_startds_let_go_are_turned_off_by_their_slot_attribute():
    commands = HTCondorSource.before_remove(["d-wn-1"], ["d-wn-0"], ())
    assert commands == [["sh", "-c", "condor_off -peaceful -daemon startd -constraint 'INDIGO_SLOT == \"d-wn-1\"' || true"],
                        ["sh", "-c", "condor_off -peaceful -daemon startd -constraint 'INDIGO_SLOT == \"d-wn-0\"' || true"]]


def test_slurm_allocated_but_still_powered_down_is_wanted():
    view = SlurmSource.node_view("ALLOCATED+CLOUD+POWERED_DOWN")
    assert (view.lrms, view.wanted, view.jobs) == (BOOTING, True, 0)


def test_slurm_jobs_the_scheduler_has_not_placed_yet_are_unplaced():
    squeue = "20|PENDING|3|(null)|None\n21|PENDING|1|(null)|Resources\n22|CONFIGURING|1|d-wn-1|None\n"
    _, demand = SlurmSource().observe({"nodes": SCONTROL, "jobs": squeue}, ["d-wn-0"])
    assert demand.jobs == ("20", "21", "22") and demand.unplaced == ("20",)
