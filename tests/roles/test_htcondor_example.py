"""examples/htcondor_cluster.yaml compiles to a project that applies the htcondor role as the type map says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tosca2ansible.compiler import compile_template
from tests.helpers import ROOT

EXAMPLE = ROOT / "examples" / "htcondor_cluster.yaml"


class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Reads compiled YAML; `!unsafe` values come back as plain text."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def role_tasks(deploy, role):
    return [(play["hosts"], task) for play in deploy for task in play.get("tasks", [])
            if task.get("ansible.builtin.include_role", {}).get("name") == role]


def test_htcondor_example_maps_front_end_and_workers_onto_the_role(tmp_path):
    out = tmp_path / "proj"
    compile_template(str(EXAMPLE), str(out), {"wn_num": 2}, [])
    deploy = yaml.load((out / "deploy.yml").read_text(), Loader=_Loader)  # nosec B506

    condor = role_tasks(deploy, "indigo.paas.htcondor")
    assert [(hosts, task["vars"]["htcondor_node_roles"], task["vars"]["htcondor_central_manager_group"])
            for hosts, task in condor] == [("lrms_server", ["central_manager", "submit"], "lrms_server"),
                                           ("lrms_wn", ["execute"], "lrms_server")]
    # The job owner exists with one uid on every node (jobs run as their owner on the execute nodes).
    users = role_tasks(deploy, "indigo.paas.os_users")
    assert sorted(task["vars"]["os_users_list"][0]["uid"] for _, task in users) == [2001, 2001]
    assert "cluster_ip" in deploy[-1]["vars"]["indigo_outputs"]

    topology = yaml.load((out / "group_vars/all/topology.yml").read_text(), Loader=_Loader)  # nosec B506
    inputs = yaml.load((out / "group_vars/all/inputs.yml").read_text(), Loader=_Loader)  # nosec B506
    assert topology["indigo_nodes"]["lrms_wn"]["count"] == "{{ input_wn_num }}" and inputs["input_wn_num"] == 2

    check = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check", "deploy.yml"],
                           cwd=out, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
