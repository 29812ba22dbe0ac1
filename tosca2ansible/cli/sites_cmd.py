"""`indigo sites` and `indigo rank`: the site catalogue with live health, and the broker's ranking."""

from __future__ import annotations

import json

import click

from tosca2ansible.cli import options
from tosca2ansible.errors import Location, UserInputError


@click.command("sites")
@options.SITES
@click.option("--no-probe", is_flag=True, help="Do not contact the sites, only list the catalogue.")
@options.JSON
def sites_command(sites_path, no_probe, as_json):
    """List the site catalogue with live health and usage."""
    from tosca2ansible import brokering  # pylint: disable=import-outside-toplevel

    sites = brokering.load_sites(sites_path)
    health, usage = ({}, {}) if no_probe else brokering.probe_all(sites)
    rows = [{"name": s["name"], "kind": s["kind"], "endpoint": s.get("endpoint"), "region": s.get("region"),
             "health": health.get(s["name"]), "usage": usage.get(s["name"]),
             "groups": sorted(e.get("group") for e in s.get("sla") or [])} for s in sites]
    if as_json:
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    for row in rows:
        h = row["health"]
        state = "not probed" if h is None else ("up %.0f ms" % h["latency_ms"] if h.get("reachable") else "DOWN: %s" % h.get("error"))
        click.echo("%-20s %-11s %-30s groups: %s" % (row["name"], row["kind"], state, ", ".join(row["groups"]) or "-"))


@click.command("rank")
@click.argument("template", type=click.Path(dir_okay=False))
@options.SITES
@options.inputs
@options.TYPES_PATH
@options.group("default")
@click.option("--no-probe", is_flag=True, help="Rank without contacting the sites (every site counts as unmonitored).")
@options.JSON
def rank_command(template, sites_path, inputs_file, input_pairs, types_paths, group, no_probe, as_json):
    """Rank the sites for TEMPLATE, with the reasons each site is kept or dropped, without deploying."""
    from tosca2ansible import brokering  # pylint: disable=import-outside-toplevel
    from ansible_collections.indigo.paas.plugins.module_utils import broker  # pylint: disable=import-outside-toplevel
    inputs = options.collect_inputs(inputs_file, input_pairs)
    topology, plan = brokering.analyse(template, inputs, list(types_paths))
    sites = brokering.load_sites(sites_path)
    if not sites:
        raise UserInputError("the site catalogue holds no site", Location(file=brokering.catalogue_path(sites_path)))
    request = brokering.resolve_placement(brokering.request_from_topology(topology, plan, group), sites)
    brokering.locate_data(request, topology, plan, sites, sites_path)
    health, usage = ({}, {}) if no_probe else brokering.probe_all(sites)
    ranking = broker.rank(request, sites, health, usage)
    if as_json:
        click.echo(json.dumps(broker.rankings_to_list(ranking), indent=2, sort_keys=True))
        return
    for r in ranking:
        click.echo("%s %-20s score %7.2f" % ("KEPT   " if r.kept else "dropped", r.site, r.score))
        for reason in r.reasons:
            click.echo("        - %s" % reason)


def register(cli):
    cli.add_command(sites_command)
    cli.add_command(rank_command)
