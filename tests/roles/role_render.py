"""Render a role's templates through ansible-playbook with the role's defaults and fixed facts.

Each host of the test inventory gets facts from a mapping (module library/fake_facts.py), so the
rendered files depend only on the role and the given variables, never on the test machine.
Variables are handed over as a YAML extra-vars file: values read from a compiled project keep their
`!unsafe` tag (class Unsafe), exactly as the compiled deploy.yml hands them to the role.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from tests.helpers import ROOT as REPO

ROLES = REPO / "roles"
HERE = Path(__file__).resolve().parent
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))


class Unsafe(str):
    """A value the compiler wrote `!unsafe` (never templated by Ansible)."""


class CompiledLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Reads a compiled project, keeping `!unsafe` values as Unsafe."""


class VarsDumper(yaml.SafeDumper):  # pylint: disable=too-many-ancestors
    """Writes extra vars, giving Unsafe values their `!unsafe` tag back."""


CompiledLoader.add_constructor("!unsafe", lambda loader, node: Unsafe(loader.construct_scalar(node)))
VarsDumper.add_representer(Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value)))


def load_compiled(path: Path):
    return yaml.load(path.read_text(), Loader=CompiledLoader)  # nosec B506 - SafeLoader plus one tag


def role_vars(project: Path, role: str, node: str) -> dict:
    """The vars the compiled deploy.yml gives `role` for TOSCA node `node` (one include_role task)."""
    found = [task["vars"] for play in load_compiled(project / "deploy.yml") for task in play.get("tasks", [])
             if task.get("ansible.builtin.include_role", {}).get("name") == role
             and task.get("vars", {}).get(role.rsplit(".", 1)[-1] + "_tosca_node") == node]
    assert len(found) == 1, f"expected one {role} task for node {node}, found {len(found)}"
    return found[0]


def debian_facts(hostname: str, address: str, cpus: int = 2, mem_mb: int = 2048, **extra) -> dict:
    facts = {
        "hostname": hostname,
        "fqdn": hostname,
        "nodename": hostname,
        "os_family": "Debian",
        "distribution": "Debian",
        "distribution_major_version": "13",
        "distribution_release": "trixie",
        "processor_vcpus": cpus,
        "memtotal_mb": mem_mb,
        "default_ipv4": {"address": address},
        "all_ipv4_addresses": [address],
    }
    facts.update(extra)
    return facts


def render(role: str, templates: dict[str, str], hosts: dict[str, dict], groups: dict[str, list[str]],
           target: str, variables: dict, out_dir: Path, os_family: str = "Debian",
           host_vars: dict[str, dict] | None = None) -> dict[str, str]:
    """Render ``templates`` ({template file: output name}) as host ``target``; return {name: text}.

    A template file is looked up in the role's templates/ unless given as an absolute path;
    ``host_vars`` are inventory variables per host (e.g. what the deployment inventory plugin sets).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    inventory = {"all": {"hosts": {h: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                                        **(host_vars or {}).get(h, {})} for h in hosts},
                         "children": {g: {"hosts": {h: {} for h in members}} for g, members in groups.items()}}}
    role_dir = ROLES / role
    vars_files = [str(role_dir / "defaults" / "main.yml")]
    for extra in ("main.yml", f"{os_family}.yml"):
        if (role_dir / "vars" / extra).exists():
            vars_files.append(str(role_dir / "vars" / extra))
    # As include_role does before the role's tasks: the variables, defaults applied, must match the
    # role's meta/argument_specs.yml.
    specs = yaml.safe_load((role_dir / "meta" / "argument_specs.yml").read_text())
    validate = {"name": "Validate the role's arguments", "ansible.builtin.validate_argument_spec": {
        "argument_spec": specs["argument_specs"]["main"]["options"]}}
    play = [
        {"name": "Set fixed facts", "hosts": "all", "gather_facts": False,
         "tasks": [{"name": "Set facts", "fake_facts": {"facts": "{{ test_facts[inventory_hostname] }}"}}]},
        {"name": "Render", "hosts": target, "gather_facts": False, "vars_files": vars_files,
         "tasks": [validate] + [{"name": f"Render {src}", "ansible.builtin.template": {
             "src": str(role_dir / "templates" / src), "dest": str(out_dir / name), "mode": "0600"}}
             for src, name in templates.items()]},
    ]
    (out_dir / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (out_dir / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    (out_dir / "vars.yml").write_text(yaml.dump({**variables, "test_facts": hosts}, Dumper=VarsDumper))
    env = dict(os.environ, ANSIBLE_LIBRARY=str(HERE / "library"), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_INVENTORY_ENABLED="ansible.builtin.yaml")
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(out_dir / "inventory.yml"), str(out_dir / "play.yml"),
                           "-e", f"@{out_dir / 'vars.yml'}"], cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"ansible-playbook failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return {name: (out_dir / name).read_text() for name in templates.values()}


def check_golden(case: str, rendered: dict[str, str]) -> None:
    """Compare with tests/roles/golden/<case>/; UPDATE_GOLDEN=1 rewrites the golden files."""
    golden_dir = HERE / "golden" / case
    for name, text in rendered.items():
        golden = golden_dir / name
        if os.environ.get("UPDATE_GOLDEN") == "1":
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
            continue
        assert golden.exists(), f"missing golden file {golden} (run with UPDATE_GOLDEN=1 and review it)"
        assert text == golden.read_text(), f"{case}/{name} differs from its golden file"


def resolve(role: str, names: list[str], hosts: dict[str, dict], groups: dict[str, list[str]], target: str,
            variables: dict, out_dir: Path, host_vars: dict[str, dict] | None = None) -> dict:
    """The values role variables ``names`` take on ``target`` (defaults and vars/ of the role applied)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    probe = out_dir / "resolved.json.j2"
    probe.write_text("{" + ", ".join('"%s": {{ %s | to_json }}' % (name, name) for name in names) + "}\n")
    text = render(role, {str(probe): "resolved.json"}, hosts, groups, target, variables, out_dir,
                  host_vars=host_vars)["resolved.json"]
    return json.loads(text)
