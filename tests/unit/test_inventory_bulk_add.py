"""indigo.paas.deployment adds hosts in bulk on the ansible-core versions it knows (Host objects built
directly, as InventoryData.add_host builds them) and through the public add_host elsewhere. Both paths
must give the same inventory: same hosts, vars, groups and group membership, compose and keyed groups
included. Each path runs in its own interpreter (ansible's configuration is process-wide)."""

import json
import os
import subprocess
import sys

import yaml
from tests.helpers import ROOT


DUMP_INVENTORY = r"""
import json, sys
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader

config, rows, path = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
init_plugin_loader()
plugin_class = type(inventory_loader.get("indigo.paas.deployment"))
module = sys.modules[plugin_class.__module__]
plugin_class._list_instances = lambda self, source, deployment: rows  # the sites' answer, without a site
if path == "public":
    module.BULK_ADD_VERSIONS = ("no-such-version",)
manager = InventoryManager(loader=DataLoader(), sources=[config])
data = manager._inventory
print(json.dumps({
    "bulk": module.bulk_add_supported(data),
    "hosts": {h.name: {"vars": h.get_vars(), "groups": [g.name for g in h.groups]} for h in data.hosts.values()},
    "groups": {name: {"hosts": [h.name for h in g.hosts], "children": [c.name for c in g.child_groups],
                      "all_hosts": sorted(h.name for h in g.get_hosts())} for name, g in data.groups.items()},
    "groups_dict": {name: sorted(hosts) for name, hosts in data.get_groups_dict().items()},
}, sort_keys=True, default=str))
"""


def row(name, node, index, site, private, public=(), user="root"):
    address = (list(public) or [private])[0]
    return [name, node, index, site, "id-%s" % name, "active", address, [private], list(public), user]


ROWS = [
    row("dep-front-0", "front", 0, "aws", "10.0.0.1", public=["203.0.113.5"], user="admin"),
    row("dep-wn-0", "wn", 0, "aws", "10.0.0.2"),
    row("dep-wn-1", "wn", 1, "os", "10.1.0.3"),
    row("dep-wn-1", "wn", 1, "os2", "10.2.0.3"),  # the same name twice: merged into one host
    row("dep-db-0", "db", 0, "os", "10.1.0.9"),
]


def dump(tmp_path, path):
    config = tmp_path / "dep.indigo_deployment.yml"
    config.write_text(yaml.safe_dump({
        "plugin": "indigo.paas.deployment", "deployment": "dep", "catalogue": str(tmp_path / "sites.yml"),
        "ssh_private_key_file": "~/.ssh/dep", "compose": {"is_front": "indigo_node == 'front'"},
        "groups": {"public": "IM_NODE_PUBLIC_IP is not none"},
        "keyed_groups": [{"key": "indigo_site", "prefix": "site"}],
    }))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
               ANSIBLE_INVENTORY_ENABLED="indigo.paas.deployment")
    proc = subprocess.run([sys.executable, "-c", DUMP_INVENTORY, str(config), json.dumps(ROWS), path],
                          env=env, capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_bulk_and_public_paths_build_the_same_inventory(tmp_path):
    bulk, public = dump(tmp_path, "bulk"), dump(tmp_path, "public")
    assert bulk.pop("bulk") is True and public.pop("bulk") is False
    assert bulk == public
    hosts = bulk["hosts"]
    assert sorted(hosts) == ["dep-db-0", "dep-front-0", "dep-wn-0", "dep-wn-1"]
    front = hosts["dep-front-0"]["vars"]
    assert front["ansible_host"] == "203.0.113.5" and front["ansible_user"] == "admin" and front["is_front"] is True
    assert front["inventory_file"] == str(tmp_path / "dep.indigo_deployment.yml") and front["inventory_dir"] == str(tmp_path)
    assert front["ansible_ssh_private_key_file"] == os.path.expanduser("~/.ssh/dep")
    assert hosts["dep-wn-1"]["vars"]["indigo_site"] == "os2"  # the later row wins, as with add_host
    assert bulk["groups_dict"]["indigo_deployment"] == sorted(hosts)
    assert bulk["groups_dict"]["wn"] == ["dep-wn-0", "dep-wn-1"] and bulk["groups_dict"]["public"] == ["dep-front-0"]
    assert bulk["groups_dict"]["site_os"] == ["dep-db-0", "dep-wn-1"]
