"""The deployment inventory of a deployment spanning two local sites, read by the real ansible-inventory:
one group per Compute node template whatever site its hosts are on, each host with its own site and
address. The nodes are the sites' own bookkeeping (metadata files, as LocalSite writes them): no machine
is booted, so this runs in the fast suite."""

from __future__ import annotations

import json
import os
import subprocess
import time

import yaml

from tosca2ansible.runtime.localsite import LocalSite, LocalSiteConfig
from tosca2ansible.runtime.localsite.site import NodeRecord
from tests.helpers import ROOT, VENV_BIN

DEP = "hyb"


def test_inventory_graph_of_a_two_site_deployment(tmp_path):
    sites = [{"name": "local-a", "kind": "local",
              "local": {"bridge": "indigo0", "subnet": "10.77.0.0/24", "state_dir": str(tmp_path / "a")}},
             {"name": "local-b", "kind": "local",
              "local": {"bridge": "indigo1", "subnet": "10.78.0.0/24", "state_dir": str(tmp_path / "b"),
                        "image_root": str(tmp_path / "a")}}]
    catalogue = tmp_path / "sites.yml"
    catalogue.write_text(yaml.safe_dump({"sites": sites}))
    placed = [(sites[0], "lrms_server", 0, "10.77.0.2"), (sites[1], "lrms_wn", 0, "10.78.0.2"),
              (sites[1], "lrms_wn", 1, "10.78.0.3"), (sites[1], "other", 0, "10.78.0.9")]
    for site, node, index, address in placed:
        local = LocalSite(LocalSiteConfig.from_site(site))
        deployment = DEP if node != "other" else "someone-else"
        record = NodeRecord(name="%s-%s-%d" % (deployment, node, index), address=address, created=time.time(),
                            tags={"indigo_deployment": deployment, "indigo_node": node, "indigo_index": str(index)})
        local._write(record)  # pylint: disable=protected-access  # what create_node records before booting
    config = tmp_path / ("%s.indigo_deployment.yml" % DEP)
    config.write_text(yaml.safe_dump({"plugin": "indigo.paas.deployment", "deployment": DEP,
                                      "catalogue": str(catalogue)}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
               ANSIBLE_INVENTORY_ENABLED="indigo.paas.deployment")
    env.pop("INDIGO_LOCAL_STATE_DIR", None)

    def inventory(*args):
        proc = subprocess.run([os.path.join(VENV_BIN, "ansible-inventory"), "-i", str(config)] + list(args),
                              env=env, capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    graph = inventory("--graph")
    assert graph.strip().splitlines() == [
        "@all:", "  |--@ungrouped:", "  |--@indigo_deployment:", "  |  |--hyb-lrms_server-0", "  |  |--hyb-lrms_wn-0",
        "  |  |--hyb-lrms_wn-1", "  |--@lrms_server:", "  |  |--hyb-lrms_server-0", "  |--@lrms_wn:",
        "  |  |--hyb-lrms_wn-0", "  |  |--hyb-lrms_wn-1"], graph
    hostvars = json.loads(inventory("--list"))["_meta"]["hostvars"]

    def plain(value):
        return value["__ansible_unsafe"] if isinstance(value, dict) and "__ansible_unsafe" in value else value

    seen = {h: (plain(v["indigo_site"]), plain(v["ansible_host"])) for h, v in hostvars.items()}
    assert seen == {"hyb-lrms_server-0": ("local-a", "10.77.0.2"), "hyb-lrms_wn-0": ("local-b", "10.78.0.2"),
                    "hyb-lrms_wn-1": ("local-b", "10.78.0.3")}
