"""End to end, as a user: an elastic Slurm cluster (examples/elastic_slurm_cluster.yaml, ElasticCluster,
wn max_instances 4, worker count 0) on the local site, driven by `indigo elastic run`.

Deploys with no worker; an unprivileged user submits one `sbatch -N3` and four one-node jobs; the four
workers boot together in one scale-out run; every job completes with its output; after the idle time
every worker is removed (no machine, netns, veth, tags; Slurm shows the nodes powered down); a second
`indigo deploy` changes nothing; undeploy leaves nothing. One cluster for every assertion.
Also: one worker is killed while it boots (its container's init gets SIGKILL, like a crashed VM): the
controller marks it failed, Slurm requeues its job, the slot is removed, and the job completes on a node
that joined (the slot is booted again when the queue still needs it). The journal holds each scale run with its trigger.
As a user installs it: `indigo` is the framework's wheel in a fresh venv, run (deploy, the controller,
undeploy) from a work dir away from the checkout; the outputs hold the front-end's address. (This replaces
the static tests/e2e/test_slurm_e2e.py: static Slurm with two workers, `srun -N2`, redeploy changed 0 and
undeploy are the hybrid e2e's, examples/slurm_cluster.yaml deploying and running a job is the receptor e2e's.)
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.installed_package import install_wheel_venv
from tests.fixtures.local_nodes import leftovers, local_site  # noqa: F401
from tests.helpers import scale_journal, wait_for
from tosca2ansible.runtime.localsite.machine import container_children

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = "elastic-e2e"
SLOTS = ["lrms-wn-%d" % i for i in range(4)]
INSTANCES = ["%s-lrms_wn-%d" % (DEPLOYMENT, i) for i in range(4)]
INSTALLED = {}


@pytest.fixture(scope="module", autouse=True)
def installed_indigo(tmp_path_factory):
    """`indigo` of the wheel in a fresh venv; the example copied to a work dir outside the checkout."""
    base = tmp_path_factory.mktemp("installed")
    INSTALLED.update(install_wheel_venv(base), work=base / "work")
    (INSTALLED["work"] / "examples").mkdir(parents=True)
    example = "examples/elastic_slurm_cluster.yaml"
    (INSTALLED["work"] / example).write_bytes((ROOT / example).read_bytes())
    yield INSTALLED
    INSTALLED.clear()


def indigo(*args, timeout=900):
    return subprocess.run([str(INSTALLED["indigo"])] + list(args), capture_output=True, text=True, timeout=timeout,
                          cwd=str(INSTALLED["work"]))


def on_front_end(command, timeout=120):
    proc = indigo("ssh", DEPLOYMENT, "--node", "lrms_server", "--", command, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def job_states():
    """job id -> (state, batch host, restarts); finished jobs stay listed for MinJobAge (300 s)."""
    states = {}
    for line in on_front_end("scontrol -o show job").splitlines():
        fields = dict(token.split("=", 1) for token in line.split() if "=" in token)
        if "JobId" in fields:
            states[fields["JobId"]] = (fields.get("JobState"), fields.get("BatchHost"), int(fields.get("Restarts", 0)))
    return states


def kill_while_booting(site, index):
    """SIGKILL the init of the worker's container once its configuration began (slurm.conf written) and
    before its slurmd joined: a node that dies while it boots, after the site reported it up."""
    def configuring():
        found = site.nodes(indigo_deployment=DEPLOYMENT, indigo_node="lrms_wn", indigo_index=str(index))
        root = site.cfg.nodes_dir / found[0].name / "root" if found else None
        return found[0] if found and found[0].pid and (root / "etc/slurm/slurm.conf").exists() else None
    record = wait_for("worker %d to be configured" % index, configuring, timeout=600, every=0.5)
    sinfo = on_front_end("sinfo -h -n %s -o %%T" % SLOTS[index]).strip()
    assert "powering_up" in sinfo or sinfo.endswith("#"), sinfo  # not joined yet: it is still booting
    for child in container_children(record.pid):
        os.kill(child, signal.SIGKILL)
    wait_for("the killed worker to stop", lambda: site.get(record.name).status == "stopped", timeout=30, every=0.5)


def journal():
    """The deployment's history in the audit journal: the trigger of each scale run, and the scale runs."""
    proc = indigo("show", DEPLOYMENT, "--json")
    assert proc.returncode == 0, proc.stderr
    return scale_journal(proc.stdout)


def worker_nodes():
    proc = indigo("status", DEPLOYMENT, "--json")
    assert proc.returncode == 0, proc.stderr
    return [n for n in json.loads(proc.stdout)["nodes"] if n["node"] == "lrms_wn"]


@pytest.mark.slow  # session 13: see docs/elastic.md for its duration (it replaced the static Slurm e2e in CI)
def test_elastic_slurm_grows_runs_every_job_and_shrinks_to_nothing(local_site, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("INDIGO_HOME", str(home))
    timings = {}
    controller = None
    try:
        started = time.monotonic()
        proc = indigo("deploy", "examples/elastic_slurm_cluster.yaml", "-i", "idle_time=20",
                      "-i", "boot_timeout=300", "--deployment", DEPLOYMENT, "--json")
        timings["deploy"] = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr[-4000:]
        front_end = json.loads(proc.stdout)["outputs"]["cluster_ip"]
        assert ipaddress.ip_address(front_end) in local_site.cfg.network
        assert front_end in on_front_end("hostname -I").split()
        assert worker_nodes() == []
        sinfo = on_front_end("sinfo -h -N -o '%N %t'")
        assert sorted(sinfo.split("\n")[:-1]) == ["%s idle~" % s for s in SLOTS]

        on_front_end("useradd -m alice")
        submit = ("cd /tmp && su alice -c 'sbatch --parsable -N3 -o /tmp/job-%j.out --wrap \"srun hostname\"'"
                  " && for i in 1 2 3 4; do su alice -c 'sbatch --parsable -N1 -o /tmp/job-%j.out"
                  " --wrap \"echo one-node-\\$SLURM_JOB_ID; hostname\"'; done")
        job_ids = on_front_end(submit).split()
        assert len(job_ids) == 5
        submitted = time.monotonic()
        log = open(tmp_path / "controller.log", "w")
        controller = subprocess.Popen([str(INSTALLED["indigo"]), "elastic", "run", DEPLOYMENT, "--interval", "3"],
                                      cwd=str(INSTALLED["work"]),
                                      stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))

        kill_while_booting(local_site, 3)
        timings["submit-to-killed"] = time.monotonic() - submitted
        # Each job's output is on the first node it ran on (workers share no file system) and that node is
        # removed once idle: read it as soon as the job completed.
        outputs = {}

        def read_finished():
            states = job_states()
            for job in job_ids:
                if job not in outputs and states.get(job, ("",))[0] == "COMPLETED":
                    index = SLOTS.index(states[job][1])
                    proc = indigo("ssh", DEPLOYMENT, "--node", "lrms_wn", "--index", str(index), "--",
                                  "cat", "/tmp/job-%s.out" % job)
                    assert proc.returncode == 0, proc.stderr
                    outputs[job] = proc.stdout
            return states if len(outputs) == len(job_ids) else None
        states = wait_for("every job to complete", read_finished, timeout=900, every=2)
        # (Slurm holds a requeued batch job for cred_expire + 1 s before it may start again)
        timings["submit-to-all-done"] = time.monotonic() - submitted
        # the job Slurm had given the killed node was requeued and completed on its replacement
        assert any(states[j][2] >= 1 for j in job_ids), states
        assert len(set(outputs[job_ids[0]].split())) == 3  # srun hostname on three nodes
        for job in job_ids[1:]:
            assert "one-node-%s" % job in outputs[job]

        triggers, _ = journal()
        scale_outs = [t for t in triggers if t.startswith("scale-out: ")]
        # the four workers boot together in one run, triggered by the jobs
        all_four = "scale-out: lrms-wn-0,lrms-wn-1,lrms-wn-2,lrms-wn-3 for jobs "
        assert any(t.startswith(all_four) for t in scale_outs), triggers
        # the killed worker: failed (Slurm requeued its job, which completed on a node that joined) and removed
        assert any(t.startswith("scale-in: ") and "lrms-wn-3 failed" in t for t in triggers), triggers
        # every scale run is journaled with its trigger: the jobs it boots for, the slots it removes and why
        for t in scale_outs:
            assert set(t.split(" for jobs ")[1].split(",")) <= set(job_ids), t
        print("journal:\n" + "\n".join(triggers))

        wait_for("every worker removed", lambda: worker_nodes() == [], timeout=240, every=2)
        timings["all-done-to-removed"] = time.monotonic() - submitted - timings["submit-to-all-done"]
        wait_for("Slurm to show the slots powered down", lambda: sorted(
            on_front_end("sinfo -h -N -o '%N %t'").split("\n")[:-1]) == ["%s idle~" % s for s in SLOTS], timeout=90, every=2)
        controller.send_signal(signal.SIGTERM)
        controller.wait(timeout=30)
        controller = None
        assert leftovers(local_site, INSTANCES) == {}
        assert local_site.nodes(indigo_deployment=DEPLOYMENT, indigo_node="lrms_wn") == []

        triggers, scale_runs = journal()  # the scale-ins of the idle workers too, each with its trigger
        assert sorted(t.split(":")[0] for t in triggers) == sorted(r["action"] for r in scale_runs), triggers
        assert any(t.startswith("scale-in: ") and "idle/released" in t for t in triggers), triggers

        proc = indigo("deploy", "--deployment", DEPLOYMENT, "--json")
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert json.loads(proc.stdout)["changed"] == 0
        status = indigo("status", DEPLOYMENT).stdout
        assert "powered off" in status and "elastic pool (slurm, 0..4 workers)" in status
    finally:
        if controller is not None:
            controller.kill()
            controller.wait(timeout=30)
        proc = indigo("undeploy", DEPLOYMENT)
        print("timings (s): " + ", ".join("%s %.1f" % kv for kv in timings.items()))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert local_site.nodes(indigo_deployment=DEPLOYMENT) == []
    assert leftovers(local_site, INSTANCES + ["%s-lrms_server-0" % DEPLOYMENT]) == {}
