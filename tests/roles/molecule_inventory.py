"""Write an Ansible inventory for a molecule scenario from local-site nodes and group assignments."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, Iterable, List

import yaml


def write_inventory(path: Path, nodes: Iterable[dict], groups: Dict[str, List[int]], private_key: Path,
                    known_hosts: Path) -> Path:
    """nodes: dicts with name and address; groups: group name -> indexes into nodes."""
    nodes = list(nodes)
    hosts = {n["name"]: {"ansible_host": n["address"], "ansible_user": "root",
                         "ansible_ssh_private_key_file": str(private_key),
                         "ansible_ssh_common_args": f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes",
                         "ansible_python_interpreter": "/usr/bin/python3"} for n in nodes}
    inventory = {"all": {"hosts": hosts,
                         "children": {g: {"hosts": {nodes[i]["name"]: {} for i in idx}} for g, idx in groups.items()}}}
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


if __name__ == "__main__":  # python molecule_inventory.py up.json KEY KNOWN_HOSTS OUT group=0 group=1,2
    import json
    data = json.loads(Path(sys.argv[1]).read_text())
    spec = {g: [int(i) for i in idx.split(",")] for g, idx in (a.split("=") for a in sys.argv[5:])}
    write_inventory(Path(sys.argv[4]), data["nodes"], spec, Path(sys.argv[2]), Path(data["known_hosts"]))
