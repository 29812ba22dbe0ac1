"""End to end, as a user: an elastic HTCondor pool (examples/elastic_htcondor_cluster.yaml, ElasticCluster,
wn max_instances 2, execute count 0) on the local site, driven by `indigo elastic run`.

Deploys with no execute node; the unprivileged `condor_user` submits 4 jobs; the controller sees them idle
in the schedd and boots both execute nodes in one scale-out run; every job completes with its output;
after the idle time both nodes are turned off (condor_off -peaceful) and removed (no machine, netns, veth,
tags; condor_status lists no startd); a second `indigo deploy` changes nothing; undeploy leaves nothing.
"""

from __future__ import annotations

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

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = "elastic-htc-e2e"
INSTANCES = ["%s-lrms_wn-%d" % (DEPLOYMENT, i) for i in range(2)]
CLI = [sys.executable, "-c", "from tosca2ansible.cli import main; main()"]
JOBS = 4
JOB = """#!/bin/sh
sleep 3
echo "job-done $(uname -n) $(id -un)"
"""
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


def wait_for(what, check, timeout, every=5):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ds waiting for %s" % (timeout, what))
        time.sleep(every)


def workers():
    proc = indigo("status", DEPLOYMENT, "--json")
    assert proc.returncode == 0, proc.stderr
    return [n for n in json.loads(proc.stdout)["nodes"] if n["node"] == "lrms_wn"]


@pytest.mark.slow
@pytest.mark.wip  # written, not yet green on real nodes
def test_elastic_htcondor_pool_grows_runs_every_job_and_shrinks_to_nothing(local_site, tmp_path, monkeypatch):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    timings = {}
    controller = None
    try:
        started = time.monotonic()
        proc = indigo("deploy", "examples/elastic_htcondor_cluster.yaml", "-i", "idle_time=30",
                      "--deployment", DEPLOYMENT, "--json")
        timings["deploy"] = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert workers() == []
        assert on_front_end("condor_status -startd -af Machine").strip() == ""

        as_user("printf %%s %s > job.sh && chmod +x job.sh && printf %%s %s > job.sub && condor_submit job.sub"
                % (shlex.quote(JOB), shlex.quote(SUBMIT)))
        submitted = time.monotonic()
        log = open(tmp_path / "controller.log", "w")
        controller = subprocess.Popen(CLI + ["elastic", "run", DEPLOYMENT, "--interval", "5"], cwd=str(ROOT),
                                      stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
        as_user("condor_wait -wait 480 jobs.log", timeout=500)  # follows the job log until every job ended
        timings["submit-to-all-done"] = time.monotonic() - submitted
        assert as_user("condor_q -af ProcId").strip() == ""
        outputs = as_user("cat out.*").split("\n")[:-1]
        assert len(outputs) == JOBS and all(line.startswith("job-done ") and line.endswith(" condor_user")
                                            for line in outputs), outputs

        history = indigo("show", DEPLOYMENT).stdout
        assert any("scale-out:" in line and "lrms-wn-0,lrms-wn-1 for jobs" in line for line in history.splitlines()), history

        wait_for("every execute node removed", lambda: workers() == [], timeout=240)
        timings["all-done-to-removed"] = time.monotonic() - submitted - timings["submit-to-all-done"]
        controller.send_signal(signal.SIGTERM)
        controller.wait(timeout=60)
        controller = None
        assert leftovers(local_site, INSTANCES) == {}
        assert local_site.nodes(indigo_deployment=DEPLOYMENT, indigo_node="lrms_wn") == []
        wait_for("the startds to leave the collector", lambda: on_front_end(
            "condor_status -startd -af Machine").strip() == "", timeout=120)
        runs = json.loads(indigo("runs", "--deployment", DEPLOYMENT, "--json").stdout)
        actions = [r["action"] for r in runs]
        assert "scale-out" in actions and "scale-in" in actions

        proc = indigo("deploy", "--deployment", DEPLOYMENT, "--json")
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert json.loads(proc.stdout)["changed"] == 0
        assert "elastic pool (htcondor, 0..2 workers)" in indigo("status", DEPLOYMENT).stdout
    finally:
        if controller is not None:
            controller.kill()
            controller.wait(timeout=30)
        proc = indigo("undeploy", DEPLOYMENT)
        print("timings (s): " + ", ".join("%s %.1f" % kv for kv in timings.items()))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert local_site.nodes(indigo_deployment=DEPLOYMENT) == []
    assert leftovers(local_site, INSTANCES + ["%s-lrms_server-0" % DEPLOYMENT]) == {}
