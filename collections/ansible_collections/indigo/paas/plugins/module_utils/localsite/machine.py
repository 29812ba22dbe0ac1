"""One node: overlay root, its files, its systemd-nspawn process, and their removal."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Dict, Iterable, Optional

from ansible_collections.indigo.paas.plugins.module_utils.localsite import image
from ansible_collections.indigo.paas.plugins.module_utils.localsite.config import LocalSiteConfig
from ansible_collections.indigo.paas.plugins.module_utils.localsite.errors import LocalSiteError
from ansible_collections.indigo.paas.plugins.module_utils.localsite.host import clean_env, mounted, pid_alive, remove_tree, run, which, write_atomic


def hostname_for(name: str) -> str:
    """A valid host name for an instance name (TOSCA node names may hold '_', host names may not)."""
    host = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")
    return host[:63] or "node"


def node_paths(cfg: LocalSiteConfig, name: str) -> Dict[str, Path]:
    base = cfg.nodes_dir / name
    return {
        "base": base, "upper": base / "upper", "work": base / "work", "root": base / "root",
        "meta": base / "meta.json", "log": base / "nspawn.log",
    }


def mount_overlay(cfg: LocalSiteConfig, name: str, layer: Optional[str] = None) -> Path:
    """The node's root: its own upper directory over the base image (and its package layer, if any)."""
    paths = node_paths(cfg, name)
    for key in ("upper", "work", "root"):
        paths[key].mkdir(parents=True, exist_ok=True)
    # The merged root takes the upper directory's mode: never the creator's umask (the CLI's is 077,
    # which would make / unreadable to every daemon that runs as its own user).
    os.chmod(paths["upper"], 0o755)
    if not mounted(paths["root"]):
        options = "lowerdir=%s,upperdir=%s,workdir=%s" % (image.lower_dirs(cfg, layer), paths["upper"], paths["work"])
        run(["mount", "-t", "overlay", "overlay", "-o", options, str(paths["root"])])
    return paths["root"]


def customize_root(cfg: LocalSiteConfig, name: str, root: Path, ssh_public_key: Optional[str]) -> str:
    """Per-node files: hostname, machine-id, host keys, root's authorized_keys, apt proxy.
    Returns the node's SSH host public key line (ed25519) for known_hosts."""
    host = hostname_for(name)
    write_atomic(root / "etc/hostname", host + "\n")
    write_atomic(root / "etc/machine-id", uuid.uuid4().hex + "\n", mode=0o444)
    # No DNS server is reachable from the bridge: with no nameserver line the resolver asks 127.0.0.1
    # and fails at once, instead of timing out on the host's servers for every name not in /etc/hosts.
    resolv = root / "etc/resolv.conf"
    if resolv.is_symlink():
        resolv.unlink()
    write_atomic(resolv, "# local site: names come from /etc/hosts (no DNS on the bridge)\noptions timeout:1 attempts:1\n")
    if not (root / "etc/ssh/ssh_host_ed25519_key").exists():
        run(["ssh-keygen", "-A", "-f", str(root)])
    exempt_host_from_ssh_penalties(cfg, root)
    if ssh_public_key:
        ssh_dir = root / "root/.ssh"
        ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(ssh_dir / "authorized_keys", ssh_public_key.strip() + "\n", mode=0o600)
    write_atomic(
        root / "etc/apt/apt.conf.d/01indigo-proxy",
        'Acquire::http::Proxy "%s";\nAcquire::https::Proxy "DIRECT";\n' % cfg.apt_proxy_url,
    )
    return " ".join((root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()[0:2])


def exempt_host_from_ssh_penalties(cfg: LocalSiteConfig, root: Path) -> None:
    """sshd >= 9.8 refuses, for a while, a source whose connections closed before authenticating
    (PerSourcePenalties noauth): the site's own readiness probes (banner only) come from the bridge
    address, as does every SSH session of the provisioner, so enough probes lock Ansible out of the node
    ("kex_exchange_identification: Connection reset"). The host is exempt; older sshd lacks the keyword
    (and would refuse to start on it), so the file is written only when the image's sshd knows it."""
    sshd = root / "usr/sbin/sshd"
    try:
        known = b"persourcepenaltyexemptlist" in sshd.read_bytes()
    except OSError:
        known = False
    if known and (root / "etc/ssh/sshd_config.d").is_dir():
        write_atomic(root / "etc/ssh/sshd_config.d/50-indigo-local-site.conf",
                     "# local site: the host (bridge %s) probes and provisions this node\n"
                     "PerSourcePenaltyExemptList %s\n" % (cfg.bridge_ip, cfg.bridge_ip))


def write_hosts(root: Path, entries: Iterable[tuple]) -> None:
    """/etc/hosts naming every node of the deployment (instance name and host name)."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", ""]
    for address, name in sorted(entries, key=lambda e: e[1]):
        aliases = [name] if hostname_for(name) == name else [hostname_for(name), name]
        lines.append("%s\t%s" % (address, " ".join(aliases)))
    write_atomic(root / "etc/hosts", "\n".join(lines) + "\n")


def start_machine(cfg: LocalSiteConfig, name: str, netns: str) -> int:
    """Boot the node (systemd as PID 1) in the background; returns the systemd-nspawn PID."""
    paths = node_paths(cfg, name)
    argv = [
        which("systemd-nspawn") or "systemd-nspawn", "-q", "-D", str(paths["root"]), "-M", hostname_for(name),
        "--boot", "--register=no", "--keep-unit", "--network-namespace-path=/run/netns/%s" % netns,
        "--resolv-conf=off", "--timezone=off", "--link-journal=no",
        # Each node has its own network namespace: NET_ADMIN acts on that namespace only and lets a node
        # do what a cloud VM does with its network (a tun device for the overlay, its own routes).
        "--capability=CAP_NET_ADMIN",
    ]
    log = open(paths["log"], "ab")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                            env=clean_env())  # the node gets nothing of the run that creates it
    log.close()
    time.sleep(0.2)
    if proc.poll() is not None:
        raise LocalSiteError("systemd-nspawn for %s exited at once (%s): %s" % (name, proc.returncode, tail(paths["log"])))
    return proc.pid


def tail(path: Path, size: int = 600) -> str:
    try:
        return path.read_bytes()[-size:].decode(errors="replace").strip()
    except OSError:
        return ""


def ssh_ready(address: str, timeout: float = 1.0) -> bool:
    """True once sshd answers with its banner (a bare TCP accept is not enough)."""
    try:
        with socket.create_connection((address, 22), timeout=timeout) as conn:
            conn.settimeout(timeout)
            return conn.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def container_children(pid: int):
    children = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as handle:
                children.extend(int(c) for c in handle.read().split())
    except OSError:
        pass
    return children


def stop_machine(pid: Optional[int], timeout: float = 15.0) -> None:
    """SIGTERM to systemd-nspawn (clean shutdown of the node); SIGKILL to its init if that hangs."""
    if not pid or not pid_alive(pid):
        return
    init_pids = container_children(pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        # Killing the container's init ends its whole PID namespace, then nspawn exits.
        for child in init_pids:
            _kill(child)
        _kill(pid)
        deadline = time.monotonic() + 5
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    try:
        os.waitpid(pid, os.WNOHANG)  # reap when we are its parent (same process started it)
    except ChildProcessError:
        pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def remove_root(cfg: LocalSiteConfig, name: str) -> None:
    paths = node_paths(cfg, name)
    for attempt in range(20):
        if not mounted(paths["root"]):
            break
        if run(["umount", str(paths["root"])], check=False).returncode != 0:
            time.sleep(0.25)
    if mounted(paths["root"]):
        raise LocalSiteError("cannot unmount %s (still busy)" % paths["root"])
    remove_tree(paths["base"])
