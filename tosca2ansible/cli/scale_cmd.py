"""``indigo scale DEPLOYMENT --node NODE --count N``: change how many instances of one Compute node
template a deployment has, and converge it (its deploy.yml through ansible-runner, journaled as ``scale``)."""

from __future__ import annotations

import click

from tosca2ansible.cli import options


@click.command("scale")
@click.argument("deployment")
@click.option("--node", required=True, help="TOSCA node template name of the Compute node to scale")
@click.option("--count", required=True, type=int, help="the number of instances wanted (0 or more)")
@options.JSON
@options.EXECUTION_NODE
def scale_command(deployment, node, count, as_json):
    """Set the instance count of NODE in DEPLOYMENT and converge; print the TOSCA outputs."""
    from tosca2ansible.cli.deploy_cmd import _print_result, _progress
    from tosca2ansible.runtime import scale

    result = scale.scale(deployment, node, count, progress=_progress)
    if not as_json:
        click.echo("scaled: %s %s -> %s" % (node, result["previous_count"], count))
    _print_result(result, as_json)


def register(cli):
    cli.add_command(scale_command)
