"""The local site's host tooling: real nspawn nodes (slow, root) and its guards (fast)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.fixtures.local_nodes import leftovers, local_nodes, local_site, ssh_keypair  # noqa: F401
from tosca2ansible.runtime.localsite import (
    CapacityError,
    HostNotReady,
    LocalSite,
    LocalSiteConfig,
    NodeTimeout,
    host,
)
from tosca2ansible.runtime.localsite import machine


# -- fast: guards that need no root ------------------------------------------------------------
def test_not_root_names_the_problem(monkeypatch):
    monkeypatch.setattr(host.os, "geteuid", lambda: 1000)
    with pytest.raises(HostNotReady, match="needs root"):
        host.check_host()


def test_missing_tools_name_their_debian_packages(monkeypatch):
    monkeypatch.setattr(host, "which", lambda tool: None if tool in ("systemd-nspawn", "debootstrap") else "/bin/true")
    with pytest.raises(HostNotReady) as err:
        host.check_host()
    assert "systemd-nspawn" in str(err.value) and "systemd-container" in str(err.value)
    assert "debootstrap" in str(err.value)


def test_capacity_refuses_what_the_host_cannot_hold(tmp_path):
    site = LocalSite(LocalSiteConfig(state_dir=str(tmp_path)))
    cap = host.host_capacity()
    site._check_capacity(cpus=1, mem_mb=256)  # fits
    with pytest.raises(CapacityError, match="MB RAM"):
        site._check_capacity(cpus=1, mem_mb=cap["mem_mb"] * 2)
    with pytest.raises(CapacityError, match="CPUs requested for one node"):
        site._check_capacity(cpus=cap["cpus"] + 1, mem_mb=256)
    with pytest.raises(CapacityError, match="GPU"):
        site._check_capacity(cpus=1, mem_mb=256, gpus=1)


@pytest.mark.parametrize("subnet", ["8.8.8.0/24", "10.77.0.0/30", "fd00::/64"])
def test_only_private_ipv4_subnets_are_accepted(subnet):
    with pytest.raises(ValueError):
        LocalSiteConfig(subnet=subnet)


def test_node_addresses_stay_inside_the_subnet():
    cfg = LocalSiteConfig(subnet="10.99.5.0/28")
    assert cfg.bridge_ip == "10.99.5.1"
    assert cfg.node_addresses()[0] == "10.99.5.2" and cfg.node_addresses()[-1] == "10.99.5.14"


def test_cli_exit_code_3_when_not_root():
    if subprocess.run(["id", "-u", "nobody"], capture_output=True).returncode != 0:
        pytest.skip("no user nobody")
    proc = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-m",
         "tosca2ansible.runtime.localsite", "--state-dir", "/tmp/indigo-not-root", "up", "--deployment", "x"],
        capture_output=True, text=True, cwd="/",
    )
    if "Operation not permitted" in proc.stderr and proc.returncode != 3:
        pytest.skip("cannot switch user here")
    assert proc.returncode == 3, proc.stderr
    assert "needs root" in proc.stderr


# -- slow: real nodes ---------------------------------------------------------------------------
@pytest.mark.slow
def test_three_nodes_ssh_ready_resolve_each_other_and_leave_nothing(local_site, local_nodes):
    started = time.monotonic()
    nodes = local_nodes(3)
    boot_seconds = time.monotonic() - started
    names = [n.name for n in nodes]
    addresses = {n.address for n in nodes}
    assert len(addresses) == 3
    assert all(local_site.cfg.network.overlaps(__import__("ipaddress").ip_network(a + "/32")) for a in addresses)
    for node in nodes:
        # real SSH with strict host key checking against the site's known_hosts
        assert node.ssh("hostname").strip() == node.record.hostname
        assert node.ssh("ps -p 1 -o comm=").strip() == "systemd"
        for other in nodes:
            assert other.address in node.ssh("getent hosts %s" % other.name)
        assert local_site.cfg.apt_proxy_url in node.ssh("cat /etc/apt/apt.conf.d/01indigo-proxy")
    assert "3 received" in nodes[0].ssh("ping -c3 -i0.2 -W2 %s" % nodes[2].name)
    # every node has its own host key
    assert len({n.record.host_key for n in nodes}) == 3
    deleted = local_site.delete_deployment(nodes[0].record.tags["indigo_deployment"])
    assert sorted(deleted) == sorted(names)
    assert leftovers(local_site, names) == {}
    print("3 nodes ssh-ready in %.1f s" % boot_seconds)


@pytest.mark.slow
def test_packages_come_through_the_apt_proxy(local_nodes):
    node = local_nodes(1)[0]
    node.ssh("apt-get update -qq && apt-get install -y -qq --no-install-recommends hello", timeout=300)
    assert "Hello, world!" in node.ssh("hello")


def _descendants(pid):
    """``pid`` and every process under it (for a node: systemd-nspawn, its init and all the node runs)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(machine.container_children(current))
    return found


@pytest.mark.slow
def test_node_processes_get_none_of_the_creators_environment(local_site, local_nodes, monkeypatch):
    # what the instance module's environment may hold when it creates a node: the run id, a cloud secret
    marker = "MARKERenv5e1d" + uuid.uuid4().hex[:6]
    for name in ("INDIGO_RUN_ID", "AWS_SECRET_ACCESS_KEY", "OS_PASSWORD"):
        monkeypatch.setenv(name, marker)
    node = local_nodes(1)[0]
    pids = _descendants(node.record.pid)
    environs, commands = {}, {}
    for pid in pids:
        try:
            environs[pid] = Path("/proc/%d/environ" % pid).read_bytes()
            commands[pid] = Path("/proc/%d/comm" % pid).read_text().strip()
        except OSError:
            pass  # a short-lived process of the node ended meanwhile
    assert [(pid, commands.get(pid)) for pid in pids if marker.encode() in environs.get(pid, b"")] == []
    assert environs[node.record.pid].split(b"\0")[:2] == [
        b"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", b"LANG=C.UTF-8"]
    init = machine.container_children(node.record.pid)
    assert [commands[pid] for pid in init] == ["systemd"]  # the node's PID 1, seen from the host
    assert "sshd" in commands.values() and len(environs) >= 4  # the node's own services were read too
    assert marker not in node.ssh("cat /proc/1/environ; env")  # and as the node's root sees it


@pytest.mark.slow
def test_node_not_up_in_time_is_removed(local_site, ssh_keypair):
    name = "ttimeout-node-0"
    with pytest.raises(NodeTimeout):
        local_site.create_node(name, {"indigo_deployment": "ttimeout"}, timeout=0.05,
                               ssh_public_key=ssh_keypair.with_suffix(".pub").read_text())
    assert local_site.get(name) is None
    assert leftovers(local_site, [name]) == {}


@pytest.mark.slow
def test_reused_address_is_reachable_at_once(local_site, local_nodes):
    first = local_nodes(1)[0]
    address = first.address
    local_site.delete_node(first.name)
    started = time.monotonic()
    second = local_nodes(1)[0]
    assert second.address == address
    assert second.ssh("true") == ""
    assert time.monotonic() - started < 20


@pytest.mark.slow
def test_up_down_cli(local_site, ssh_keypair, tmp_path):
    base = [sys.executable, "-m", "tosca2ansible.runtime.localsite"]
    inventory = tmp_path / "inventory.yml"
    up = subprocess.run(base + ["up", "--deployment", "tcli", "--nodes", "2", "--key", str(ssh_keypair.with_suffix(".pub")),
                                "--inventory", str(inventory)], capture_output=True, text=True, timeout=300)
    assert up.returncode == 0, up.stderr
    nodes = json.loads(up.stdout)["nodes"]
    assert [n["name"] for n in nodes] == ["tcli-node-0", "tcli-node-1"]
    # the inventory works as is for Ansible (e.g. a molecule scenario)
    ping = subprocess.run([str(Path(sys.executable).parent / "ansible"), "node", "-i", str(inventory), "-m", "ansible.builtin.ping"],
                          capture_output=True, text=True, timeout=300)
    assert ping.returncode == 0 and ping.stdout.count("SUCCESS") == 2, ping.stdout + ping.stderr
    down = subprocess.run(base + ["down", "--deployment", "tcli"], capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert sorted(json.loads(down.stdout)["deleted"]) == ["tcli-node-0", "tcli-node-1"]
    assert leftovers(local_site, ["tcli-node-0", "tcli-node-1"]) == {}
