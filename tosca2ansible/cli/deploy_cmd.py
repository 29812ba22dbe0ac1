"""``indigo deploy | status | outputs | undeploy | ssh``: run compiled projects on sites.

Progress goes to stderr; stdout carries only the result (the outputs, or one JSON object with
``--json``), so scripts can parse it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tosca2ansible.cli import options
from tosca2ansible.errors import Location, UserInputError


def _non_empty(value, option):
    if value is not None and not value.strip():
        raise UserInputError("%s must not be empty" % option, Location(field=option))
    return value


def _progress(line):
    click.echo(line, err=True)


def _print_result(result, as_json):
    if as_json:
        click.echo(json.dumps(result, indent=1, sort_keys=True, default=str))
        return
    click.echo("deployment: %s" % result["deployment"])
    if result.get("status"):
        click.echo("status: %s" % result["status"])
    if result.get("changed") is not None:
        click.echo("changed: %s" % result["changed"])
    for node in result.get("nodes") or []:
        click.echo("node %s[%d] %s %s %s %s" % (node["node"], node["index"], node["name"], node["status"],
                                                node["address"], node.get("site") or ""))
    for rule in result.get("data") or []:  # the deployment's Rucio rules (journal)
        if rule.get("failed"):
            click.echo("data rule failed (run %s, %s): %s" % (rule["run"], rule["failed"], rule["message"]))
            continue
        detail = rule.get("detail") or {}
        line = "data rule %s %s %s at %s" % (rule["rule"], rule["change"], rule.get("name") or "", rule.get("site") or "")
        if detail:
            line += ": %s, %s/%s files OK" % (detail.get("state"), detail.get("ok"), detail.get("total"))
        click.echo(line)
        for entry in detail.get("files") or []:
            click.echo("  %s at %s: %s" % (entry.get("did"), entry.get("rse"), entry.get("error") or entry.get("lock")))
    outputs = result.get("outputs") or {}
    if outputs:
        click.echo("outputs:")
        for key in sorted(outputs):
            click.echo("  %s: %s" % (key, json.dumps(outputs[key], default=str)))


@click.command("deploy")
@click.argument("template", required=False, type=click.Path(dir_okay=False, path_type=Path))
@options.inputs
@options.TYPES_PATH
@click.option("--deployment", callback=lambda ctx, param, value: _non_empty(value, "--deployment"),
              help="id of an existing deployment to converge (default: a new id)")
@click.option("--site", "sites", multiple=True, metavar="SITE|NODE=SITE",
              help="site name in the catalogue; repeat to try sites in order; 'auto' = broker ranking "
              "[default: the site an existing --deployment lives on, else local]; NODE=SITE places the node "
              "template NODE (its Compute) on SITE: one deployment on several sites (NODE=auto: the broker "
              "ranks that node group alone; with --site auto every placed group is ranked alone)")
@options.group(help_text="user group whose SLAs apply (with --site auto); default: the deployment's group when "
               "it exists, else 'default'")
@click.option("--attempt-timeout", default=1800, show_default=True, type=click.IntRange(1), help="seconds per site attempt")
@click.option("--overall-timeout", default=7200, show_default=True, type=click.IntRange(1), help="seconds for the whole deployment")
@options.SITES
@options.JSON
@options.STRICT
@options.EXECUTION_NODE
def deploy_command(template, inputs_file, input_pairs, types_paths, deployment, sites, group, attempt_timeout,
                   overall_timeout, sites_path, as_json, strict):
    """Compile TEMPLATE and deploy it; print the TOSCA outputs."""
    from tosca2ansible.runtime import deploy

    from tosca2ansible.runtime.placement import split_site_options

    site_list, node_sites = split_site_options(sites)
    # no --site: None, so that an existing deployment converges on its own site (never a copy on 'local')
    # no --types-path: None, so that a re-deploy keeps the mapping it was compiled with; the catalogue
    # absolute: the playbook runs from the project directory; no --sites: None, so that a re-deploy uses the
    # catalogue the deployment was made with (a new one: $INDIGO_SITES, then inventories/sites)
    result = deploy.deploy(template, options.collect_inputs(inputs_file, input_pairs), deployment, site_list or None,
                           str(Path(sites_path).resolve()) if sites_path else None,
                           progress=_progress, attempt_timeout=attempt_timeout, overall_timeout=overall_timeout,
                           group=group, types_paths=list(types_paths) or None, strict=strict, node_sites=node_sites)
    _print_result(result, as_json)


@click.command("status")
@click.argument("deployment")
@options.JSON
def status_command(deployment, as_json):
    """Show a deployment: last status, nodes found on its site by tags, outputs (and an elastic pool)."""
    from tosca2ansible.cli.elastic_cmd import echo_pool_if_elastic
    from tosca2ansible.runtime import deploy

    _print_result(deploy.status(deployment), as_json)
    if not as_json:
        echo_pool_if_elastic(deployment)


@click.command("outputs")
@click.argument("deployment")
@options.JSON
def outputs_command(deployment, as_json):
    """Print the TOSCA outputs of a deployment."""
    from tosca2ansible.runtime import deploy

    _print_result(deploy.outputs(deployment), as_json)


@click.command("undeploy")
@click.argument("deployment")
@options.JSON
@options.EXECUTION_NODE
def undeploy_command(deployment, as_json):
    """Tear a deployment down (undeploy.yml, then removal by tags of anything left)."""
    from tosca2ansible.runtime import deploy

    _print_result(deploy.undeploy(deployment, progress=_progress), as_json)


@click.command("ssh", context_settings={"ignore_unknown_options": True})
@click.argument("deployment")
@click.option("--node", required=True, help="TOSCA node template name of the Compute node")
@click.option("--index", default=0, show_default=True, type=int)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def ssh_command(deployment, node, index, command):
    """Run COMMAND (after --) on one node of a deployment, or open a shell."""
    from tosca2ansible.runtime import deploy

    sys.exit(deploy.ssh(deployment, node, index, list(command)))


def register(cli):
    for command in (deploy_command, status_command, outputs_command, undeploy_command, ssh_command):
        cli.add_command(command)
