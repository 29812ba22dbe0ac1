"""TOSCA node properties reach the roles they configure: compile a small template, hand the compiled
include_role vars (and the inputs, `!unsafe` kept) to the role, and read what the role renders.

Also the audit: every property of every TOSCA type mapped onto these roles (parents included) either
drives a role variable or is listed in the role's README as ignored, with the reason.
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from role_render import ROLES, debian_facts, load_compiled, render, resolve, role_vars
from tosca2ansible.compiler import compile_template, typemap
from tosca2ansible.compiler.types import TypeRegistry
from tosca2ansible.typelib import bundled_for_url
from tests.helpers import INDIGO_IMPORTS

HEADER = INDIGO_IMPORTS
# Two Compute nodes, fe (one host) and wn (one host), as the deployment inventory plugin names them.
HOSTS = {"d-fe-0": debian_facts("fe", "10.77.0.10"), "d-wn-0": debian_facts("wn", "10.77.0.11")}
GROUPS = {"fe": ["d-fe-0"], "wn": ["d-wn-0"], "indigo_deployment": ["d-fe-0", "d-wn-0"]}
HOST_VARS = {"d-fe-0": {"IM_NODE_PRIVATE_IP": "10.77.0.10"}, "d-wn-0": {"IM_NODE_PRIVATE_IP": "10.77.0.11"}}


def evil(tmp_path: Path) -> str:
    """Jinja that leaves a file behind if Ansible ever evaluates it."""
    return "{{ lookup('pipe', 'touch %s') }}" % (tmp_path / "templated")


def compile_project(tmp_path: Path, body: str, inputs: dict | None = None) -> Path:
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + textwrap.dedent(body))
    project = tmp_path / "project"
    compile_template(str(template), str(project), inputs or {}, [])  # [] = the bundled type library
    return project


def node_vars(project: Path, role: str, node: str) -> dict:
    """What the role sees for this node: the compiled task vars plus the inputs (group_vars/all)."""
    inputs = load_compiled(project / "group_vars" / "all" / "inputs.yml") or {}
    return {**inputs, **role_vars(project, role, node)}


# --- os_users -------------------------------------------------------------------------------------

USERS = """
    topology_template:
      inputs:
        admin_ssh: {type: string, default: "ssh-ed25519 AAAAC3Nz admin@example"}
      node_templates:
        accounts:
          type: tosca.nodes.indigo.OS.Users
          properties:
            users:
              - {name: alice, ssh_key: {get_input: admin_ssh}, sudo: yes}
              - {name: bob}
          requirements: [{host: fe}]
        fe: {type: tosca.nodes.indigo.Compute}
    """


def test_os_users_node_applies_the_role_with_its_users(tmp_path):
    key = "ssh-ed25519 AAAAC3Nz " + evil(tmp_path)
    project = compile_project(tmp_path, USERS, {"admin_ssh": key})
    plays = [p for p in load_compiled(project / "deploy.yml") if any(
        t.get("ansible.builtin.include_role", {}).get("name") == "indigo.paas.os_users" for t in p.get("tasks", []))]
    assert [(p["hosts"], p["become"]) for p in plays] == [("fe", True)]
    got = resolve("os_users", ["os_users_list", "os_users_with_keys"], HOSTS, GROUPS, "d-fe-0",
                  node_vars(project, "indigo.paas.os_users", "accounts"), tmp_path / "r")
    alice = {"name": "alice", "ssh_key": key, "sudo": True}
    assert got["os_users_list"] == [alice, {"name": "bob"}]
    # alice's key (given as TOSCA's one ssh_key) is written; bob has none, so his file is left alone.
    assert got["os_users_with_keys"] == [alice]
    assert not (tmp_path / "templated").exists()


def test_os_users_standalone_manages_nobody(tmp_path):
    got = resolve("os_users", ["os_users_list"], HOSTS, GROUPS, "d-fe-0", {}, tmp_path)
    assert got == {"os_users_list": []}


# --- nfs ------------------------------------------------------------------------------------------

NFS = """
    topology_template:
      inputs:
        data_dir: {type: string, default: /srv/data}
      node_templates:
        share:
          type: tosca.nodes.indigo.NFS.Server
          properties:
            export_path: {get_input: data_dir}
            allowed_clients: [10.1.0.0/16]
            export_options: rw,sync,no_subtree_check
          requirements: [{host: fe}]
        share_mount:
          type: tosca.nodes.indigo.NFS.Client
          properties:
            export_path: {get_input: data_dir}
            mount_path: /mnt/data
            mount_options: rw,hard,vers=4.2
          requirements: [{host: wn}, {server: share}]
        fe: {type: tosca.nodes.indigo.Compute}
        wn: {type: tosca.nodes.indigo.Compute}
    """
NFS_TEMPLATES = {"exports.j2": "exports", "ganesha.conf.j2": "ganesha.conf"}


def test_nfs_server_exports_the_tosca_export_path(tmp_path):
    project = compile_project(tmp_path, NFS, {"data_dir": "/export/shared"})
    out = render("nfs", NFS_TEMPLATES, HOSTS, GROUPS, "d-fe-0", node_vars(project, "indigo.paas.nfs", "share"),
                 tmp_path / "r", host_vars=HOST_VARS)
    assert [line for line in out["exports"].splitlines() if not line.startswith("#")] == [
        "/export/shared 10.1.0.0/16(rw,sync,no_subtree_check)"]
    ganesha = out["ganesha.conf"]
    assert ganesha.count("EXPORT {") == 1 and 'Path = "/export/shared";' in ganesha
    assert "Clients = 10.1.0.0/16;" in ganesha and "Squash = Root_Squash;" in ganesha


def test_nfs_server_without_allowed_clients_exports_to_the_deployment_hosts(tmp_path):
    project = compile_project(tmp_path, NFS.replace("allowed_clients: [10.1.0.0/16]", "allowed_clients: []"))
    out = render("nfs", NFS_TEMPLATES, HOSTS, GROUPS, "d-fe-0", node_vars(project, "indigo.paas.nfs", "share"),
                 tmp_path / "r", host_vars=HOST_VARS)
    assert "/srv/data 10.77.0.10(rw,sync,no_subtree_check) 10.77.0.11(rw,sync,no_subtree_check)" in out["exports"]
    assert "Clients = 10.77.0.10, 10.77.0.11;" in out["ganesha.conf"]


def test_nfs_client_mounts_the_export_at_the_tosca_mount_path(tmp_path):
    project = compile_project(tmp_path, NFS)
    got = resolve("nfs", ["nfs_client_mounts", "nfs_client_mount_options", "nfs_server_address"], HOSTS, GROUPS,
                  "d-wn-0", node_vars(project, "indigo.paas.nfs", "share_mount"), tmp_path / "r", host_vars=HOST_VARS)
    assert got == {"nfs_client_mounts": [{"export": "/srv/data", "path": "/mnt/data"}],
                   "nfs_client_mount_options": "rw,hard,vers=4.2", "nfs_server_address": "10.77.0.10"}


def test_nfs_standalone_defaults_are_unchanged(tmp_path):
    got = resolve("nfs", ["nfs_exports", "nfs_client_mounts", "nfs_client_mount_options"], HOSTS,
                  {"nfs_server": ["d-fe-0"]}, "d-wn-0", {}, tmp_path)
    assert got == {"nfs_exports": [{"path": "/home"}, {"path": "/scratch"}], "nfs_client_mounts": ["/home", "/scratch"],
                   "nfs_client_mount_options": "rw,hard,vers=4.1,_netdev"}


def test_jinja_in_a_tosca_export_path_is_never_evaluated_and_is_refused(tmp_path):
    evil_path = "/srv/" + evil(tmp_path)
    project = compile_project(tmp_path, NFS, {"data_dir": evil_path})
    variables = node_vars(project, "indigo.paas.nfs", "share")
    out = render("nfs", {"exports.j2": "exports"}, HOSTS, GROUPS, "d-fe-0", variables, tmp_path / "r",
                 host_vars=HOST_VARS)
    assert f"{evil_path} 10.1.0.0/16(" in out["exports"]
    assert not (tmp_path / "templated").exists()
    # The role's own check (run before anything is written) refuses such a path.
    got = resolve("nfs", ["nfs_check_paths", "nfs_path_pattern"], HOSTS, GROUPS, "d-fe-0", variables,
                  tmp_path / "c", host_vars=HOST_VARS)
    assert got["nfs_check_paths"] == [evil_path]
    assert not re.match(got["nfs_path_pattern"], evil_path) and re.match(got["nfs_path_pattern"], "/srv/data")


# --- htcondor -------------------------------------------------------------------------------------

CONDOR = """
    topology_template:
      inputs:
        slots: {type: integer, default: 3}
      node_templates:
        condor_fe:
          type: tosca.nodes.indigo.LRMS.FrontEnd.HTCondor
          properties:
            allow_submit_from: [192.168.5.0/24, ui.example.org]
          requirements: [{host: fe}]
        condor_wn:
          type: tosca.nodes.indigo.LRMS.WorkerNode.HTCondor
          properties:
            slots: {get_input: slots}
            front_end_ip: {get_attribute: [fe, private_address, 0]}
          requirements: [{host: wn}, {front_end: condor_fe}]
        fe: {type: tosca.nodes.indigo.Compute}
        wn: {type: tosca.nodes.indigo.Compute}
    """
CONDOR_CONF = {"50-indigo.conf.j2": "50-indigo.conf"}


def conf_value(text: str, key: str) -> str:
    values = [line.split("=", 1)[1].strip() for line in text.splitlines() if line.split("=", 1)[0].strip() == key]
    assert len(values) == 1, f"{key}: {values}"
    return values[0]


def test_htcondor_worker_advertises_the_tosca_slots(tmp_path):
    project = compile_project(tmp_path, CONDOR, {"slots": 6})
    # The hosts' facts say 10.77.0.x; the inventory's private address of fe is what front_end_ip names.
    host_vars = {**HOST_VARS, "d-fe-0": {"IM_NODE_PRIVATE_IP": "10.99.0.10"}}
    conf = render("htcondor", CONDOR_CONF, HOSTS, GROUPS, "d-wn-0",
                  {**node_vars(project, "indigo.paas.htcondor", "condor_wn"), "htcondor_use_cgroups": False},
                  tmp_path / "r", host_vars=host_vars)["50-indigo.conf"]
    assert conf_value(conf, "NUM_CPUS") == "6"
    assert conf_value(conf, "CONDOR_HOST") == "10.99.0.10"
    assert "use ROLE : Execute" in conf


def test_htcondor_front_end_allows_submission_from_the_deployment_and_allow_submit_from(tmp_path):
    project = compile_project(tmp_path, CONDOR)
    conf = render("htcondor", CONDOR_CONF, HOSTS, GROUPS, "d-fe-0",
                  node_vars(project, "indigo.paas.htcondor", "condor_fe"), tmp_path / "r",
                  host_vars=HOST_VARS)["50-indigo.conf"]
    assert conf_value(conf, "ALLOW_WRITE") == ", ".join("*@$(UID_DOMAIN)/" + host for host in (
        "$(IP_ADDRESS)", "10.77.0.10", "10.77.0.11", "192.168.5.0/24", "ui.example.org"))
    assert conf_value(conf, "CONDOR_HOST") == "10.77.0.10"
    assert "NUM_CPUS" not in conf  # not an execute node


def test_htcondor_default_slots_leave_one_per_cpu(tmp_path):
    project = compile_project(tmp_path, CONDOR.replace("slots: {get_input: slots}", "hybrid: false"))
    conf = render("htcondor", CONDOR_CONF, HOSTS, GROUPS, "d-wn-0",
                  node_vars(project, "indigo.paas.htcondor", "condor_wn"), tmp_path / "r",
                  host_vars=HOST_VARS)["50-indigo.conf"]
    assert "NUM_CPUS" not in conf


# --- audit: every property of every mapped type is used or documented as ignored --------------------

# Every role the type map applies to TOSCA nodes (tosca_operation runs operation playbooks, not types).
AUDITED_ROLES = ("nfs", "htcondor", "os_users", "mesos", "marathon", "chronos", "marathon_lb", "slurm",
                 "zookeeper", "docker", "data_staging", "overlay")


def test_every_mapped_role_is_audited():
    mapped = {step.role.split(".")[-1] for mapping in typemap.TYPE_MAP.values() for step in mapping.roles}
    assert mapped == set(AUDITED_ROLES)
README_ROW = re.compile(r"^\|\s*`(?P<type>tosca\.[^`]+)`\s*\|\s*`(?P<prop>[^`]+)`\s*\|\s*(?P<effect>.+?)\s*\|\s*$")


def _registry() -> TypeRegistry:
    with open(bundled_for_url(HEADER.split("custom_types: ")[1].strip()), encoding="utf-8") as handle:
        sections = yaml.safe_load(handle)
    return TypeRegistry([("bundled", sections, {})])


def _mapped_types(role: str) -> list:
    return sorted(name for name, mapping in typemap.TYPE_MAP.items()
                  if any(step.role == "indigo.paas." + role for step in mapping.roles))


def _documented(role: str) -> dict:
    rows = {}
    for line in (ROLES / role / "README.md").read_text().splitlines():
        match = README_ROW.match(line)
        if match:
            rows[(match["type"], match["prop"])] = match["effect"]
    return rows


@pytest.mark.parametrize("role", AUDITED_ROLES)
def test_every_tosca_property_drives_a_variable_or_is_documented_as_ignored(role):
    registry = _registry()
    documented = _documented(role)
    role_variables = set(yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()))
    expected = set()
    for type_name in _mapped_types(role):
        assert registry.get("node_types", type_name), f"{type_name} is not in the bundled type library"
        expected |= {(type_name, prop) for prop in registry.node_properties(type_name)}
    assert set(documented) == expected, "README rows differ from the types' properties"
    for (type_name, prop), effect in sorted(documented.items()):
        if effect.startswith("ignored"):
            assert len(effect.split(":", 1)[-1].strip()) > 10, f"{type_name}.{prop}: ignored without a reason"
        else:
            variable = re.match(r"`(\w+)`", effect)
            assert variable and variable[1] in role_variables, f"{type_name}.{prop}: {effect!r} names no role default"
