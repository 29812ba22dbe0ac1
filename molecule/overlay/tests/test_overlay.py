"""The client is on the overlay at its fixed address, reaches the central point through tun0, and holds its
key and certificates in 0600 files; the central point serves only known clients (ccd-exclusive)."""
import os

import testinfra

INVENTORY = os.environ["INDIGO_MOLECULE_INVENTORY"]
testinfra_hosts = [f"ansible://overlay_clients?ansible_inventory={INVENTORY}"]


def central_point(host):
    name = host.ansible.get_variables()["groups"]["central_point"][0]
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


def test_client_tunnel_reaches_the_central_point(host):
    assert host.service("openvpn-client@indigo").is_running
    assert "192.168.0." in host.check_output("ip -4 -o addr show dev tun0")
    assert host.run("ping -c1 -W3 192.168.0.1").rc == 0
    assert " dev tun0 " in host.check_output("ip route get 192.168.0.1")


def test_keys_are_private_files(host):
    for name in ("client.key", "client.crt", "ca.crt"):
        assert host.file(f"/etc/openvpn/client/indigo/{name}").mode == 0o600


def test_central_point_admits_known_clients_only(host):
    server = central_point(host)
    assert server.service("openvpn-server@indigo").is_running
    assert "ccd-exclusive" in server.file("/etc/openvpn/server/indigo.conf").content_string
    assert server.file("/etc/openvpn/indigo-pki/ca.key").mode == 0o600
