"""Users exist with their keys; only alice has sudo."""
import os

INVENTORY = os.environ["INDIGO_MOLECULE_INVENTORY"]
testinfra_hosts = [f"ansible://users?ansible_inventory={INVENTORY}"]


def test_alice_has_key_and_sudo(host):
    keys = host.file("/home/alice/.ssh/authorized_keys")
    assert keys.mode == 0o600 and keys.user == "alice" and "alice@example" in keys.content_string
    assert host.run("runuser -u alice -- sudo -n true").rc == 0


def test_bob_has_no_sudo(host):
    assert "users" in host.user("bob").groups
    assert host.run("runuser -u bob -- sudo -n true").rc != 0
