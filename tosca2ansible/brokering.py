"""From a compiled TOSCA topology to a broker request, and the site catalogue as the CLI sees it.

The broker core itself lives in the collection (`plugins/module_utils/broker.py`) so that the
`indigo.paas.broker` module and this CLI rank with the very same code.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import dataclasses
from typing import Dict, List, Optional, Set

from tosca2ansible.collection import ensure_importable

ensure_importable()
# pylint: disable=wrong-import-position
from ansible_collections.indigo.paas.plugins.module_utils import broker, units
from ansible_collections.indigo.paas.plugins.module_utils.credentials import CredentialError, resolve_credentials
from ansible_collections.indigo.paas.plugins.module_utils.providers import get_provider
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import ProviderError
from ansible_collections.indigo.paas.plugins.module_utils.sites import (
    SiteCatalogueError,
    load_catalogue,
)
from tosca2ansible.compiler import placement, values
from tosca2ansible.errors import Location, UserInputError

# the framework's own catalogue (the embedded local site): package data, inventories/sites in a checkout
FRAMEWORK_SITES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sites")


def catalogue_path(path: Optional[str] = None) -> str:
    """--sites, else $INDIGO_SITES, else the framework's own catalogue (FRAMEWORK_SITES)."""
    if path:
        return path
    if os.environ.get("INDIGO_SITES"):
        return os.environ["INDIGO_SITES"]
    return FRAMEWORK_SITES


def load_sites(path: Optional[str] = None) -> list:
    try:
        return load_catalogue(catalogue_path(path))
    except SiteCatalogueError as exc:
        raise UserInputError(str(exc), Location(file=catalogue_path(path))) from None


def _literal(value, default=None, inputs=None):
    """The compiler's one rule for values known before a run (``compiler.values.literal``)."""
    return values.literal(value, inputs, default)


def _count(scalable: dict, lit) -> int:
    for key in ("count", "default_instances", "min_instances"):
        value = lit(scalable.get(key))
        if isinstance(value, int) and not isinstance(value, bool):
            return max(0, value)
    return 1


def _int(value, default=0) -> int:
    value = _literal(value, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _size(convert, value, default) -> int:
    """A size through the collection's one rule (``units``); a size the broker cannot read counts as absent."""
    value = _literal(value)
    try:
        size = convert(value, "size")
    except ValueError:
        return default
    return default if size is None else size


def _text(value) -> Optional[str]:
    return None if value is None or isinstance(value, bool) else str(value)


def _upper_bounds(wanted: dict) -> dict:
    """max_cpus / max_mem_mb of host properties given as ranges (IM dialect); the lower bounds are the
    capability values already."""
    bounds = {}
    cpus = wanted.get("num_cpus")
    if cpus is not None and cpus.maximum() is not None:
        bounds["max_cpus"] = _int(cpus.maximum(), None)
    mem = wanted.get("mem_size")
    if mem is not None and mem.maximum() is not None:
        bounds["max_mem_mb"] = _size(units.size_mb, mem.maximum(), None)
    return {k: v for k, v in bounds.items() if v is not None}


def analyse(template: str, inputs: dict, types_paths: list):
    """(topology, plan) of a template, through the compiler's own load/model/plan rooms."""
    from tosca2ansible.compiler import _guarded  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.loader import load_template  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.model import build_topology  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.plan import build_plan  # pylint: disable=import-outside-toplevel

    def run(path):
        topology = build_topology(load_template(path, types_paths), inputs, True)
        return topology, build_plan(topology)

    return _guarded(run, template)


def request_from_topology(topology, plan, group: str = "default") -> broker.Request:
    given = {name: definition.value for name, definition in topology.inputs.items()}
    lit = functools.partial(_literal, inputs=given)
    nodes = []
    for name in plan.computes:
        caps = topology.nodes[name].capabilities
        host, os_cap, scalable = caps.get("host", {}), caps.get("os", {}), caps.get("scalable", {})
        nodes.append(broker.NodeRequest(
            name=name, count=_count(scalable, lit), num_cpus=_int(lit(host.get("num_cpus")), 1) or 1,
            mem_mb=_size(units.size_mb, lit(host.get("mem_size")), 512),
            disk_gb=_size(units.size_gb, lit(host.get("disk_size")), 0),
            instance_type=_text(lit(host.get("instance_type"))),
            gpus=_int(lit(host.get("num_gpus")), 0), gpu_vendor=lit(host.get("gpu_vendor")),
            gpu_model=lit(host.get("gpu_model")), cuda_version=lit(os_cap.get("cuda_min_version")),
            image=lit(os_cap.get("image")), os_distribution=lit(os_cap.get("distribution")),
            os_version=lit(os_cap.get("version")) and str(lit(os_cap.get("version"))),
            infiniband=bool(lit(host.get("infiniband_support"), False)), sgx=bool(lit(host.get("sgx"), False)),
            **_upper_bounds(topology.nodes[name].wanted.get("host", {})),
        ))
    request = broker.Request(nodes=nodes, group=group)
    per_node, everywhere = placement.placements(topology, plan, lit)
    request.node_sites = per_node
    request.pinned_sites = everywhere
    return request


def sla_site_ids(sites: list) -> dict:
    """SLA ids written in the catalogue (sla[].id) point at their site: INDIGO templates pin by SLA id."""
    ids = {}
    for site in sites:
        for entry in site.get("sla") or []:
            if entry.get("id"):
                ids[str(entry["id"])] = site["name"]
    return ids


def resolve_placement(request: broker.Request, sites: list) -> broker.Request:
    ids = sla_site_ids(sites)
    request.pinned_sites = [placement.site_of(s, ids) for s in request.pinned_sites]
    request.node_sites = {n: [placement.site_of(s, ids) for s in v] for n, v in request.node_sites.items()}
    return request


def probe(site: dict) -> tuple:
    """(health, usage) of one site; a site that cannot be probed is reported unreachable, never raised."""
    try:
        provider = get_provider(site, resolve_credentials(site, os.environ))
        health = provider.health()
        return health, (provider.usage() if health.get("reachable") else None)
    except (ProviderError, CredentialError, ValueError, ImportError, NotImplementedError) as exc:
        return {"reachable": False, "latency_ms": None, "error": str(exc)}, None


def probe_all(sites: list) -> tuple:
    health, usage = {}, {}
    if not sites:
        return health, usage
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(sites))) as pool:
        for site, (h, u) in zip(sites, pool.map(probe, sites)):
            health[site["name"]] = h
            if u is not None:
                usage[site["name"]] = u
    return health, usage


def locate_data(request: broker.Request, topology, plan, sites: list, catalogue: Optional[str] = None,
                cache_path: Optional[str] = None, environ=None) -> broker.Request:
    """Fill ``request.data_locations``: what the data-location plugins say about the data each node reads
    (module_utils/data). Never raises for a catalogue that does not answer: its Location carries the error."""
    # pylint: disable=import-outside-toplevel
    from ansible_collections.indigo.paas.plugins.module_utils.data.base import DataRef, LocationCache
    from ansible_collections.indigo.paas.plugins.module_utils.data.locate import (
        DEFAULT_TTL,
        load_data_services,
        locate,
    )
    from tosca2ansible.compiler.datarefs import SERVICE_SPACE, data_refs

    found = data_refs(topology, plan)
    if not found:
        return request
    services = load_data_services(catalogue_path(catalogue))
    service_space = (services.get("onezone") or {}).get("service_space")
    refs, unnamed = [], []
    for entry in found:
        ref = entry["ref"]
        if entry["kind"] == "onedata" and ref == SERVICE_SPACE:
            if not service_space:
                unnamed.append({"kind": "onedata", "ref": "(service space)", "nodes": entry["nodes"], "sites": {},
                                "error": "no data_services.onezone.service_space in the site catalogue"})
                continue
            ref = service_space
        refs.append(DataRef(entry["kind"], ref, tuple(entry["nodes"]), entry["service"]))
    cache = LocationCache(cache_path, ttl=float(services.get("cache_ttl") or DEFAULT_TTL))
    request.data_locations = [loc.to_dict() for loc in locate(refs, sites, services, cache, environ)] + unnamed
    return request


# `--site auto` for a deployment whose node groups go to different sites: the broker ranks each group.
# A node group is one Compute node template (its `count` nodes). **Placed** groups (a placement policy names
# their sites, or `--site NODE=auto` lets the broker choose among all) are ranked alone on their allowed
# sites; the **following** groups (no placement) go where the attempts go: ranked together, their kept sites
# are the attempts' order. Quota is checked per site for everything the choice puts there (as broker.split).
# Pure: rankings in, choices out.


@dataclasses.dataclass
class GroupChoice:
    """What the broker chose: a site per placed group, the ranked sites for the following groups, and why."""

    node_sites: Dict[str, str]
    following_sites: List[str]
    lines: List[str]
    problems: List[str]


def _line(group, ranking):
    return "rank %s %s %s %.2f: %s" % (group, "kept" if ranking.kept else "dropped", ranking.site, ranking.score,
                                       "; ".join(ranking.reasons))


def rank_groups(request: broker.Request, sites: list, health: Optional[dict] = None, usage: Optional[dict] = None,
                auto_nodes: Optional[Set[str]] = None, fixed: Optional[Dict[str, str]] = None) -> GroupChoice:
    """Rank each placed group on its allowed sites, then the following groups together.

    ``request.node_sites`` holds the policies' allowed sites per Compute (resolved to site names);
    ``auto_nodes`` are groups the broker places over every site (`--site NODE=auto`); ``fixed`` are groups
    the command line put on a site (`--site NODE=SITE`): not ranked, but counted in that site's quota."""
    health, usage, fixed = health or {}, usage or {}, dict(fixed or {})
    by_node = {n.name: n for n in request.nodes}
    all_names = [s.get("name") for s in sites]
    by_name = {s.get("name"): s for s in sites}
    allowed = {node: list(names) for node, names in request.node_sites.items() if node in by_node}
    for node in auto_nodes or ():
        if node in by_node:
            allowed[node] = list(all_names)
    for node in fixed:
        allowed.pop(node, None)
    chosen: Dict[str, str] = {}
    lines: List[str] = []
    problems: List[str] = []
    for node in sorted(allowed):
        pins = [s for s in allowed[node] if not request.pinned_sites or s in request.pinned_sites]
        single = dataclasses.replace(request, nodes=[by_node[node]], node_sites={}, pinned_sites=pins or ["(none)"])
        rankings = broker.rank(single, sites, health, usage)
        lines.extend(_line(node, r) for r in rankings)
        kept = [r.site for r in rankings if r.kept]
        for site in kept:  # the best site that still takes every group placed there with this one
            with_others = [by_node[n] for n, s in sorted(dict(fixed, **chosen).items()) if s == site and n in by_node]
            if not with_others or broker.rank_site(by_name[site], dataclasses.replace(
                    single, nodes=with_others + [by_node[node]]), health.get(site), usage.get(site), None).kept:
                chosen[node] = site
                break
            lines.append("rank %s dropped %s: cannot also take %s placed there"
                         % (node, site, ", ".join(n.name for n in with_others)))
        if node not in chosen:
            problems.append("node group %s: no site takes it (%s)" % (node, "; ".join(
                "%s: %s" % (r.site, ", ".join(r.dropped) or "full with the groups placed there") for r in rankings)))
    placed_at = dict(fixed, **chosen)
    following = [n for n in request.nodes if n.name not in placed_at]
    order: List[str] = []
    if following:
        together = dataclasses.replace(request, nodes=following, node_sites={})
        for ranking in broker.rank(together, sites, health, usage):
            lines.append(_line("(following groups)", ranking))
            if not ranking.kept:
                continue
            here = [by_node[n] for n, site in sorted(placed_at.items()) if site == ranking.site and n in by_node]
            if here and not broker.rank_site(by_name[ranking.site], dataclasses.replace(together, nodes=following + here),
                                             health.get(ranking.site), usage.get(ranking.site), None).kept:
                lines.append("rank (following groups) dropped %s: cannot also take %s placed there"
                             % (ranking.site, ", ".join(n.name for n in here)))
                continue
            order.append(ranking.site)
        if not order:
            problems.append("node groups %s: no site takes them" % ", ".join(n.name for n in following))
    else:  # every group is placed: the deployment's own site is the first group's
        order = [placed_at[n] for n in sorted(placed_at)][:1]
    return GroupChoice(chosen, order, lines, problems)
