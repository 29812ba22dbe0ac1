"""Write the compiled project directory: YAML through one serializer, byte-identical on recompile."""

from __future__ import annotations

import json
from typing import Optional

from tosca2ansible.compiler import awx, yamlwrite
from tosca2ansible.compiler.emit import Emitter
from tosca2ansible.compiler.model import MISSING, Topology
from tosca2ansible.compiler.render import Expr, Unsafe
from tosca2ansible.compiler.values import Input

# The collection a compiled project needs: requirements.yml pins it. Where it comes from is the operator's
# choice at install time (ansible-galaxy collection install -r requirements.yml -p collections, with a
# Galaxy server or `--offline` and a tarball); nothing of this machine is written into the project.
COLLECTION = "indigo.paas"



def dump_yaml(data) -> str:
    return yamlwrite.dump(data)


def _unsafe_tree(value):
    if isinstance(value, dict):
        return {str(k): _unsafe_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsafe_tree(v) for v in value]
    if isinstance(value, str):
        return Unsafe(value)
    return value


def survey(topology: Topology, deployment: str) -> dict:
    spec = []
    for definition in topology.inputs.values():
        question = {"question_name": definition.name, "question_description": definition.description,
                    "variable": definition.var_name, "required": definition.required}
        valid = [c["valid_values"] for c in definition.constraints if isinstance(c, dict) and "valid_values" in c]
        if valid and isinstance(valid[0], list):
            question["type"] = "multiplechoice"
            question["choices"] = [str(v) for v in valid[0]]
        elif definition.type == "boolean":
            question["type"] = "multiplechoice"
            question["choices"] = ["true", "false"]
        elif definition.type == "integer":
            question["type"] = "integer"
        elif definition.type == "float":
            question["type"] = "float"
        elif definition.type in ("list", "map"):
            question["type"] = "textarea"
        elif definition.secret:
            question["type"] = "password"
        else:
            question["type"] = "text"
        if definition.value is not MISSING and definition.value is not None and not definition.secret:
            value = definition.value
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, (list, dict)):
                value = json.dumps(value, sort_keys=True)
            question["default"] = value
        spec.append(question)
    return {"name": deployment, "description": topology.description, "spec": spec}


def requirements() -> dict:
    """requirements.yml: the collection by name and the version this compiler emits for. The source is the
    operator's: `ansible-galaxy collection install -r requirements.yml -p collections` from their Galaxy
    server (`-s URL`) or, offline, the tarball (`ansible-galaxy collection install indigo-paas-VERSION.tar.gz`)."""
    from tosca2ansible.collection import collection_version  # pylint: disable=import-outside-toplevel

    return {"collections": [{"name": COLLECTION, "version": collection_version()}]}


def count_inputs(topology: Topology, emitter: Emitter) -> list:
    """Ansible variables of the inputs that set a Compute node's instance count (what scaling changes)."""
    names = []
    for compute in emitter.plan.computes:
        count = (topology.nodes[compute].capabilities.get("scalable") or {}).get("count")
        if isinstance(count, Input) and count.name in topology.inputs:
            names.append(topology.inputs[count.name].var_name)
    return sorted(set(names))


def project_files(topology: Topology, emitter: Emitter, deployment: str, template_bytes: bytes,
                  artifact_files: Optional[dict] = None) -> dict:
    # Secret inputs are passed at launch (indigo deploy does it through a 0600 vars file; AWX through
    # its survey password fields), never written here.
    inputs = {d.var_name: _unsafe_tree(d.value) for d in topology.inputs.values()
              if d.value is not MISSING and not d.secret}
    nodes = {}
    for compute in emitter.plan.computes:
        args = emitter.instance_args(compute)
        nodes[compute] = {k: v for k, v in args.items() if k not in ("deployment", "node", "site", "catalogue",
                                                                  "ssh_public_key", "wait", "state")}
    topology_vars = {
        "indigo_deployment_id": deployment,
        "indigo_nodes": nodes,
        "indigo_node_properties": {n: emitter.render.value(topology.nodes[n].properties, n)
                                   for n in sorted(topology.nodes)},
        "indigo_node_levels": {n: emitter.plan.level_of[n] for n in sorted(emitter.plan.level_of)},
    }
    if emitter.placement:  # Compute node -> its site (policies, --site NODE=SITE); see compiler/placement.py
        topology_vars["indigo_placement"] = _unsafe_tree(emitter.placement)
    # Relative paths in ansible.cfg are read relative to the file: the project's own collections/ (where
    # requirements.yml installs), then the standard paths; ANSIBLE_COLLECTIONS_PATH (set by `indigo`, AWX
    # or the operator) comes first.
    cfg = ("[defaults]\n"
           "inventory = ./inventory\n"
           "collections_path = ./collections:~/.ansible/collections:/usr/share/ansible/collections\n"
           "roles_path = ./roles:~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles\n"
           "host_key_checking = True\n"
           "retry_files_enabled = False\n"
           "interpreter_python = auto_silent\n"
           # every run of the project is journaled, also under plain ansible-playbook or AWX
           "callbacks_enabled = indigo.paas.journal\n\n"
           "[inventory]\n"
           "enable_plugins = indigo.paas.deployment, ansible.builtin.yaml\n")
    return {
        "ansible.cfg": cfg,
        "deploy.yml": dump_yaml(emitter.deploy()),
        "undeploy.yml": dump_yaml(emitter.undeploy()),
        "inventory/%s.indigo_deployment.yml" % deployment: dump_yaml(
            {"plugin": "indigo.paas.deployment", "deployment": deployment}),
        "inventory/localhost.yml": dump_yaml(
            {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                             "ansible_python_interpreter": Expr("{{ ansible_playbook_python }}")}}}}),
        "group_vars/all/inputs.yml": dump_yaml(inputs),
        "group_vars/all/topology.yml": dump_yaml(topology_vars),
        "requirements.yml": dump_yaml(requirements()),
        "scale.yml": dump_yaml(awx.scale_playbook()),
        "awx/survey.json": json.dumps(survey(topology, deployment), indent=2, sort_keys=True) + "\n",
        "awx/configure.yml": dump_yaml(awx.configure_playbook(deployment, survey(topology, deployment),
                                                              count_inputs(topology, emitter))),
        "template.yaml": template_bytes,
        # The audit copy is TOSCA and artifacts/ the user's own files, carried as they are: keep linters off.
        ".ansible-lint": dump_yaml({"exclude_paths": ["template.yaml"] + (["artifacts"] if artifact_files else [])}),
        **(artifact_files or {}),
        **_elastic_files(emitter),
        **_release_files(emitter),
    }


def _release_files(emitter: Emitter) -> dict:
    """release_data.yml: the deployment's Rucio rules deleted (compiler/datarules.py)."""
    from tosca2ansible.compiler.datarules import release_playbook  # pylint: disable=import-outside-toplevel

    playbook = release_playbook(emitter)
    return {"release_data.yml": dump_yaml(playbook)} if playbook else {}


def _elastic_files(emitter: Emitter) -> dict:
    """An elastic pool's scale playbook and its configuration (compiler/elastic.py)."""
    playbook = emitter.elastic_playbook()
    if playbook is None:
        return {}
    # the workers' group exists while the pool is empty, so plays and conditions can name it
    groups = {"all": {"children": {emitter.pool.worker_compute: {"hosts": {}}}}}
    return {"elastic.yml": dump_yaml(playbook), "inventory/elastic-pool.yml": dump_yaml(groups),
            "group_vars/all/elastic.yml": dump_yaml({"indigo_elastic": emitter.pool.config()})}
