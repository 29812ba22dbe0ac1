"""The 3-node ensemble elects one leader; the others follow."""
import os
import time

INVENTORY = os.environ["INDIGO_MOLECULE_INVENTORY"]
testinfra_hosts = [f"ansible://zookeeper?ansible_inventory={INVENTORY}"]

SRVR = ("python3 -c \"import socket; s=socket.create_connection(('127.0.0.1', 2181), 5); "
        "s.sendall(b'srvr'); print(s.recv(4096).decode())\"")


def _mode(host):
    deadline = time.time() + 90
    while time.time() < deadline:
        out = host.run(SRVR).stdout
        for line in out.splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        time.sleep(3)
    return None


def test_member_is_leader_or_follower(host):
    assert _mode(host) in ("leader", "follower")


def test_exactly_one_leader(host):
    import testinfra
    modes = [_mode(testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}"))
             for name in host.ansible.get_variables()["groups"]["zookeeper"]]
    assert sorted(modes) == ["follower", "follower", "leader"]
