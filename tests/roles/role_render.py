"""Render a role's templates through ansible-playbook with the role's defaults and fixed facts.

Each host of the test inventory gets facts from a mapping (module library/fake_facts.py), so the
rendered files depend only on the role and the given variables, never on the test machine.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
HERE = Path(__file__).resolve().parent
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))


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
           target: str, variables: dict, out_dir: Path, os_family: str = "Debian") -> dict[str, str]:
    """Render ``templates`` ({template file: output name}) as host ``target``; return {name: text}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    inventory = {"all": {"hosts": {h: {"ansible_connection": "local",
                                        "ansible_python_interpreter": sys.executable} for h in hosts},
                         "children": {g: {"hosts": {h: {} for h in members}} for g, members in groups.items()}}}
    role_dir = ROLES / role
    vars_files = [str(role_dir / "defaults" / "main.yml")]
    for extra in ("main.yml", f"{os_family}.yml"):
        if (role_dir / "vars" / extra).exists():
            vars_files.append(str(role_dir / "vars" / extra))
    play = [
        {"name": "Set fixed facts", "hosts": "all", "gather_facts": False,
         "tasks": [{"name": "Set facts", "fake_facts": {"facts": "{{ test_facts[inventory_hostname] }}"}}]},
        {"name": "Render", "hosts": target, "gather_facts": False, "vars_files": vars_files,
         "tasks": [{"name": f"Render {src}", "ansible.builtin.template": {
             "src": str(role_dir / "templates" / src), "dest": str(out_dir / name), "mode": "0600"}}
             for src, name in templates.items()]},
    ]
    (out_dir / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (out_dir / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    (out_dir / "vars.json").write_text(json.dumps({**variables, "test_facts": hosts}))
    env = dict(os.environ, ANSIBLE_LIBRARY=str(HERE / "library"), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_INVENTORY_ENABLED="ansible.builtin.yaml")
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(out_dir / "inventory.yml"), str(out_dir / "play.yml"),
                           "-e", f"@{out_dir / 'vars.json'}"], cwd=REPO, env=env, capture_output=True, text=True)
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
