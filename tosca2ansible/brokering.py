"""From a compiled TOSCA topology to a broker request, and the site catalogue as the CLI sees it.

The broker core itself lives in the collection (`plugins/module_utils/broker.py`) so that the
`indigo.paas.broker` module and this CLI rank with the very same code.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
from typing import Optional

from tosca2ansible.collection import FRAMEWORK_ROOT, ensure_importable

ensure_importable()
# pylint: disable=wrong-import-position
from ansible_collections.indigo.paas.plugins.module_utils import broker
from ansible_collections.indigo.paas.plugins.module_utils.credentials import CredentialError, resolve_credentials
from ansible_collections.indigo.paas.plugins.module_utils.providers import get_provider
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import ProviderError
from ansible_collections.indigo.paas.plugins.module_utils.sites import (
    SiteCatalogueError,
    default_catalogue_path,
    load_catalogue,
)
from tosca2ansible.compiler import placement
from tosca2ansible.errors import Location, UserInputError


def catalogue_path(path: Optional[str] = None) -> str:
    """--sites, else $INDIGO_SITES, else the framework's own inventories/sites."""
    if path:
        return path
    if os.environ.get("INDIGO_SITES"):
        return os.environ["INDIGO_SITES"]
    return default_catalogue_path(str(FRAMEWORK_ROOT))


def load_sites(path: Optional[str] = None) -> list:
    try:
        return load_catalogue(catalogue_path(path))
    except SiteCatalogueError as exc:
        raise UserInputError(str(exc), Location(file=catalogue_path(path))) from None


def _literal(value, default=None, inputs=None):
    """A value the broker can use: literals, and get_input of a given or defaulted input. Other symbolic
    values (get_attribute, an input left for launch time) carry no number the broker can use."""
    from tosca2ansible.compiler.values import Input  # pylint: disable=import-outside-toplevel

    if isinstance(value, Input):
        value = (inputs or {}).get(value.name)
    if isinstance(value, (str, int, float, bool)) and not (isinstance(value, str) and value == ""):
        return value
    return default


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


def _size_mb(value, default) -> int:
    value = _literal(value)
    if value is None:
        return default
    try:
        return broker.parse_size_mb(value)
    except ValueError:
        return default


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
            mem_mb=_size_mb(lit(host.get("mem_size")), 512), disk_gb=_size_mb(lit(host.get("disk_size")), 0) // 1000,
            gpus=_int(lit(host.get("num_gpus")), 0), gpu_vendor=lit(host.get("gpu_vendor")),
            gpu_model=lit(host.get("gpu_model")), cuda_version=lit(os_cap.get("cuda_min_version")),
            image=lit(os_cap.get("image")), os_distribution=lit(os_cap.get("distribution")),
            os_version=lit(os_cap.get("version")) and str(lit(os_cap.get("version"))),
            infiniband=bool(lit(host.get("infiniband_support"), False)), sgx=bool(lit(host.get("sgx"), False)),
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
