"""Write the compiled project directory: YAML through one serializer, byte-identical on recompile."""

from __future__ import annotations

import json
import os
from typing import Optional
import shutil
import tempfile

import yaml

from tosca2ansible.compiler import yamlwrite
from tosca2ansible.compiler.emit import Emitter
from tosca2ansible.compiler.model import MISSING, Topology, is_secret_input
from tosca2ansible.compiler.render import Expr, Unsafe
from tosca2ansible.errors import Location, UserInputError

FRAMEWORK_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))



class _Dumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
    """SafeDumper writing `!unsafe` strings and indented block sequences (what yamllint expects)."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _represent_unsafe(dumper, data):
    return dumper.represent_scalar("!unsafe", str(data))


def _represent_str(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style=style)


_Dumper.add_representer(Unsafe, _represent_unsafe)
_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(Expr, _represent_str)


def dump_yaml(data) -> str:
    return yamlwrite.dump(data)


def dump_yaml_pyyaml(data) -> str:
    """The same document through PyYAML (kept as the reference the fast writer is tested against)."""
    return yaml.dump(data, Dumper=_Dumper, explicit_start=True, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=120)


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
        elif is_secret_input(definition.name):
            question["type"] = "password"
        else:
            question["type"] = "text"
        if definition.value is not MISSING and definition.value is not None and not is_secret_input(definition.name):
            value = definition.value
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, (list, dict)):
                value = json.dumps(value, sort_keys=True)
            question["default"] = value
        spec.append(question)
    return {"name": deployment, "description": topology.description, "spec": spec}


def project_files(topology: Topology, emitter: Emitter, deployment: str, template_bytes: bytes,
                  artifact_files: Optional[dict] = None) -> dict:
    # Secret inputs are passed at launch (indigo deploy does it through a 0600 vars file; AWX through
    # its survey password fields), never written here.
    inputs = {d.var_name: _unsafe_tree(d.value) for d in topology.inputs.values()
              if d.value is not MISSING and not is_secret_input(d.name)}
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
    collections = os.path.join(FRAMEWORK_ROOT, "collections")
    cfg = ("[defaults]\n"
           "inventory = ./inventory\n"
           "collections_path = %s:~/.ansible/collections\n"
           "roles_path = %s/roles:~/.ansible/roles\n"
           "host_key_checking = True\n"
           "retry_files_enabled = False\n"
           "interpreter_python = auto_silent\n"
           # every run of the project is journaled, also under plain ansible-playbook or AWX
           "callbacks_enabled = indigo.paas.journal\n\n"
           "[inventory]\n"
           "enable_plugins = indigo.paas.deployment, ansible.builtin.yaml\n" % (collections, FRAMEWORK_ROOT))
    return {
        "ansible.cfg": cfg,
        "deploy.yml": dump_yaml(emitter.deploy()),
        "undeploy.yml": dump_yaml(emitter.undeploy()),
        "inventory/%s.indigo_deployment.yml" % deployment: dump_yaml(
            {"plugin": "indigo.paas.deployment", "deployment": deployment}),
        "inventory/localhost.yml": dump_yaml(
            {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                             "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}),
        "group_vars/all/inputs.yml": dump_yaml(inputs),
        "group_vars/all/topology.yml": dump_yaml(topology_vars),
        "requirements.yml": dump_yaml({"collections": [{"name": "indigo.paas"}]}),
        "awx/survey.json": json.dumps(survey(topology, deployment), indent=2, sort_keys=True) + "\n",
        "template.yaml": template_bytes,
        # The audit copy is TOSCA and artifacts/ the user's own files, carried as they are: keep linters off.
        ".ansible-lint": dump_yaml({"exclude_paths": ["template.yaml"] + (["artifacts"] if artifact_files else [])}),
        **(artifact_files or {}),
    }


def _write_file(path: str, data: bytes) -> None:
    """Plain open/write/close (no buffered file object: a project is a dozen small files)."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view):]
    finally:
        os.close(handle)


def write_project(out_dir: str, files: dict) -> None:
    """Write into a sibling temp dir, then swap it in: a failure never leaves a half project behind."""
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir):
        if not os.path.isdir(out_dir):
            raise UserInputError("output path exists and is not a directory", Location(file=out_dir, field="-o"))
        existing = os.listdir(out_dir)
        if existing and "deploy.yml" not in existing:
            raise UserInputError("output directory is not empty and is not a compiled project; refusing to overwrite",
                                 Location(file=out_dir, field="-o"))
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".indigo-compile-", dir=parent)
    try:
        for folder in sorted({os.path.dirname(rel_path) for rel_path in files} - {""}):
            os.makedirs(os.path.join(staging, folder), exist_ok=True)
        for rel_path, content in sorted(files.items()):
            _write_file(os.path.join(staging, rel_path), content if isinstance(content, bytes) else content.encode("utf-8"))
        os.chmod(staging, 0o755)
        if os.path.exists(out_dir):
            old = staging + ".old"
            os.rename(out_dir, old)
            os.rename(staging, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
