"""`indigo sites` and `indigo rank`: the site catalogue with live health, and the broker's ranking."""

from __future__ import annotations

import json

import click

from tosca2ansible.cli.compile_cmd import _collect_inputs  # one parser of -i/--inputs for every command
from tosca2ansible.errors import Location, UserInputError

SITES_OPTION = click.option("--sites", "sites_path", type=click.Path(), help="Site catalogue (dir or file); default $INDIGO_SITES, then inventories/sites.")


@click.command("sites")
@SITES_OPTION
@click.option("--no-probe", is_flag=True, help="Do not contact the sites, only list the catalogue.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of sites.")
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
@SITES_OPTION
@click.option("-i", "--input", "input_pairs", multiple=True, metavar="KEY=VALUE", help="A template input.")
@click.option("--inputs", "inputs_file", type=click.Path(dir_okay=False), help="YAML/JSON file of inputs.")
@click.option("--types-path", multiple=True, metavar="PREFIX=DIR", help="Offline mapping of import URLs to folders.")
@click.option("--group", default="default", show_default=True, help="User group whose SLAs apply.")
@click.option("--no-probe", is_flag=True, help="Rank without contacting the sites (every site counts as unmonitored).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {site, kept, score, reasons}.")
def rank_command(template, sites_path, input_pairs, inputs_file, types_path, group, no_probe, as_json):
    """Rank the sites for TEMPLATE, with the reasons each site is kept or dropped, without deploying."""
    from tosca2ansible import brokering  # pylint: disable=import-outside-toplevel
    from ansible_collections.indigo.paas.plugins.module_utils import broker  # pylint: disable=import-outside-toplevel
    inputs = _collect_inputs(inputs_file, input_pairs)
    topology, plan = brokering.analyse(template, inputs, list(types_path))
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
