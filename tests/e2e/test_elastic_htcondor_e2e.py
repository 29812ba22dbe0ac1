"""End to end, as a user: an elastic HTCondor pool (examples/elastic_htcondor_cluster.yaml, ElasticCluster,
wn max_instances 2, execute count 0) on the local site, driven by `indigo elastic run`.

Deploys with no execute node; the unprivileged `condor_user` submits 4 jobs; the controller sees them idle
in the schedd and boots both execute nodes in one scale-out run; execute node 1 is killed while it boots
(its container's init gets SIGKILL after its configuration began, before its startd joined): the controller
marks it failed, removes it and boots a replacement that joins the pool; the jobs wait until both nodes run
one (a go file the test writes on each), so the replacement runs jobs too; every job completes (terminate
event, exit code 0) with its output, as condor_user, on both nodes; after the idle time both nodes are
turned off (condor_off -peaceful) and removed (no machine, netns, veth, tags; condor_status lists no
startd); the journal holds each scale run with its trigger; a second
`indigo deploy` changes nothing (same front-end address, only the front-end left); undeploy leaves nothing.
It also holds what the static HTCondor e2e (removed) asserted on real nodes: the front-end address output,
jobs with their outputs as their owner on both execute nodes, re-deploy changed 0, undeploy leaves nothing.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.local_nodes import leftovers, local_site  # noqa: F401
from tests.helpers import scale_journal, wait_for
from tosca2ansible.runtime.localsite.machine import container_children

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = "elastic-htc-e2e"
INSTANCES = ["%s-lrms_wn-%d" % (DEPLOYMENT, i) for i in range(2)]
CLI = [sys.executable, "-c", "from tosca2ansible.cli import main; main()"]
JOBS = 4
GO = "/srv/e2e-go"
# A job waits (at most 10 min) for the test's go file on its execute node, written once both nodes (the
# killed one's replacement too) are claimed, so jobs run on the replacement too; then it says where, whether
# it was let go, and as whom it ran. (A pool check from inside the job, condor_status, counted no startd.)
JOB = """#!/bin/sh
for i in $(seq 300); do [ -e %s ] && break; sleep 2; done
echo "job-done $(uname -n) $(cat %s) $(id -un)"
""" % (GO, GO)
SUBMIT = """executable = job.sh
output = out.$(Process)
error = err.$(Process)
log = jobs.log
queue %d
""" % JOBS


def indigo(*args, timeout=900):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))


def on_front_end(command, timeout=120):
    proc = indigo("ssh", DEPLOYMENT, "--node", "lrms_server", "--", command, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def as_user(script, timeout=120):
    return on_front_end("runuser -u condor_user -- sh -c %s" % shlex.quote("cd && " + script), timeout=timeout)


def startd_slots():
    """INDIGO_SLOT of every startd in the collector."""
    return set(on_front_end("condor_status -startd -af INDIGO_SLOT").split())


def claimed_slots():
    """INDIGO_SLOT of every startd running a job."""
    rows = [line.split() for line in on_front_end("condor_status -af INDIGO_SLOT State").splitlines()]
    return {row[0] for row in rows if len(row) == 2 and row[1] == "Claimed"}


def let_jobs_go():
    """The go file on each execute node; the host names of the nodes."""
    hosts = set()
    for index in (0, 1):
        proc = indigo("ssh", DEPLOYMENT, "--node", "lrms_wn", "--index", str(index), "--",
                      "echo go > %s && hostname" % GO, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        hosts.add(proc.stdout.strip())
    return hosts


def kill_while_booting(site, index):
    """SIGKILL the init of the execute node's container once its pool configuration is written and before
    its startd joined: a node that dies while it boots, after the site reported it up."""
    def configuring():
        found = site.nodes(indigo_deployment=DEPLOYMENT, indigo_node="lrms_wn", indigo_index=str(index))
        root = site.cfg.nodes_dir / found[0].name / "root" if found else None
        return found[0] if found and found[0].pid and (root / "etc/condor/config.d/50-indigo.conf").exists() else None
    record = wait_for("execute node %d to be configured" % index, configuring, timeout=600, every=0.5)
    assert "lrms-wn-%d" % index not in startd_slots()  # not joined yet: it is still booting
    for child in container_children(record.pid):
        os.kill(child, signal.SIGKILL)
    wait_for("the killed node to stop", lambda: site.get(record.name).status == "stopped", timeout=30, every=0.5)


def journal():
    """The deployment's history in the audit journal: the trigger of each scale run, and the scale runs."""
    proc = indigo("show", DEPLOYMENT, "--json")
    assert proc.returncode == 0, proc.stderr
    return scale_journal(proc.stdout)


def workers():
    proc = indigo("status", DEPLOYMENT, "--json")
    assert proc.returncode == 0, proc.stderr
    return [n for n in json.loads(proc.stdout)["nodes"] if n["node"] == "lrms_wn"]


@pytest.mark.slow
def test_elastic_htcondor_pool_grows_runs_every_job_and_shrinks_to_nothing(local_site, tmp_path, monkeypatch):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    timings = {}
    controller = None
    try:
        started = time.monotonic()
        proc = indigo("deploy", "examples/elastic_htcondor_cluster.yaml", "-i", "idle_time=30",
                      "-i", "boot_timeout=300", "--deployment", DEPLOYMENT, "--json")
        timings["deploy"] = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr[-4000:]
        front_end = json.loads(proc.stdout)["outputs"]["cluster_ip"]
        assert ipaddress.ip_address(front_end) in local_site.cfg.network
        assert workers() == []
        assert on_front_end("condor_status -startd -af Machine").strip() == ""

        as_user("printf %%s %s > job.sh && chmod +x job.sh && printf %%s %s > job.sub && condor_submit job.sub"
                % (shlex.quote(JOB), shlex.quote(SUBMIT)))
        submitted = time.monotonic()
        log = open(tmp_path / "controller.log", "w")
        controller = subprocess.Popen(CLI + ["elastic", "run", DEPLOYMENT, "--interval", "5"], cwd=str(ROOT),
                                      stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
        kill_while_booting(local_site, 1)
        timings["submit-to-killed"] = time.monotonic() - submitted
        joined = set()  # the startds seen in the collector after the kill
        hosts = set()  # the execute nodes' host names, once both ran a job

        def all_done():
            joined.update(startd_slots())
            if not hosts and claimed_slots() == {"lrms-wn-0", "lrms-wn-1"}:
                hosts.update(let_jobs_go())
                timings["submit-to-both-claimed"] = time.monotonic() - submitted
            return as_user("condor_q -af ProcId").strip() == ""  # completed jobs leave the queue
        wait_for("every job to complete", all_done, timeout=900, every=3)
        timings["submit-to-all-done"] = time.monotonic() - submitted
        assert joined == {"lrms-wn-0", "lrms-wn-1"}, joined  # the replacement of the killed node joined
        outputs = as_user("cat out.*").split("\n")[:-1]
        # every job was let go (not timed out) and ran as its owner, not as root or nobody
        assert len(outputs) == JOBS and all(line.startswith("job-done ") and line.endswith(" go condor_user")
                                            for line in outputs), outputs
        assert {line.split()[1] for line in outputs} == hosts, outputs  # both ran jobs, the replacement too
        assert as_user("grep -c '^005 ' jobs.log").strip() == str(JOBS)  # one "job terminated" event each
        assert as_user("condor_history -af ExitCode").split() == ["0"] * JOBS

        triggers, _ = journal()
        scale_outs = [t for t in triggers if t.startswith("scale-out: ")]
        # both execute nodes boot together in one run, triggered by the idle jobs
        assert any(t.startswith("scale-out: lrms-wn-0,lrms-wn-1 for jobs ") for t in scale_outs), triggers
        # the killed node: failed and removed, then booted again (a second scale-out of its slot) for the jobs
        # still idle
        assert any(t.startswith("scale-in: ") and "lrms-wn-1 failed" in t for t in triggers), triggers
        assert sum("lrms-wn-1" in t.split(" for jobs ")[0] for t in scale_outs) >= 2, triggers
        # every scale run is journaled with its trigger: the jobs it boots for (cluster.proc of ours)
        for t in scale_outs:
            assert all(j.split(".")[0].isdigit() for j in t.split(" for jobs ")[1].split(",")), t
        print("journal:\n" + "\n".join(triggers))

        wait_for("every execute node removed", lambda: workers() == [], timeout=240)
        timings["all-done-to-removed"] = time.monotonic() - submitted - timings["submit-to-all-done"]
        controller.send_signal(signal.SIGTERM)
        controller.wait(timeout=60)
        controller = None
        assert leftovers(local_site, INSTANCES) == {}
        assert local_site.nodes(indigo_deployment=DEPLOYMENT, indigo_node="lrms_wn") == []
        wait_for("the startds to leave the collector", lambda: on_front_end(
            "condor_status -startd -af Machine").strip() == "", timeout=120)
        triggers, scale_runs = journal()  # the scale-in of the idle nodes too, each run with its trigger
        assert sorted(t.split(":")[0] for t in triggers) == sorted(r["action"] for r in scale_runs), triggers
        assert any(t.startswith("scale-in: ") and "idle/released" in t for t in triggers), triggers

        started = time.monotonic()
        proc = indigo("deploy", "--deployment", DEPLOYMENT, "--json")
        timings["redeploy"] = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr[-4000:]
        again = json.loads(proc.stdout)
        assert again["changed"] == 0 and again["outputs"]["cluster_ip"] == front_end, proc.stdout
        assert [n["node"] for n in json.loads(indigo("status", DEPLOYMENT, "--json").stdout)["nodes"]] == [
            "lrms_server"]
        assert "elastic pool (htcondor, 0..2 workers)" in indigo("status", DEPLOYMENT).stdout
    finally:
        if controller is not None:
            controller.kill()
            controller.wait(timeout=30)
        started = time.monotonic()
        proc = indigo("undeploy", DEPLOYMENT)
        timings["undeploy"] = time.monotonic() - started
        print("timings (s): " + ", ".join("%s %.1f" % kv for kv in timings.items()))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert local_site.nodes(indigo_deployment=DEPLOYMENT) == []
    assert leftovers(local_site, INSTANCES + ["%s-lrms_server-0" % DEPLOYMENT]) == {}
