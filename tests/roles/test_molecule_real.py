"""Molecule scenarios of the cluster roles on real Debian 13 systemd-nspawn nodes of the local site.

Each test boots fresh nodes (fixture from tests/fixtures/local_nodes.py), writes an inventory with the
scenario's groups, and runs ``molecule test`` (syntax, converge, idempotence with changed=0, testinfra
verify). Needs root and the local-site tools; otherwise the fixture skips. Run with
``pytest -m slow tests/roles/test_molecule_real.py``.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from molecule_inventory import write_inventory
from tests.fixtures.local_nodes import local_nodes, local_site, ssh_keypair  # noqa: F401
from tests.helpers import ROOT as REPO


# scenario -> (node count, {group: node indexes}, extra environment)

SCENARIOS = {
    "slurm": (3, {"slurm_controller": [0], "slurm_workers": [1, 2]}, {}),
    "htcondor": (3, {"htcondor_central_manager": [0], "htcondor_execute": [1, 2]}, {}),
    "zookeeper": (3, {"zookeeper": [0, 1, 2]}, {}),
    "udocker": (1, {"udocker_hosts": [0]}, {"INDIGO_UDOCKER_WHEEL": "download"}),
    "nfs": (2, {"nfs_server": [0], "nfs_clients": [1]}, {}),
    "os_users": (1, {"users": [0]}, {}),
    "data_staging": (1, {"data_nodes": [0]}, {}),
    "overlay": (2, {"central_point": [0], "overlay_clients": [1]}, {}),
}

# Scenarios written this turn that have not had a green run on real nodes yet (CI deselects `wip`).
NOT_YET_GREEN: set = set()  # data_staging: green on a real node in session 12 (88 s)


def run_molecule(scenario: str, inventory: Path, extra_env: dict) -> subprocess.CompletedProcess:
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, INDIGO_MOLECULE_INVENTORY=str(inventory), PATH=f"{bin_dir}:{os.environ['PATH']}",
               ANSIBLE_NOCOLOR="1", NO_COLOR="1", **extra_env)
    return subprocess.run([str(bin_dir / "molecule"), "test", "-s", scenario], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1500)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", [pytest.param(s, marks=pytest.mark.wip) if s in NOT_YET_GREEN else s
                                      for s in sorted(SCENARIOS)])
def test_role_scenario_on_real_nodes(scenario, local_nodes, ssh_keypair, local_site, tmp_path):  # noqa: F811
    count, groups, extra_env = SCENARIOS[scenario]
    if extra_env.get("INDIGO_UDOCKER_WHEEL") == "download":  # nodes reach no PyPI; this machine does
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(tmp_path / "wheel"),
                        "udocker==1.3.17"], check=True, timeout=300)
        extra_env = {"INDIGO_UDOCKER_WHEEL": str(next((tmp_path / "wheel").glob("udocker-*.whl")))}
    nodes = local_nodes(count, node=scenario.replace("_", "-"), cpus=1, mem_mb=1024)
    inventory = write_inventory(tmp_path / "inventory.yml", [{"name": n.name, "address": n.address} for n in nodes],
                                groups, ssh_keypair, local_site.cfg.known_hosts_file)
    result = run_molecule(scenario, inventory, extra_env)
    log = tmp_path / "molecule.log"
    log.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"molecule test -s {scenario} failed; log: {log}\n{(result.stdout + result.stderr)[-6000:]}"
