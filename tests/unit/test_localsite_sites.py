"""A second local site: its own state, bridge and subnet, the first site's image; published ports relayed
(UDP and TCP, as a VPN central point's 1194 is reached from another site), only where the site allows it."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from tosca2ansible.runtime.localsite import LocalSiteConfig
from tosca2ansible.runtime.localsite import relay


def test_second_site_shares_the_image_but_nothing_else():
    a = LocalSiteConfig.from_site({"local": {"bridge": "indigo0", "subnet": "10.77.0.0/24", "state_dir": "/x/a"}})
    b = LocalSiteConfig.from_site({"local": {"bridge": "indigo1", "subnet": "10.78.0.0/24", "state_dir": "/x/b",
                                             "image_root": "/x/a", "publish_ports": True}})
    assert b.image_dir == a.image_dir == Path("/x/a/images/debian-trixie")
    assert b.nodes_dir != a.nodes_dir and b.known_hosts_file != a.known_hosts_file and b.lock_file != a.lock_file
    assert (a.bridge_ip, b.bridge_ip) == ("10.77.0.1", "10.78.0.1")
    assert a.publish_ports is False and b.publish_ports is True


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.3", 0))
        return probe.getsockname()[1]


def test_relay_carries_udp_and_tcp_to_the_node_and_back(tmp_path):
    port = _free_port()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.3", port))
    tcp = socket.socket()
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.3", port))
    tcp.listen(1)

    def echo_udp():
        data, addr = udp.recvfrom(100)
        udp.sendto(b"re:" + data, addr)

    def echo_tcp():
        conn, _ = tcp.accept()
        conn.sendall(b"re:" + conn.recv(100))
        conn.close()

    threading.Thread(target=echo_udp, daemon=True).start()
    threading.Thread(target=echo_tcp, daemon=True).start()
    pids = [relay.start("127.0.0.2", port, proto, "127.0.0.3", tmp_path / "relay.log") for proto in ("udp", "tcp")]
    try:
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.settimeout(5)
        client.sendto(b"hello", ("127.0.0.2", port))
        assert client.recvfrom(100)[0] == b"re:hello"
        deadline = time.monotonic() + 5
        while True:
            try:
                stream = socket.create_connection(("127.0.0.2", port), timeout=5)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        stream.sendall(b"tcp")
        assert stream.recv(100) == b"re:tcp"
    finally:
        for pid in pids:
            relay.stop(pid)
        udp.close()
        tcp.close()


def test_nodes_exempt_the_host_from_sshd_penalties_only_when_their_sshd_knows_the_keyword(tmp_path):
    from tosca2ansible.runtime.localsite import machine

    cfg = LocalSiteConfig.from_site({"local": {"bridge": "indigo0", "subnet": "10.77.0.0/24", "state_dir": "/x/a"}})
    for name, binary in (("new", b"\0persourcepenaltyexemptlist\0"), ("old", b"\0maxstartups\0")):
        root = tmp_path / name
        (root / "usr/sbin").mkdir(parents=True)
        (root / "etc/ssh/sshd_config.d").mkdir(parents=True)
        (root / "usr/sbin/sshd").write_bytes(binary)
        machine.exempt_host_from_ssh_penalties(cfg, root)
    written = tmp_path / "new/etc/ssh/sshd_config.d/50-indigo-local-site.conf"
    assert "PerSourcePenaltyExemptList 10.77.0.1\n" in written.read_text()
    assert list((tmp_path / "old/etc/ssh/sshd_config.d").iterdir()) == []
