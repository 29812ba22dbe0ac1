#!/usr/bin/env python3
"""Inventory benchmark: indigo.paas.deployment parsing N instances (default 10 000) through its bulk path
(Host objects built as InventoryData.add_host builds them, ansible-core 2.19 only) and through the public
InventoryData.add_host, each in a fresh interpreter, alternated, the site's answer given (no cloud). Prints
the median parse time of each and their ratio: the figure that justifies (or not) keeping the bulk path.

Usage: .venv/bin/python bench/inventory.py [--instances 10000] [--rounds 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PARSE = r"""
import json, sys, time
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader

config, count, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = [["dep-wn-%d" % i, "wn", i, "aws", "id-%d" % i, "active", "10.0.%d.%d" % (i // 250, i % 250),
         ["10.0.%d.%d" % (i // 250, i % 250)], [], "root"] for i in range(count)]
init_plugin_loader()
plugin_class = type(inventory_loader.get("indigo.paas.deployment"))
module = sys.modules[plugin_class.__module__]
plugin_class._list_instances = lambda self, source, deployment: rows
if path == "public":
    module.BULK_ADD_VERSIONS = ("no-such-version",)
start = time.perf_counter()
manager = InventoryManager(loader=DataLoader(), sources=[config])
elapsed = time.perf_counter() - start
assert len(manager._inventory.hosts) == count and module.bulk_add_supported(manager._inventory) == (path == "bulk")
print(json.dumps(elapsed))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "dep.indigo_deployment.yml")
        with open(config, "w") as handle:
            handle.write("plugin: indigo.paas.deployment\ndeployment: dep\ncatalogue: %s/sites.yml\n" % tmp)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
                   ANSIBLE_INVENTORY_ENABLED="indigo.paas.deployment")
        times = {"bulk": [], "public": []}
        for _ in range(args.rounds):
            for path in ("public", "bulk"):
                out = subprocess.run([sys.executable, "-c", PARSE, config, str(args.instances), path], env=env,
                                     capture_output=True, text=True, check=True, cwd=tmp, timeout=600)
                times[path].append(json.loads(out.stdout.strip().splitlines()[-1]))
    bulk, public = statistics.median(times["bulk"]), statistics.median(times["public"])
    print("inventory %d instances, uncached parse: bulk path %.3f s, public add_host %.3f s (public/bulk %.2fx)"
          % (args.instances, bulk, public, public / bulk))


if __name__ == "__main__":
    main()
