"""The staged input is on the node with the right content; the oneclient unit is rendered, token 0600."""
import os

INVENTORY = os.environ["INDIGO_MOLECULE_INVENTORY"]
testinfra_hosts = [f"ansible://data_nodes?ansible_inventory={INVENTORY}"]


def test_input_downloaded(host):
    staged = host.file("/var/lib/indigo/data/input.txt")
    assert staged.exists
    assert staged.content_string == "indigo data staging input\n"


def test_oneclient_unit_rendered_not_started(host):
    unit = host.file("/etc/systemd/system/oneclient-inputs.service")
    assert unit.exists and "oneclient -f -H oneprovider.example.org /mnt/onedata/inputs" in unit.content_string
    token = host.file("/etc/indigo-oneclient.env")
    assert token.mode == 0o600
    assert not host.service("oneclient-inputs").is_running
