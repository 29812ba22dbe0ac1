"""Where the local site keeps its state and which addresses it may use."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from pathlib import Path
from typing import Any, Mapping, Optional

DEFAULT_STATE_DIR = "/var/lib/indigo-local"
DEFAULT_BRIDGE = "indigo0"
DEFAULT_SUBNET = "10.77.0.0/24"
DEFAULT_SUITE = "trixie"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
APT_PROXY_PORT = 3142
# Containers share the host CPUs (nothing is pinned), so the CPUs declared by all nodes together may
# exceed the host's many times over; one node may not declare more CPUs than the host has. Memory is
# not overcommitted.
DEFAULT_CPU_OVERCOMMIT = 16.0
DEFAULT_RESERVED_MEM_MB = 1024


@dataclasses.dataclass(frozen=True)
class LocalSiteConfig:
    """The ``local:`` mapping of a site catalogue entry, with defaults and derived paths."""

    bridge: str = DEFAULT_BRIDGE
    subnet: str = DEFAULT_SUBNET
    state_dir: str = DEFAULT_STATE_DIR
    suite: str = DEFAULT_SUITE
    mirror: str = DEBIAN_MIRROR
    cpu_overcommit: float = DEFAULT_CPU_OVERCOMMIT
    reserved_mem_mb: int = DEFAULT_RESERVED_MEM_MB
    boot_timeout: float = 90.0
    # Where the base image lives (default: state_dir). A second local site on this machine keeps its own
    # nodes, bridge and proxy in its state_dir and shares the first site's image (built once).
    image_root: Optional[str] = None
    # A node with a public address gets its ports (but SSH) relayed from the bridge address (relay.py):
    # how a VPN central point on this site is reached from another local site. Off by default, so two
    # deployments of a public web front-end never compete for one bridge port.
    publish_ports: bool = False

    def __post_init__(self):
        net = ipaddress.ip_network(self.subnet, strict=True)
        if net.version != 4 or net.num_addresses < 8:
            raise ValueError("local site subnet %s must be an IPv4 network of at least 8 addresses" % self.subnet)
        if not net.is_private:
            # Never address anything outside this machine: only private ranges are acceptable.
            raise ValueError("local site subnet %s is not a private range" % self.subnet)
        if not self.bridge or len(self.bridge) > 15:
            raise ValueError("local site bridge name %r must be 1-15 characters" % self.bridge)

    @classmethod
    def from_site(cls, site: Optional[Mapping[str, Any]] = None) -> "LocalSiteConfig":
        """Build from a catalogue site dict (``site['local']``); env ``INDIGO_LOCAL_STATE_DIR`` wins."""
        local = dict((site or {}).get("local") or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(local) - known)
        if unknown:
            raise ValueError("unknown keys in the local site settings: %s" % ", ".join(unknown))
        if os.environ.get("INDIGO_LOCAL_STATE_DIR"):
            local["state_dir"] = os.environ["INDIGO_LOCAL_STATE_DIR"]
        return cls(**{k: v for k, v in local.items() if v is not None})

    # -- addresses ---------------------------------------------------------------------------
    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.ip_network(self.subnet)

    @property
    def bridge_ip(self) -> str:
        return str(next(self.network.hosts()))

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen

    def node_addresses(self):
        """Addresses nodes may take, in order (every host address but the bridge's)."""
        hosts = self.network.hosts()
        next(hosts)
        return [str(ip) for ip in hosts]

    # -- paths -------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return Path(self.state_dir)

    @property
    def image_root_dir(self) -> Path:
        return Path(self.image_root or self.state_dir)

    @property
    def image_dir(self) -> Path:
        return self.image_root_dir / "images" / ("debian-" + self.suite)

    @property
    def nodes_dir(self) -> Path:
        return self.root / "nodes"

    @property
    def proxy_dir(self) -> Path:
        return self.root / "apt-cacher-ng"

    @property
    def lock_file(self) -> Path:
        return self.root / "site.lock"

    @property
    def known_hosts_file(self) -> Path:
        return self.root / "known_hosts"

    @property
    def apt_proxy_url(self) -> str:
        return "http://%s:%d" % (self.bridge_ip, APT_PROXY_PORT)
