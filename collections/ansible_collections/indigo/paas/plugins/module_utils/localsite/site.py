"""The local site as a whole: prepare the host once, create/find/delete nodes by tags, tear down.

Every node has a metadata file (``nodes/<name>/meta.json``) holding its tags, address, size and the
systemd-nspawn PID: the same find/create/delete-by-tags logic as on a cloud, no other state.
One file lock serialises allocation and bookkeeping across threads and processes.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Callable, Dict, List, Optional, Sequence

from ansible_collections.indigo.paas.plugins.module_utils.localsite import aptproxy, image, machine, network, relay
from ansible_collections.indigo.paas.plugins.module_utils.localsite.config import LocalSiteConfig
from ansible_collections.indigo.paas.plugins.module_utils.localsite.errors import CapacityError, LocalSiteError, NodeTimeout
from ansible_collections.indigo.paas.plugins.module_utils.localsite.host import check_host, file_lock, host_capacity, pid_alive, write_atomic

DEPLOYMENT_TAG = "indigo_deployment"
# A node reserved (metadata written) but never booted for this long was abandoned by a crashed creator.
ABANDONED_AFTER_S = 600


@dataclasses.dataclass
class NodeRecord:
    name: str
    address: str
    tags: Dict[str, str]
    cpus: int = 1
    mem_mb: int = 512
    pid: Optional[int] = None
    host_key: Optional[str] = None
    created: float = 0.0
    status: str = "building"  # building | active | stopped
    # ports published on the site's bridge address: [{port, protocol, pid}] (see relay.py)
    published: list = dataclasses.field(default_factory=list)
    # the package layer under the node's root (image.ensure_layer), None for the bare base image
    layer: Optional[str] = None

    @property
    def hostname(self) -> str:
        return machine.hostname_for(self.name)

    def to_dict(self):
        return dataclasses.asdict(self)


class LocalSite:
    def __init__(self, cfg: Optional[LocalSiteConfig] = None, log: Callable[[str], None] = lambda m: None):
        self.cfg = cfg or LocalSiteConfig()
        self.log = log

    # -- host preparation -----------------------------------------------------------------
    def ensure_ready(self) -> None:
        """Bridge, apt proxy and base image (each idempotent; the image is built once)."""
        check_host()
        with file_lock(self.cfg.lock_file):
            network.ensure_bridge(self.cfg)
            proxy = aptproxy.ensure_proxy(self.cfg)
        image.ensure_image(self.cfg, proxy_url=proxy, log=self.log)

    def ensure_layer(self, packages: Sequence[str]) -> str:
        """The cached package layer for ``packages`` (built on first use); returns its key."""
        check_host()
        with file_lock(self.cfg.lock_file):
            network.ensure_bridge(self.cfg)
            proxy = aptproxy.ensure_proxy(self.cfg)
        return image.ensure_layer(self.cfg, packages, proxy_url=proxy, log=self.log)

    # -- bookkeeping ----------------------------------------------------------------------
    def _read(self, name: str) -> Optional[NodeRecord]:
        try:
            data = json.loads(machine.node_paths(self.cfg, name)["meta"].read_text())
        except (OSError, ValueError):
            return None
        known = {f.name for f in dataclasses.fields(NodeRecord)}
        return NodeRecord(**{k: v for k, v in data.items() if k in known})

    def _write(self, record: NodeRecord) -> None:
        write_atomic(machine.node_paths(self.cfg, record.name)["meta"], json.dumps(record.to_dict(), indent=1))

    def nodes(self, **tags) -> List[NodeRecord]:
        """Every node whose tags include ``tags`` (status refreshed from the live process)."""
        found = []
        if not self.cfg.nodes_dir.is_dir():
            return found
        for entry in sorted(self.cfg.nodes_dir.iterdir()):
            record = self._read(entry.name)
            if record is None or any(record.tags.get(k) != str(v) for k, v in tags.items()):
                continue
            found.append(self._refresh(record))
        return found

    def get(self, name: str) -> Optional[NodeRecord]:
        record = self._read(name)
        return self._refresh(record) if record else None

    def _refresh(self, record: NodeRecord) -> NodeRecord:
        if not record.pid and time.time() - record.created > ABANDONED_AFTER_S:
            record.status = "stopped"  # its creator died before booting it: free to delete or re-create
        elif record.pid and not pid_alive(record.pid):
            record.status = "stopped"
        elif record.pid and record.status != "stopped":
            record.status = "active" if machine.ssh_ready(record.address, timeout=0.5) else "building"
        return record

    def usage(self) -> Dict[str, Dict[str, Optional[int]]]:
        cap = host_capacity()
        live = self.nodes()
        return {
            "instances": {"limit": len(self.cfg.node_addresses()), "used": len(live)},
            "cores": {"limit": int(cap["cpus"] * self.cfg.cpu_overcommit), "used": sum(n.cpus for n in live)},
            "ram_mb": {"limit": max(0, cap["mem_mb"] - self.cfg.reserved_mem_mb), "used": sum(n.mem_mb for n in live)},
            "gpus": {"limit": 0, "used": 0},
        }

    def _check_capacity(self, cpus: int, mem_mb: int, gpus: int = 0) -> None:
        use = self.usage()
        problems = []
        if gpus:
            problems.append("%d GPU(s) requested, the local site has none" % gpus)
        host_cpus = host_capacity()["cpus"]
        if cpus > host_cpus:
            problems.append("%d CPUs requested for one node, this machine has %d" % (cpus, host_cpus))
        for key, wanted, unit in (("cores", cpus, "CPUs"), ("ram_mb", mem_mb, "MB RAM"), ("instances", 1, "nodes")):
            limit, used = use[key]["limit"], use[key]["used"]
            if used + wanted > limit:
                problems.append("%d %s requested, %d of %d already in use" % (wanted, unit, used, limit))
        if problems:
            raise CapacityError("the local site cannot fit this node: " + "; ".join(problems))

    def _free_address(self) -> str:
        taken = {n.address for n in self.nodes()}
        for address in self.cfg.node_addresses():
            if address not in taken:
                return address
        raise CapacityError("no free address left in %s" % self.cfg.subnet)

    # -- nodes ----------------------------------------------------------------------------
    def create_node(self, name: str, tags: Dict[str, str], cpus: int = 1, mem_mb: int = 512, gpus: int = 0,
                    ssh_public_key: Optional[str] = None, wait: bool = True, timeout: Optional[float] = None,
                    publish: Sequence[tuple] = (), packages: Sequence[str] = ()) -> NodeRecord:
        """Create and boot one node (adopting it if it already runs); on any failure nothing is left.
        ``publish``: (port, protocol) pairs reachable on the bridge address from every local site.
        ``packages``: boot from the site's cached layer holding them (built once, see image.ensure_layer)."""
        check_host()
        layer = self.ensure_layer(packages) if packages else None
        with file_lock(self.cfg.lock_file):
            existing = self.get(name)
            if existing and existing.status != "stopped":
                return existing
            if existing:
                self._destroy(existing)
            self._check_capacity(cpus, mem_mb, gpus)
            record = NodeRecord(name=name, address=self._free_address(), tags={k: str(v) for k, v in tags.items()},
                                cpus=cpus, mem_mb=mem_mb, created=time.time(), layer=layer)
            self._write(record)  # reserves the address before the lock is released
        try:
            self._build_and_boot(record, ssh_public_key)
            self._publish(record, publish)
            if wait:
                self.wait_ssh(record, timeout or self.cfg.boot_timeout)
        except BaseException:
            self.delete_node(name)
            raise
        return self.get(name) or record

    def _build_and_boot(self, record: NodeRecord, ssh_public_key: Optional[str]) -> None:
        root = machine.mount_overlay(self.cfg, record.name, record.layer)
        record.host_key = machine.customize_root(self.cfg, record.name, root, ssh_public_key)
        network.create_node_network(self.cfg, record.name, record.address)
        with file_lock(self.cfg.lock_file):
            self._write(record)
            self._sync_deployment_files(record.tags.get(DEPLOYMENT_TAG), extra=record)
        record.pid = machine.start_machine(self.cfg, record.name, record.name)
        with file_lock(self.cfg.lock_file):
            self._write(record)

    def _publish(self, record: NodeRecord, publish: Sequence[tuple]) -> None:
        log = machine.node_paths(self.cfg, record.name)["base"] / "relay.log"
        for port, protocol in publish:
            pid = relay.start(self.cfg.bridge_ip, int(port), str(protocol), record.address, log)
            record.published.append({"port": int(port), "protocol": str(protocol), "pid": pid})
            with file_lock(self.cfg.lock_file):
                self._write(record)

    def wait_ssh(self, record: NodeRecord, timeout: float) -> NodeRecord:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if record.pid and not pid_alive(record.pid):
                raise LocalSiteError("node %s stopped while booting: %s" % (
                    record.name, machine.tail(machine.node_paths(self.cfg, record.name)["log"])))
            if machine.ssh_ready(record.address):
                record.status = "active"
                return record
            time.sleep(0.2)
        raise NodeTimeout("node %s (%s) did not answer SSH within %.0f s" % (record.name, record.address, timeout))

    def delete_node(self, name: str) -> bool:
        """Stop and remove one node and everything it used; False when it did not exist."""
        record = self._read(name)
        base = machine.node_paths(self.cfg, name)["base"]
        if record is None and not base.exists():
            return False
        self._destroy(record or NodeRecord(name=name, address="", tags={}))
        with file_lock(self.cfg.lock_file):
            if record:
                self._sync_deployment_files(record.tags.get(DEPLOYMENT_TAG))
        return True

    def _destroy(self, record: NodeRecord) -> None:
        for entry in record.published:
            relay.stop(entry.get("pid"))
        machine.stop_machine(record.pid)
        network.delete_node_network(self.cfg, record.name, record.address or None)
        machine.remove_root(self.cfg, record.name)

    def _sync_deployment_files(self, deployment: Optional[str], extra: Optional[NodeRecord] = None) -> None:
        """Rewrite /etc/hosts in every node of the deployment and the site's known_hosts file."""
        everyone = {n.name: n for n in self.nodes()}
        if extra:
            everyone[extra.name] = extra
        if deployment:
            members = [n for n in everyone.values() if n.tags.get(DEPLOYMENT_TAG) == deployment]
            entries = [(n.address, n.name) for n in members]
            for node in members:
                root = machine.node_paths(self.cfg, node.name)["root"]
                if (root / "etc").is_dir():
                    machine.write_hosts(root, entries)
        lines = ["%s %s" % (n.address, n.host_key) for n in everyone.values() if n.host_key]
        write_atomic(self.cfg.known_hosts_file, "".join(line + "\n" for line in sorted(lines)))

    def delete_deployment(self, deployment: str) -> List[str]:
        deleted = []
        for record in self.nodes(**{DEPLOYMENT_TAG: deployment}):
            if self.delete_node(record.name):
                deleted.append(record.name)
        return deleted

    # -- whole site -----------------------------------------------------------------------
    def teardown(self, everything: bool = False) -> List[str]:
        """Remove every node; with ``everything`` also the proxy and the bridge (the image stays cached)."""
        deleted = [r.name for r in self.nodes() if self.delete_node(r.name)]
        if self.cfg.nodes_dir.is_dir():
            for leftover in self.cfg.nodes_dir.iterdir():  # half-created nodes without metadata
                if self.delete_node(leftover.name):
                    deleted.append(leftover.name)
        if everything:
            aptproxy.stop_proxy(self.cfg)
            network.remove_bridge(self.cfg)
        return deleted
