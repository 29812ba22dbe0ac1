"""The compiler on small templates: what a user finds in the compiled project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap

import pytest

from tests.fixtures.corpus import EXAMPLES, PRESENT, TYPES_MAPPING, require_corpus
import yaml

from tosca2ansible.compiler import compile_template, default_deployment_id
from tosca2ansible.errors import UserInputError
from tests.helpers import INDIGO_IMPORTS, ROOT, VENV_BIN, load_project_yaml as load, write_template

TYPES = [TYPES_MAPPING] if PRESENT else []
EXAMPLE_ELASTIC = os.path.join(ROOT, "examples", "elastic_slurm_cluster.yaml")
SLURM_EXAMPLE = os.path.join(ROOT, "examples", "slurm_cluster.yaml")
ANSIBLE_PLAYBOOK = str(VENV_BIN / "ansible-playbook")
HEADER = INDIGO_IMPORTS


def write(tmp_path, body, name="t.yaml"):
    return write_template(tmp_path, HEADER + textwrap.dedent(body), name)


def tasks_of(deploy):
    return [task for play in deploy for task in play.get("tasks", [])]


@pytest.fixture(name="slurm_project")
def fixture_slurm_project(tmp_path):
    out = tmp_path / "proj"
    compile_template(SLURM_EXAMPLE, str(out), {}, TYPES)
    return out


def test_slurm_example_provisions_both_computes_and_configures_slurm(slurm_project):
    deploy = load(slurm_project / "deploy.yml")
    provision = deploy[0]
    assert provision["hosts"] == "localhost"
    instances = {t["indigo.paas.instance"]["node"][1]: t for t in provision["tasks"] if "indigo.paas.instance" in t}
    assert sorted(instances) == ["lrms_server", "lrms_wn"]
    assert instances["lrms_wn"]["indigo.paas.instance"]["count"] == "{{ input_wn_num }}"
    assert instances["lrms_server"]["async"] > 0 and instances["lrms_server"]["poll"] == 0
    assert instances["lrms_server"]["indigo.paas.instance"]["public_ip"] is True
    assert instances["lrms_server"]["indigo.paas.instance"]["ports"] == [
        {"port": 22, "protocol": ("UNSAFE", "tcp"), "remote_cidr": ("UNSAFE", "0.0.0.0/0")}]
    assert any(t.get("ansible.builtin.meta") == "refresh_inventory" for t in provision["tasks"])
    level1 = [p for p in deploy if p["name"].startswith("Configure level 1")][0]
    assert level1["hosts"] == "lrms_server:lrms_wn" and level1["become"] is True
    roles = {t["vars"]["slurm_tosca_node"]: t for t in level1["tasks"]}
    controller = roles["lrms_front_end"]
    assert controller["ansible.builtin.include_role"]["name"] == "indigo.paas.slurm"
    assert controller["vars"]["slurm_node_role"] == "controller"
    assert controller["vars"]["slurm_controller_group"] == "lrms_server"
    assert controller["vars"]["slurm_worker_group"] == "lrms_wn"
    assert controller["when"] == ["inventory_hostname in groups['lrms_server']"]
    assert roles["wn_node"]["vars"]["slurm_node_role"] == "worker"
    # get_attribute [lrms_wn, private_address] is the whole list, late-bound over the group
    assert controller["vars"]["slurm_tosca_properties"]["wn_ips"] == (
        "{{ (groups['lrms_wn'] | default([]) | map('extract', hostvars, 'IM_NODE_PRIVATE_IP') | list) }}")
    assert "[0]" in roles["wn_node"]["vars"]["slurm_tosca_properties"]["front_end_ip"]


def test_outputs_play_writes_outputs_json(slurm_project):
    last = load(slurm_project / "deploy.yml")[-1]
    assert last["hosts"] == "localhost"
    copy = last["tasks"][0]["ansible.builtin.copy"]
    assert "outputs.json" in copy["dest"] and "indigo_outputs_file" in copy["dest"]
    assert sorted(last["vars"]["indigo_outputs"]) == ["cluster_ip", "cluster_private_ip", "wn_ips"]
    assert "IM_NODE_PUBLIC_IP" in last["vars"]["indigo_outputs"]["cluster_ip"]


def test_project_files_and_inventory(slurm_project):
    names = sorted(os.path.relpath(os.path.join(d, f), slurm_project)
                   for d, _, files in os.walk(slurm_project) for f in files)
    assert names == sorted([".ansible-lint", ".indigo-project", "ansible.cfg", "awx/configure.yml", "awx/survey.json", "deploy.yml", "scale.yml",
                            "group_vars/all/inputs.yml", "group_vars/all/topology.yml",
                            "inventory/localhost.yml", "inventory/slurm-cluster.indigo_deployment.yml",
                            "requirements.yml", "template.yaml", "undeploy.yml"])
    inventory = load(slurm_project / "inventory" / "slurm-cluster.indigo_deployment.yml")
    assert inventory == {"plugin": "indigo.paas.deployment", "deployment": "slurm-cluster"}
    topology = load(slurm_project / "group_vars" / "all" / "topology.yml")
    assert topology["indigo_deployment_id"] == "slurm-cluster"
    assert topology["indigo_nodes"]["lrms_wn"]["count"] == "{{ input_wn_num }}"
    inputs = load(slurm_project / "group_vars" / "all" / "inputs.yml")
    assert inputs["input_wn_num"] == 1 and inputs["input_fe_mem"] == ("UNSAFE", "1 GB")
    assert (slurm_project / "template.yaml").read_bytes() == open(SLURM_EXAMPLE, "rb").read()


def test_recompile_is_byte_identical(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    compile_template(SLURM_EXAMPLE, str(first), {"wn_num": 3}, TYPES)
    compile_template(SLURM_EXAMPLE, str(second), {"wn_num": 3}, TYPES)
    for folder, _, files in os.walk(first):
        for name in files:
            rel = os.path.relpath(os.path.join(folder, name), first)
            assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
    assert str(tmp_path) not in (first / "deploy.yml").read_text()


def test_recompile_replaces_a_previous_project(tmp_path):
    out = tmp_path / "proj"
    compile_template(SLURM_EXAMPLE, str(out), {"wn_num": 2}, TYPES)
    compile_template(SLURM_EXAMPLE, str(out), {"wn_num": 4}, TYPES)
    assert load(out / "group_vars" / "all" / "inputs.yml")["input_wn_num"] == 4
    assert [p.name for p in tmp_path.iterdir()] == ["proj"]


def test_refuses_to_overwrite_a_foreign_directory(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(UserInputError, match="refusing to overwrite"):
        compile_template(SLURM_EXAMPLE, str(out), {}, TYPES)
    assert (out / "notes.txt").read_text() == "keep me"


def test_survey_from_inputs(tmp_path):
    path = write(tmp_path, """
        topology_template:
          inputs:
            flavour: {type: string, default: small, constraints: [{valid_values: [small, large]}]}
            admin_password: {type: string, description: secret}
            size: {type: integer, default: 2, required: false}
            gpu: {type: boolean, default: no}
          node_templates:
            vm: {type: tosca.nodes.indigo.Compute}
        """)
    compile_template(path, str(tmp_path / "p"), {"admin_password": "s3cret"}, TYPES)
    survey = json.loads((tmp_path / "p" / "awx" / "survey.json").read_text())
    spec = {q["question_name"]: q for q in survey["spec"]}
    assert spec["flavour"]["type"] == "multiplechoice" and spec["flavour"]["choices"] == ["small", "large"]
    assert spec["flavour"]["default"] == "small" and spec["flavour"]["required"] is True
    assert spec["admin_password"]["type"] == "password" and spec["admin_password"]["variable"] == "input_admin_password"
    assert spec["size"] == {"default": 2, "question_description": "", "question_name": "size", "required": False,
                            "type": "integer", "variable": "input_size"}
    assert spec["gpu"]["choices"] == ["true", "false"] and spec["gpu"]["default"] == "false"


def test_elastic_cluster_compiles_onto_the_framework_elasticity(tmp_path):
    require_corpus()
    corpus = str(EXAMPLES / "elastic_cluster.yaml")
    compile_template(corpus, str(tmp_path / "p"), {}, TYPES)
    project = tmp_path / "p"
    text = (project / "deploy.yml").read_text() + (project / "elastic.yml").read_text()
    assert "ec3" not in text.lower() and "githubusercontent" not in text and "tosca_operation" not in text
    deploy = load(project / "deploy.yml")
    provision = {t["name"]: t for t in deploy[0]["tasks"]}
    assert provision["Provision lrms_wn"]["indigo.paas.instance"]["indexes"] == []  # min_instances 0
    assert "count" not in provision["Provision lrms_wn"]["indigo.paas.instance"]
    pool = load(project / "group_vars" / "all" / "elastic.yml")["indigo_elastic"]
    assert pool["lrms"] == "slurm" and pool["front_end_compute"] == "lrms_server" and pool["worker_compute"] == "lrms_wn"
    assert (pool["min_instances"], pool["max_instances"]) == (0, 5)  # max_instances: {get_input: wn_num}, default 5
    assert pool["nodes"] == ["lrms-wn-%d" % i for i in range(5)]
    controller = [t for p in deploy if p["name"].startswith("Configure") for t in p["tasks"]
                  if t["vars"].get("slurm_node_role") == "controller"][0]["vars"]
    assert [n["name"] for n in controller["slurm_cloud_nodes"]] == pool["nodes"]
    assert controller["slurm_suspend_time"] == 300 and controller["slurm_resume_program"].endswith("indigo-elastic-resume")
    scale = load(project / "elastic.yml")
    assert scale[1]["hosts"] == "lrms_wn" and scale[0]["tasks"][1]["indigo.paas.instance"]["state"] == "present"
    assert [t["vars"]["slurm_node_role"] for t in scale[1]["tasks"] if "vars" in t] == ["worker"]


@pytest.mark.parametrize("inputs,message", [
    ({"idle_time": "-5"}, "node elastic_cluster_front_end, field properties.idle_time"),
    ({"boot_timeout": "0"}, "node elastic_cluster_front_end, field properties.boot_timeout"),
    ({"wn_max": "0"}, "node wn_node, field capabilities.wn.properties.max_instances: must be 1 or more, got 0"),
    ({"wn_min": "9"}, "node wn_node, field capabilities.wn.properties.min_instances: min_instances 9 is above "
                      "max_instances 4"),
])
def test_elastic_bad_policy_values_name_the_field(tmp_path, inputs, message):
    with pytest.raises(UserInputError) as info:
        compile_template(str(EXAMPLE_ELASTIC), str(tmp_path / "p"), inputs, [])
    assert message in str(info.value)
    assert info.value.exit_code == 2
    assert not (tmp_path / "p").exists()


def test_functions_concat_token_get_property_through_requirement(tmp_path):
    path = write(tmp_path, """
        topology_template:
          inputs:
            prefix: {type: string, default: "a:b"}
          node_templates:
            fe:
              type: tosca.nodes.indigo.LRMS.FrontEnd.Slurm
              properties:
                wn_num: 3
                wn_ips: { concat: [ { get_input: prefix }, "-", { get_attribute: [ HOST, public_address, 0 ] } ] }
              requirements:
                - host: vm
            wn:
              type: tosca.nodes.indigo.LRMS.WorkerNode.Slurm
              properties:
                front_end_ip: { token: [ { get_input: prefix }, ":", 1 ] }
                public_front_end_ip: { get_property: [ SELF, host, os, distribution ] }
              requirements:
                - host: vm
            vm:
              type: tosca.nodes.indigo.Compute
              capabilities:
                os: {properties: {distribution: debian}}
        """)
    compile_template(path, str(tmp_path / "p"), {}, TYPES)
    props = load(tmp_path / "p" / "group_vars" / "all" / "topology.yml")["indigo_node_properties"]
    assert props["fe"]["wn_ips"] == ("{{ ((input_prefix | string) ~ '-' ~ (((groups['vm'] | default([]) | "
                                     "map('extract', hostvars, 'IM_NODE_PUBLIC_IP') | list)[0] | default(none)) | string)) }}")
    assert props["wn"]["front_end_ip"] == "{{ ((input_prefix | string).split(':')[1] | default(none)) }}"
    assert props["wn"]["public_front_end_ip"] == ("UNSAFE", "debian")


def test_bundled_library_used_with_notice(tmp_path, monkeypatch):
    monkeypatch.delenv("INDIGO_TYPES_PATH", raising=False)
    compiled = compile_template(SLURM_EXAMPLE, str(tmp_path / "p"), {}, [])
    assert any("bundled INDIGO type library" in line for line in compiled.notices)


def test_types_path_from_environment(tmp_path, monkeypatch, capsys):
    if not TYPES:
        pytest.skip("shared corpus not present")
    monkeypatch.setenv("INDIGO_TYPES_PATH", TYPES[0])
    compiled = compile_template(SLURM_EXAMPLE, str(tmp_path / "p"), {}, [])
    assert not any("bundled" in line for line in compiled.notices)


def test_default_deployment_id():
    assert default_deployment_id("/x/My Template_v2.yaml") == "my-template-v2"
    assert default_deployment_id("2fast.yml") == "d-2fast"


@pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason="ansible-playbook not installed")
def test_jinja_in_an_input_reaches_the_node_literally(tmp_path):
    """An input value is never evaluated: what Ansible writes is the literal text."""
    evil = "{{ lookup('pipe','id') }}"
    compile_template(SLURM_EXAMPLE, str(tmp_path / "p"), {}, TYPES)
    path = write(tmp_path, """
        topology_template:
          inputs:
            text: {type: string}
          node_templates:
            fe:
              type: tosca.nodes.indigo.LRMS.FrontEnd.Slurm
              properties: {wn_ips: {concat: [">", {get_input: text}]}, hybrid: {get_input: text}}
              requirements: [{host: vm}]
            vm: {type: tosca.nodes.indigo.Compute}
        """)
    project = tmp_path / "q"
    compile_template(path, str(project), {"text": evil}, TYPES)
    props = load(project / "group_vars" / "all" / "topology.yml")["indigo_node_properties"]["fe"]
    (project / "probe.yml").write_text(yaml.safe_dump([{
        "name": "Probe", "hosts": "localhost", "gather_facts": False,
        "vars": {"probe": {"plain": props["hybrid"], "joined": props["wn_ips"]}},
        "tasks": [{"name": "Write", "ansible.builtin.copy": {"content": "{{ probe | to_json }}",
                                                             "dest": str(project / "probe.json"), "mode": "0600"}}]}]))
    env = dict(os.environ, ANSIBLE_INVENTORY=str(project / "inventory" / "localhost.yml"))
    done = subprocess.run([ANSIBLE_PLAYBOOK, "probe.yml"], cwd=project, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((project / "probe.json").read_text()) == {"plain": evil, "joined": ">" + evil}


def test_unsupported_type_is_named(tmp_path):
    path = write(tmp_path, """
        node_types:
          my.Job:
            derived_from: tosca.nodes.Container.Application.Docker
        topology_template:
          node_templates:
            job: {type: my.Job}
        """)
    with pytest.raises(UserInputError, match=r"t.yaml:10, node job, field type: not supported yet: job \(my.Job\)"):
        compile_template(path, str(tmp_path / "p"), {}, TYPES)
    assert not (tmp_path / "p").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["t.yaml"]


def test_module_nodes_run_on_localhost(tmp_path):
    require_corpus()
    corpus = str(EXAMPLES / "indigo_marathon_app.yaml")
    compile_template(corpus, str(tmp_path / "p"), {}, TYPES)
    deploy = load(tmp_path / "p" / "deploy.yml")
    services = [p for p in deploy if p["name"].startswith("Deploy level")]
    assert services and services[0]["hosts"] == "localhost"
    task = services[0]["tasks"][0]
    assert task["indigo.paas.marathon_app"]["id"] == "/{{ indigo_deployment_id }}/marathon-app"
    assert task["indigo.paas.marathon_app"]["image"] == "{{ input_docker_image }}"
    undeploy = load(tmp_path / "p" / "undeploy.yml")
    assert [t for t in undeploy[0]["tasks"] if t.get("indigo.paas.marathon_app", {}).get("state") == "absent"]
    shutil.rmtree(tmp_path / "p")


def test_framework_apps_use_their_own_framework_credentials(tmp_path):
    """Marathon and Chronos get separate credentials from their roles: each app module reads its own
    framework's extra vars, falling back to the shared indigo_mesos_* pair."""
    require_corpus()
    compile_template(str(EXAMPLES / "indigo_job_onedata.yaml"), str(tmp_path / "p"), {}, TYPES, None, defer_inputs=True)
    tasks = [t for play in load(tmp_path / "p" / "deploy.yml") for t in play.get("tasks", [])]
    job = [t["indigo.paas.chronos_job"] for t in tasks if "indigo.paas.chronos_job" in t][0]
    assert job["username"] == "{{ indigo_chronos_username | default(indigo_mesos_username) | default(omit) }}"
    assert job["password"] == "{{ indigo_chronos_password | default(indigo_mesos_password) | default(omit) }}"


def test_compute_os_users_become_the_os_users_role(tmp_path):
    path = write(tmp_path, """
        topology_template:
          node_templates:
            vm:
              type: tosca.nodes.indigo.Compute
              properties:
                os_users:
                  - {os_user_name: alice, os_user_add_to_sudoers: true, os_user_ssh_public_key: "ssh-ed25519 AAAA a"}
        """)
    compile_template(path, str(tmp_path / "p"), {}, TYPES)
    play = [p for p in load(tmp_path / "p" / "deploy.yml") if p["name"] == "Create operating system users"][0]
    assert play["hosts"] == "vm" and play["become"] is True
    task = play["tasks"][0]
    assert task["ansible.builtin.include_role"]["name"] == "indigo.paas.os_users"
    assert task["vars"]["os_users_list"] == [{"name": ("UNSAFE", "alice"), "sudo": True,
                                              "ssh_keys": [("UNSAFE", "ssh-ed25519 AAAA a")]}]
