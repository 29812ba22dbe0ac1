"""From a compiled TOSCA topology to a broker request, and the site catalogue as the CLI sees it.

The broker core itself lives in the collection (`plugins/module_utils/broker.py`) so that the
`indigo.paas.broker` module and this CLI rank with the very same code.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
from typing import Optional

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
    request.pinned_sites = [ids.get(s, s) for s in request.pinned_sites]
    request.node_sites = {n: [ids.get(s, s) for s in v] for n, v in request.node_sites.items()}
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
