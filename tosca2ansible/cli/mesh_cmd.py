"""``indigo mesh start NODE... | status | stop``: the receptor mesh whose execution nodes run jobs given
``--execution-node NODE`` (runtime/receptor.py, runtime/remote.py)."""

from __future__ import annotations

import json

import click


@click.group("mesh")
def mesh_group():
    """The receptor mesh: this host's control node and execution nodes."""


@mesh_group.command("start")
@click.argument("nodes", nargs=-1, required=True)
def start_command(nodes):
    """Start the control node and the execution nodes NODES (those already up stay)."""
    from tosca2ansible.runtime.receptor import Mesh

    record = Mesh().start(list(nodes))
    click.echo(json.dumps(record, indent=1, sort_keys=True))


@mesh_group.command("status")
def status_command():
    """The nodes the control node routes to, and each node's pid."""
    from tosca2ansible.runtime.receptor import Mesh

    mesh = Mesh()
    click.echo(json.dumps({"routes": mesh.routes(), "nodes": mesh.record()["nodes"]}, indent=1, sort_keys=True))


@mesh_group.command("stop")
def stop_command():
    """Stop every node of the mesh and remove its directory."""
    from tosca2ansible.runtime.receptor import Mesh

    Mesh().stop()


def register(cli):
    cli.add_command(mesh_group)
