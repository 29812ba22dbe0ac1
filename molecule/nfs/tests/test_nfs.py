"""A file written on the server is read on a client."""
import os
import uuid

import testinfra

INVENTORY = os.environ["INDIGO_MOLECULE_INVENTORY"]
testinfra_hosts = [f"ansible://nfs_clients?ansible_inventory={INVENTORY}"]


def test_file_written_on_server_is_read_on_client(host):
    server_name = host.ansible.get_variables()["groups"]["nfs_server"][0]
    server = testinfra.get_host(f"ansible://{server_name}?ansible_inventory={INVENTORY}")
    token = uuid.uuid4().hex
    server.check_output(f"echo {token} > /srv/shared/probe")
    assert host.file("/srv/shared/probe").content_string.strip() == token
