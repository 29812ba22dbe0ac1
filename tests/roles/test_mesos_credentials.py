"""The credentials a TOSCA MesosMaster / MesosLoadBalancer node declares reach Mesos, Marathon, Chronos
and marathon-lb: compile a template, hand each role the compiled vars and read what it renders.

Mesos, Marathon and Chronos cannot be installed here: the rendered files and the tasks that write them
are what a user could check on a node (the credentials in 0600 files written by no_log tasks, never in
a flag file that becomes a command-line argument, nor in a systemd unit).
"""
from __future__ import annotations

import json

import yaml

from role_render import ROLES, Unsafe, load_compiled, render, resolve, role_vars
from test_tosca_properties import GROUPS, HOST_VARS, HOSTS, compile_project, evil

MESOS = """
    topology_template:
      inputs:
        mesos_password: {type: string}
        marathon_password: {type: string}
        chronos_password: {type: string}
      node_templates:
        master:
          type: tosca.nodes.indigo.MesosMaster
          properties:
            mesos_username: operator
            mesos_password: {get_input: mesos_password}
            marathon_password: {get_input: marathon_password}
            chronos_username: cron
            chronos_password: {get_input: chronos_password}
          requirements: [{host: fe}]
        agent:
          type: tosca.nodes.indigo.MesosSlave
          properties:
            master_ips: [{get_attribute: [fe, private_address, 0]}]
            front_end_ip: {get_attribute: [fe, private_address, 0]}
          requirements: [{host: wn}]
        balancer:
          type: tosca.nodes.indigo.MesosLoadBalancer
          properties:
            master_ips: [{get_attribute: [fe, private_address, 0]}]
            marathon_password: {get_input: marathon_password}
          requirements: [{host: wn}]
        fe: {type: tosca.nodes.indigo.Compute}
        wn: {type: tosca.nodes.indigo.Compute}
    """


def compiled_vars(project, role: str, node: str, secrets: dict) -> dict:
    """group_vars/all (inputs, topology with every node's properties), the secret inputs (never written to
    the project: the runtime passes them as `!unsafe` extra vars) and the role's include vars."""
    variables = {f"input_{name}": Unsafe(value) for name, value in secrets.items()}
    for path in sorted((project / "group_vars" / "all").glob("*.yml")):
        variables.update(load_compiled(path) or {})
    return {**variables, **role_vars(project, role, node)}


def passwords(tmp_path) -> dict:
    # Each password carries Jinja: it must be written literally, never evaluated.
    return {"mesos_password": "m-pass " + evil(tmp_path), "marathon_password": "mt\"pass\\" + evil(tmp_path),
            "chronos_password": "c-pass " + evil(tmp_path)}


def test_mesos_master_and_agents_authenticate_with_the_tosca_credentials(tmp_path):
    secrets = passwords(tmp_path)
    project = compile_project(tmp_path, MESOS, secrets)
    master = compiled_vars(project, "indigo.paas.mesos", "master", secrets)
    out = render("mesos", {"credentials.json.j2": "credentials"}, HOSTS, GROUPS, "d-fe-0", master, tmp_path / "m",
                 host_vars=HOST_VARS)
    accepted = json.loads(out["credentials"])["credentials"]
    assert accepted[0] == {"principal": "operator", "secret": secrets["mesos_password"]}
    assert accepted[1]["principal"] == "mesos-agent" and len(accepted) == 2
    flags = resolve("mesos", ["mesos_flags", "mesos_credential_flags", "mesos_node_role"], HOSTS, GROUPS, "d-fe-0",
                    master, tmp_path / "mf", host_vars=HOST_VARS)
    master_flags = {**flags["mesos_flags"]["master"], **flags["mesos_credential_flags"]["master"]}
    assert master_flags["authenticate_http_readwrite"] == "true" and master_flags["authenticate_agents"] == "true"
    assert master_flags["credentials"] == "/etc/mesos/credentials"
    # Flag files become command-line arguments (mesos-init-wrapper): they name the file, never a secret.
    assert not any(secrets["mesos_password"] in str(value) or accepted[1]["secret"] in str(value)
                   for value in master_flags.values())

    agent = compiled_vars(project, "indigo.paas.mesos", "agent", secrets)
    out = render("mesos", {"agent-credential.json.j2": "credential"}, HOSTS, GROUPS, "d-wn-0", agent,
                 tmp_path / "a", host_vars=HOST_VARS)
    # The agent presents the principal the master accepts; the operator's password never reaches it.
    assert json.loads(out["credential"]) == accepted[1]
    assert secrets["mesos_password"] not in out["credential"]
    flags = resolve("mesos", ["mesos_credential_flags"], HOSTS, GROUPS, "d-wn-0", agent, tmp_path / "af",
                    host_vars=HOST_VARS)
    assert flags["mesos_credential_flags"]["agent"] == {"credential": "/etc/mesos/agent-credential"}
    assert not (tmp_path / "templated").exists()


def test_marathon_and_chronos_require_the_tosca_credentials(tmp_path):
    secrets = passwords(tmp_path)
    project = compile_project(tmp_path, MESOS, secrets)
    marathon = render("marathon", {"marathon.env.j2": "marathon"}, HOSTS, GROUPS, "d-fe-0",
                      compiled_vars(project, "indigo.paas.marathon", "master", secrets), tmp_path / "mt",
                      host_vars=HOST_VARS)["marathon"]
    # systemd's EnvironmentFile syntax: double quotes, backslash and quote escaped; read as admin:<password>.
    escaped = secrets["marathon_password"].replace("\\", "\\\\").replace('"', '\\"')
    assert f'MARATHON_HTTP_CREDENTIALS="admin:{escaped}"' in marathon.splitlines()
    chronos_vars = compiled_vars(project, "indigo.paas.chronos", "master", secrets)
    chronos = render("chronos", {"http_credentials.j2": "http_credentials"}, HOSTS, GROUPS, "d-fe-0", chronos_vars,
                     tmp_path / "c", host_vars=HOST_VARS)["http_credentials"]
    assert chronos == f"cron:{secrets['chronos_password']}\n"
    options = resolve("chronos", ["chronos_options"], HOSTS, GROUPS, "d-fe-0", chronos_vars, tmp_path / "co",
                      host_vars=HOST_VARS)["chronos_options"]
    assert "http_credentials" not in options  # written by its own no_log task, 0600
    assert not (tmp_path / "templated").exists()


def test_marathon_lb_reads_the_marathon_credentials_from_a_file(tmp_path):
    secrets = passwords(tmp_path)
    project = compile_project(tmp_path, MESOS, secrets)
    out = render("marathon_lb", {"marathon-credentials.j2": "credentials", "marathon-lb.service.j2": "unit"}, HOSTS,
                 GROUPS, "d-wn-0", compiled_vars(project, "indigo.paas.marathon_lb", "balancer", secrets),
                 tmp_path / "lb", host_vars=HOST_VARS)
    assert out["credentials"] == f"admin:{secrets['marathon_password']}\n"
    unit = out["unit"]
    assert "--marathon-auth-credential-file /run/marathon-lb/marathon-credentials" in unit
    assert "-v /etc/marathon-lb/marathon-credentials:/run/marathon-lb/marathon-credentials:ro" in unit
    assert secrets["marathon_password"] not in unit and "EnvironmentFile" not in unit
    assert not (tmp_path / "templated").exists()


def test_without_credentials_authentication_stays_off(tmp_path):
    groups = {"mesos_masters": ["d-fe-0"], "agents": ["d-wn-0"]}
    got = resolve("mesos", ["mesos_credentials", "mesos_agent_credential", "mesos_flags", "mesos_credential_flags"],
                  HOSTS, groups, "d-fe-0", {"mesos_node_role": "master"}, tmp_path / "m")
    assert got["mesos_credentials"] == [] and got["mesos_agent_credential"] == {}
    assert got["mesos_flags"]["master"]["authenticate_http_readwrite"] == "false"
    assert got["mesos_flags"]["master"]["authenticate_agents"] == "false"
    assert got["mesos_credential_flags"] == {"master": {}, "agent": {}}
    marathon = render("marathon", {"marathon.env.j2": "marathon"}, HOSTS, groups, "d-fe-0", {}, tmp_path / "mt")
    assert "MARATHON_HTTP_CREDENTIALS" not in marathon["marathon"]
    assert resolve("chronos", ["chronos_http_credentials"], HOSTS, groups, "d-fe-0", {}, tmp_path / "c") == {
        "chronos_http_credentials": ""}
    unit = render("marathon_lb", {"marathon-lb.service.j2": "unit"}, HOSTS, groups, "d-wn-0",
                  {"marathon_lb_master_group": "mesos_masters"}, tmp_path / "lb")["unit"]
    assert "credential" not in unit


def test_a_tosca_master_without_http_authentication_leaves_mesos_open(tmp_path):
    body = MESOS.replace("mesos_username: operator", "mesos_authenticate_http: false")
    secrets = passwords(tmp_path)
    project = compile_project(tmp_path, body, secrets)
    for host, node in (("d-fe-0", "master"), ("d-wn-0", "agent")):
        got = resolve("mesos", ["mesos_credentials", "mesos_agent_credential"], HOSTS, GROUPS, host,
                      compiled_vars(project, "indigo.paas.mesos", node, secrets), tmp_path / node, host_vars=HOST_VARS)
        assert got == {"mesos_credentials": [], "mesos_agent_credential": {}}


# Tasks that write a credential: (role, destination as written in the task).
CREDENTIAL_WRITERS = {
    ("mesos", "{{ mesos_credentials_file }}"), ("mesos", "{{ mesos_agent_credential_file }}"),
    ("marathon", "/etc/default/marathon"), ("chronos", "/etc/chronos/conf/http_credentials"),
    ("marathon_lb", "{{ marathon_lb_credentials_file }}"),
}
CREDENTIAL_VARIABLES = ("mesos_credentials", "mesos_agent_credential", "marathon_http_credentials",
                        "chronos_http_credentials", "marathon_lb_marathon_credentials")


def test_every_task_that_handles_a_credential_is_no_log_and_writes_0600():
    found = set()
    for role in ("mesos", "marathon", "chronos", "marathon_lb"):
        for task in yaml.safe_load((ROLES / role / "tasks" / "main.yml").read_text()):
            module = next((task[key] for key in ("ansible.builtin.template", "ansible.builtin.copy") if key in task), None)
            if module and (role, module["dest"]) in CREDENTIAL_WRITERS:
                found.add((role, module["dest"]))
                assert module["mode"] == "0600" and task.get("no_log") is True, task["name"]
            elif "ansible.builtin.file" not in task and any(name in yaml.safe_dump(task) for name in CREDENTIAL_VARIABLES):
                # Any other task reading a credential's value (the checks) must not log it either.
                assert task.get("no_log") is True, task["name"]
    assert found == CREDENTIAL_WRITERS
