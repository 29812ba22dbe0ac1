"""A file written on the NFS server host is read on a client, and back, through NFSv4 (NFS-Ganesha).

Both sides go through user-space libnfs (nfs-cp / nfs-cat): the nodes' kernel has no NFS client.
"""
import os
import uuid

import testinfra

INVENTORY = os.environ["INDIGO_MOLECULE_INVENTORY"]
testinfra_hosts = [f"ansible://nfs_clients?ansible_inventory={INVENTORY}"]


def server_host(client):
    name = client.ansible.get_variables()["groups"]["nfs_server"][0]
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}"), name


def url(address, name):
    return f"nfs://{address}/srv/shared/{name}?version=4"


def test_ganesha_serves_nfs4_only(host):
    server, _ = server_host(host)
    assert server.service("nfs-ganesha").is_running
    programs = server.check_output("rpcinfo -p 127.0.0.1")
    assert any(line.split()[:2] == ["100003", "4"] for line in programs.splitlines()), programs
    assert not any(line.split()[:2] == ["100003", "3"] for line in programs.splitlines()), programs


def test_file_written_on_server_is_read_on_client(host):
    server, _ = server_host(host)
    address = server.ansible.get_variables()["ansible_host"]
    token = uuid.uuid4().hex
    server.check_output(f"echo {token} > /tmp/probe && nfs-cp /tmp/probe '{url('127.0.0.1', 'from-server')}'")
    assert host.check_output(f"nfs-cat '{url(address, 'from-server')}'").strip() == token


def test_file_written_on_client_is_read_on_server(host):
    server, _ = server_host(host)
    address = server.ansible.get_variables()["ansible_host"]
    token = uuid.uuid4().hex
    host.check_output(f"echo {token} > /tmp/probe && nfs-cp /tmp/probe '{url(address, 'from-client')}'")
    assert server.check_output(f"nfs-cat '{url('127.0.0.1', 'from-client')}'").strip() == token
