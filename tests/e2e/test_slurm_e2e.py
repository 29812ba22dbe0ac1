"""End to end, as a user: `indigo deploy examples/slurm_cluster.yaml -i wn_num=2` on the local site, with
`indigo` installed from the framework's wheel into a fresh venv and run away from the checkout.

1 front-end + 2 workers come up; the outputs hold the front-end address; `srun -N2 hostname` on the
front-end prints both worker host names; a second deploy of the same deployment changes nothing;
`indigo undeploy` leaves no machine, mount, namespace or veth. Timings are printed (run with -s).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.installed_package import install_wheel_venv
from tests.fixtures.local_nodes import leftovers, local_site  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = "slurm-e2e"
INSTALLED = {}


def indigo(*args, timeout=900):
    started = time.monotonic()
    proc = subprocess.run([str(INSTALLED["indigo"])] + list(args), capture_output=True, text=True, timeout=timeout,
                          cwd=str(INSTALLED["work"]))
    return proc, time.monotonic() - started


@pytest.fixture(scope="module", autouse=True)
def installed_indigo(tmp_path_factory):
    """`indigo` of the wheel in a fresh venv; the example copied to a work dir outside the checkout."""
    base = tmp_path_factory.mktemp("installed")
    INSTALLED.update(install_wheel_venv(base), work=base / "work")
    (INSTALLED["work"] / "examples").mkdir(parents=True)
    (INSTALLED["work"] / "examples" / "slurm_cluster.yaml").write_bytes((ROOT / "examples" / "slurm_cluster.yaml").read_bytes())
    yield INSTALLED
    INSTALLED.clear()


@pytest.mark.slow
def test_slurm_cluster_deploys_runs_jobs_converges_and_leaves_nothing(local_site, tmp_path, monkeypatch):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    timings = {}
    try:
        proc, timings["deploy"] = indigo("deploy", "examples/slurm_cluster.yaml", "-i", "wn_num=2",
                                         "--deployment", DEPLOYMENT, "--json")
        assert proc.returncode == 0, proc.stderr[-4000:]
        result = json.loads(proc.stdout)
        assert result["deployment"] == DEPLOYMENT
        front_end = result["outputs"]["cluster_ip"]
        assert ipaddress.ip_address(front_end) in local_site.cfg.network

        workers = set()
        for index in (0, 1):
            proc, _ = indigo("ssh", DEPLOYMENT, "--node", "lrms_wn", "--index", str(index), "--", "hostname")
            assert proc.returncode == 0, proc.stderr
            workers.add(proc.stdout.strip())
        proc, _ = indigo("ssh", DEPLOYMENT, "--node", "lrms_server", "--", "hostname", "-I")
        assert front_end in proc.stdout.split()

        started = time.monotonic()
        proc, _ = indigo("ssh", DEPLOYMENT, "--node", "lrms_server", "--", "srun", "-N2", "hostname", timeout=120)
        timings["srun"] = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr
        assert sorted(proc.stdout.split()) == sorted(workers)

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
