"""End to end, as a user: `indigo deploy examples/htcondor_cluster.yaml -i wn_num=2` on the local site.

1 front-end (central manager + schedd) + 2 execute nodes come up; the outputs hold the front-end
address; the pool lists both execute nodes; the unprivileged account `condor_user` submits 4 jobs
with condor_submit on the front-end; they finish (condor_q empty), each wrote its output, and they ran
as condor_user on both execute nodes; a second deploy changes nothing; `indigo undeploy` leaves no
machine, mount, namespace or veth. Timings are printed (run with -s).
"""

from __future__ import annotations

import ipaddress
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.local_nodes import leftovers, local_site  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = "htcondor-e2e"
USER = "condor_user"
JOBS = 4
# Each job sleeps a little so that the 4 jobs spread over both single-slot execute nodes, then says
# where and as whom it ran. (A script file: "$(...)" in a submit file is a submit macro.)
JOB = """#!/bin/sh
sleep 5
echo "$(uname -n) $(id -un)"
"""
SUBMIT = """executable = job.sh
output = out.$(Process)
error = err.$(Process)
log = jobs.log
queue %d
""" % JOBS


def indigo(*args, timeout=900):
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", "from tosca2ansible.cli import main; main()"] + list(args),
        capture_output=True, text=True, timeout=timeout, cwd=str(ROOT),
    )
    return proc, time.monotonic() - started


def as_user(script: str, timeout=120):
    """Run a shell script on the front-end as the unprivileged account, in its home directory."""
    command = "cd && " + script
    return indigo("ssh", DEPLOYMENT, "--node", "lrms_server", "--",
                  "runuser", "-u", USER, "--", "sh", "-c", shlex.quote(command), timeout=timeout)


@pytest.mark.slow
def test_htcondor_pool_deploys_runs_jobs_converges_and_leaves_nothing(local_site, tmp_path, monkeypatch):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    timings = {}
    try:
        proc, timings["deploy"] = indigo("deploy", "examples/htcondor_cluster.yaml", "-i", "wn_num=2",
                                         "--deployment", DEPLOYMENT, "--json")
        assert proc.returncode == 0, proc.stderr[-4000:]
        result = json.loads(proc.stdout)
        assert result["deployment"] == DEPLOYMENT
        front_end = result["outputs"]["cluster_ip"]
        assert ipaddress.ip_address(front_end) in local_site.cfg.network
        assert len(result["outputs"]["wn_ips"]) == 2

        workers = set()
        for index in (0, 1):
            proc, _ = indigo("ssh", DEPLOYMENT, "--node", "lrms_wn", "--index", str(index), "--", "hostname")
            assert proc.returncode == 0, proc.stderr
            workers.add(proc.stdout.strip())
        assert len(workers) == 2

        # A user first checks that both execute nodes joined the pool (startd advertises within seconds).
        started = time.monotonic()
        proc, _ = as_user("for i in $(seq 60); do [ $(condor_status -af Machine | sort -u | wc -l) -ge 2 ] && break;"
                          " sleep 2; done; condor_status -af Machine | sort -u")
        timings["pool"] = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr
        assert {m.split(".")[0] for m in proc.stdout.split()} == workers, proc.stdout

        started = time.monotonic()
        proc, _ = as_user("rm -rf jobs && mkdir jobs && cd jobs && printf %%s %s > job.sh && chmod +x job.sh"
                          " && printf %%s %s > job.sub && condor_submit -terse job.sub"
                          % (shlex.quote(JOB), shlex.quote(SUBMIT)))
        assert proc.returncode == 0, proc.stderr
        cluster = proc.stdout.strip().split(".")[0]
        assert cluster.isdigit(), proc.stdout
        # condor_wait follows the job log until every job of it has finished.
        proc, _ = as_user("condor_wait -wait 240 jobs/jobs.log", timeout=300)
        timings["jobs"] = time.monotonic() - started
        assert proc.returncode == 0, proc.stdout + proc.stderr
        proc, _ = as_user("condor_q %s -af ProcId" % cluster)
        assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr
        proc, _ = as_user("cd jobs && for i in $(seq 0 %d); do echo \"$i $(cat out.$i)\"; done" % (JOBS - 1))
        assert proc.returncode == 0, proc.stderr
        ran = dict(line.split(" ", 1) for line in proc.stdout.strip().splitlines())
        assert sorted(ran) == [str(i) for i in range(JOBS)], proc.stdout
        hosts = {value.split()[0] for value in ran.values() if value.strip()}
        owners = {value.split()[-1] for value in ran.values() if value.strip()}
        assert all(len(value.split()) == 2 for value in ran.values()), proc.stdout
        assert hosts == workers, proc.stdout      # both execute nodes ran jobs, and nothing else did
        assert owners == {USER}, proc.stdout      # jobs ran as their owner, not as root or nobody

        proc, timings["redeploy"] = indigo("deploy", "--deployment", DEPLOYMENT, "--json")
        assert proc.returncode == 0, proc.stderr[-4000:]
        again = json.loads(proc.stdout)
        assert again["changed"] == 0, proc.stderr[-4000:]
        assert again["outputs"]["cluster_ip"] == front_end

        proc, _ = indigo("status", DEPLOYMENT, "--json")
        assert proc.returncode == 0, proc.stderr
        assert len(json.loads(proc.stdout)["nodes"]) == 3
    finally:
        names = [n.name for n in local_site.nodes(indigo_deployment=DEPLOYMENT)]
        proc, timings["undeploy"] = indigo("undeploy", DEPLOYMENT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert len(names) == 3 and local_site.nodes(indigo_deployment=DEPLOYMENT) == []
    assert leftovers(local_site, names) == {}
    print("timings (s): " + ", ".join("%s %.1f" % kv for kv in timings.items()))
