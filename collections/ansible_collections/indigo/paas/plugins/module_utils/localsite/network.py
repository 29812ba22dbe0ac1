"""Host bridge, per-node network namespaces and veth pairs. Every address used lies inside the
site's private subnet; nothing is routed off this machine (no NAT is set up)."""

from __future__ import annotations

import hashlib
import os

from ansible_collections.indigo.paas.plugins.module_utils.localsite.config import LocalSiteConfig
from ansible_collections.indigo.paas.plugins.module_utils.localsite.host import run

NETNS_DIR = "/run/netns"


def link_exists(name: str, netns: str = None) -> bool:
    argv = ["ip"] + (["-n", netns] if netns else []) + ["link", "show", "dev", name]
    return run(argv, check=False).returncode == 0


def ensure_bridge(cfg: LocalSiteConfig) -> None:
    """Create the bridge with the site's first address (idempotent)."""
    if not link_exists(cfg.bridge):
        run(["ip", "link", "add", "name", cfg.bridge, "type", "bridge"])
    addr = "%s/%d" % (cfg.bridge_ip, cfg.prefixlen)
    shown = run(["ip", "-o", "-4", "addr", "show", "dev", cfg.bridge]).stdout
    if (" %s " % addr) not in shown:
        run(["ip", "addr", "replace", addr, "dev", cfg.bridge])
    run(["ip", "link", "set", cfg.bridge, "up"])


def remove_bridge(cfg: LocalSiteConfig) -> None:
    if link_exists(cfg.bridge):
        run(["ip", "link", "del", cfg.bridge])


def veth_name(node_name: str) -> str:
    """Host-side veth name: interface names are limited to 15 characters, so use a digest."""
    return "vi" + hashlib.sha1(node_name.encode()).hexdigest()[:10]


def netns_exists(netns: str) -> bool:
    return os.path.exists(os.path.join(NETNS_DIR, netns))


def create_node_network(cfg: LocalSiteConfig, netns: str, address: str) -> str:
    """A netns with lo, eth0 = ADDRESS/prefix and a default route via the bridge. Returns the veth."""
    veth = veth_name(netns)
    delete_node_network(cfg, netns, address)
    run(["ip", "netns", "add", netns])
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns])
    run(["ip", "link", "set", veth, "master", cfg.bridge, "up"])
    run(["ip", "-n", netns, "link", "set", "lo", "up"])
    run(["ip", "-n", netns, "addr", "add", "%s/%d" % (address, cfg.prefixlen), "dev", "eth0"])
    run(["ip", "-n", netns, "link", "set", "eth0", "up"])
    run(["ip", "-n", netns, "route", "add", "default", "via", cfg.bridge_ip])
    # A reused address keeps the old MAC in the neighbour cache: unreachable for 30-40 s otherwise.
    flush_neighbour(cfg, address)
    return veth


def flush_neighbour(cfg: LocalSiteConfig, address: str) -> None:
    run(["ip", "neigh", "flush", "to", address, "dev", cfg.bridge], check=False)


def delete_node_network(cfg: LocalSiteConfig, netns: str, address: str = None) -> None:
    """Remove the veth and the netns of a node (idempotent)."""
    veth = veth_name(netns)
    if link_exists(veth):
        run(["ip", "link", "del", veth], check=False)
    if netns_exists(netns):
        run(["ip", "netns", "del", netns], check=False)
    if address:
        flush_neighbour(cfg, address)
