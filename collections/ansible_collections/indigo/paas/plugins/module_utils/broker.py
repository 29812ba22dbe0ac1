# -*- coding: utf-8 -*-
# Apache License 2.0
"""The broker core: a pure function from (request, catalogue, health, usage, rules) to a ranked list of
sites, each kept or dropped with the reasons why.

Differences from the INDIGO orchestrator, on purpose:
- quota is a hard filter: the request plus current usage must fit the SLA quota of the user's group
  (INDIGO summed quotas into a score and never compared them with the request);
- a site without monitoring data is kept with a penalty (INDIGO scored it 0 and never used it);
- the score is a weighted sum of several criteria given as plain data (INDIGO sorted by one SLA weight
  first), and every number that went into it is reported.

Nothing here does I/O: the same inputs always give the same output, whatever the catalogue order.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dataclasses
from typing import Any, Dict, List, Optional

from ansible_collections.indigo.paas.plugins.module_utils import matching
from ansible_collections.indigo.paas.plugins.module_utils.matching import catalogue_images, first_fit, flavor_table

from ansible_collections.indigo.paas.plugins.module_utils.data.base import site_locality

DEFAULT_RULES = {
    # weight of each criterion; each criterion is a number in [0, 1] before weighting
    "weights": {
        "sla_priority": 10.0,  # 1/priority of the group's SLA on the site (priority 1 = preferred)
        "headroom": 5.0,  # share of the quota left after this request
        "latency": 2.0,  # 1 / (1 + latency_ms / 100)
        "data_locality": 8.0,  # share of the requested data the site hosts
        "price": 1.0,  # 1 / (1 + hourly price of the request), sites with a price only
    },
    # subtracted from the score of a site without health data
    "no_monitoring_penalty": 3.0,
}


@dataclasses.dataclass
class NodeRequest:
    """What one Compute node template asks for (all instances of it)."""

    name: str
    count: int = 1
    num_cpus: int = 1
    mem_mb: int = 512
    disk_gb: int = 0
    gpus: int = 0
    gpu_vendor: Optional[str] = None
    gpu_model: Optional[str] = None
    cuda_version: Optional[str] = None
    image: Optional[str] = None
    instance_type: Optional[str] = None  # a flavor named exactly: used where the site has it, else the site drops
    os_distribution: Optional[str] = None
    os_version: Optional[str] = None
    public_ip: bool = False
    infiniband: bool = False
    sgx: bool = False
    # upper bounds of a range the template asked for (IM: num_cpus: {in_range: [2, 4]}); None: no bound
    max_cpus: Optional[int] = None
    max_mem_mb: Optional[int] = None


@dataclasses.dataclass
class Request:
    nodes: List[NodeRequest]
    group: str = "default"
    pinned_sites: List[str] = dataclasses.field(default_factory=list)  # placement: only these
    forbidden_sites: List[str] = dataclasses.field(default_factory=list)
    node_sites: Dict[str, List[str]] = dataclasses.field(default_factory=dict)  # per-node placement
    data: List[str] = dataclasses.field(default_factory=list)  # Onedata spaces / storage the job reads
    data_required: bool = False  # only sites hosting all data
    # what the data-location plugins found (module_utils/data), computed before ranking: Location dicts
    data_locations: List[Dict[str, Any]] = dataclasses.field(default_factory=list)

    @classmethod
    def from_dict(cls, data):
        data = dict(data or {})
        nodes = [NodeRequest(**_known(NodeRequest, n)) for n in data.pop("nodes", [])]
        return cls(nodes=nodes, **_known(cls, data))

    @property
    def totals(self):
        return _totals(self.nodes)


def _totals(nodes):
    return {
        "instances": sum(n.count for n in nodes),
        "cores": sum(n.count * n.num_cpus for n in nodes),
        "ram_mb": sum(n.count * n.mem_mb for n in nodes),
        "gpus": sum(n.count * n.gpus for n in nodes),
    }


class _Prepared:
    """What every site is compared with, derived from the request once per ranking: nodes grouped by
    flavor needs and by OS needs, so a site answers each distinct need once, not once per node."""

    __slots__ = ("request", "flavor_needs", "os_needs", "node_keys", "names", "flavor_keys", "gpu_match",
                 "free_sizing", "free_fits", "special", "totals", "data", "node_sites", "typed", "sized_keys",
                 "typed_keys")

    def __init__(self, request):
        self.request = request
        flavor_needs, os_needs, node_keys = {}, {}, []
        for node in request.nodes:
            fkey = _flavor_needs(node)
            os_key = (node.image, node.os_distribution, node.os_version)
            flavor_needs.setdefault(fkey, node)
            if node.image or node.os_distribution:
                os_needs.setdefault(os_key, node)
            node_keys.append((node, fkey, os_key))
        self.flavor_needs = list(flavor_needs.items())  # (needs, first node with them)
        self.os_needs = list(os_needs.items())
        self.node_keys = node_keys
        self.names = [key[0].name for key in node_keys]
        self.flavor_keys = [key[1] for key in node_keys]
        self.typed = [n for n in request.nodes if n.instance_type]  # nodes naming their flavor
        self.gpu_match = any(len(fkey) != 2 and (fkey[4] or fkey[5]) for fkey in flavor_needs)
        self.sized_keys = [fkey for fkey in flavor_needs if len(fkey) != 2]
        self.typed_keys = [fkey for fkey in flavor_needs if len(fkey) == 2]  # ("instance_type", name)
        # a site without a flavor list sizes instances freely: every need fits (no flavor chosen), except
        # a named flavor, which such a site does not have
        self.free_sizing = dict.fromkeys(flavor_needs)
        self.free_fits = {fkey: (False if len(fkey) == 2 else None) for fkey in flavor_needs}
        self.node_sites = [(node, allowed) for node, allowed in sorted(request.node_sites.items()) if allowed]
        self.special = [n for n in request.nodes if n.infiniband or n.sgx or (n.cuda_version and (n.gpus or n.instance_type))]
        self.totals = _totals(request.nodes)
        self.data = list(request.data)


@dataclasses.dataclass
class Ranking:
    site: str
    kept: bool
    score: float
    reasons: List[str]  # for people: "kept: ..." or "dropped: ..." lines, and notes
    criteria: Dict[str, float] = dataclasses.field(default_factory=dict)
    flavors: Dict[str, Optional[str]] = dataclasses.field(default_factory=dict)  # node -> flavor chosen
    dropped: List[str] = dataclasses.field(default_factory=list)  # why the site was dropped; empty: kept

    def to_dict(self):
        return dataclasses.asdict(self)


def _known(cls, data):
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _version_tuple(text):
    parts = []
    for piece in str(text).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _flavor_needs(node):
    """The key a node's flavor need is answered by: a named flavor, or what the flavor must hold."""
    if node.instance_type:
        return ("instance_type", node.instance_type)
    return matching.needs_key(node.num_cpus, node.mem_mb, node.disk_gb, node.gpus, node.gpu_vendor, node.gpu_model,
                              node.max_cpus, node.max_mem_mb)


def _choose_flavors(site, prepared):
    """({flavor need: flavor name or None}, {need: name, None or False (nothing fits)} when some need
    does not fit, else None) for one site. A site without flavors sizes freely: None, no flavor."""
    flavors = site.get("flavors")
    if not flavors:
        return prepared.free_sizing, (prepared.free_fits if prepared.typed_keys else None)
    table = flavor_table(flavors, prepared.gpu_match)
    chosen = {fkey: first_fit(table, fkey) for fkey in prepared.sized_keys}
    for fkey in prepared.typed_keys:
        chosen[fkey] = fkey[1] if matching.flavor_named(flavors, fkey[1]) is not None else None
    if None not in chosen.values():
        return chosen, None
    return chosen, {k: (v if v is not None else False) for k, v in chosen.items()}


def _typed_gpus(site, prepared):
    """{node name: GPUs} for nodes whose named flavor on this site carries more GPUs than they ask:
    a GPU-bearing instance type is a GPU request (quota and CUDA checks count it)."""
    gpus = {}
    for node in prepared.typed:
        flavor = matching.flavor_named(site.get("flavors"), node.instance_type) or {}
        have = int(flavor.get("gpus") or 0)
        if have > node.gpus:
            gpus[node.name] = have
    return gpus


def _image_ok(site, sla, node):
    images = site.get("images") or []
    allowed = sla.get("allowed_images")
    if node.image:
        if images and matching.image_named(images, node.image) is None:
            return "no image named %s" % node.image
        if allowed is not None and node.image not in allowed:
            return "image %s not allowed by the SLA of group %s" % (node.image, sla.get("group"))
        return None
    if node.os_distribution:
        found = catalogue_images(images, node.os_distribution, node.os_version or None)
        if images and not found:
            return "no image of %s %s" % (node.os_distribution, node.os_version or "")
        if allowed is not None and found and not any(i.get("name") in allowed for i in found):
            return "no %s image allowed by the SLA of group %s" % (node.os_distribution, sla.get("group"))
    return None


def _capability_problems(site, node, gpus):
    caps = site.get("capabilities") or {}
    problems = []
    if node.infiniband and not caps.get("infiniband"):
        problems.append("node %s needs InfiniBand" % node.name)
    if node.sgx and not caps.get("sgx"):
        problems.append("node %s needs SGX" % node.name)
    if gpus and node.cuda_version:
        gpu = caps.get("gpu") or {}
        have = gpu.get("cuda_version")
        if not have or _version_tuple(have) < _version_tuple(node.cuda_version):
            problems.append("node %s needs CUDA >= %s (site has %s)" % (node.name, node.cuda_version, have or "none"))
    return problems


def _sla_for(site, group):
    for entry in site.get("sla") or []:
        if entry.get("group") == group:
            return entry
    return None


_QUOTA_LABELS = (("instances", "instances"), ("cores", "cores"), ("ram_mb", "MB RAM"), ("gpus", "GPUs"))


def _quota_check(sla, usage, totals):
    """Hard filter: request + used must fit every limit. Returns (problems, headroom in [0, 1])."""
    quota = sla.get("quota")
    if not quota:
        return [], 0.5
    usage = usage or {}
    problems = []
    shares = []
    for key, label in _QUOTA_LABELS:
        limit = quota.get(key)
        if limit is None:
            continue
        limit = int(limit)
        used = usage.get(key)
        used = int(used.get("used") or 0) if used else 0
        need = used + totals[key]
        if need > limit:
            problems.append("quota %d %s, in use %d, request %d" % (limit, label, used, totals[key]))
        elif limit > 0:
            shares.append(1.0 - float(need) / limit)
    return problems, (sum(shares) / len(shares) if shares else 0.5)


def _weights(rules):
    weights = dict(DEFAULT_RULES["weights"])
    weights.update((rules or {}).get("weights") or {})
    penalty = float((rules or {}).get("no_monitoring_penalty", DEFAULT_RULES["no_monitoring_penalty"]))
    return weights, penalty


def _node_reasons(site, prepared, fits, images, typed_gpus):
    """Per-node reasons a site is dropped, in node order, where some node's flavor, image or capability
    does not fit."""
    reasons = []
    for node, fkey, os_key in prepared.node_keys:
        if fits[fkey] is False and node.instance_type:
            reasons.append("no flavor %s (the node's instance_type) for node %s" % (node.instance_type, node.name))
        elif fits[fkey] is False:
            wants = "%d CPU, %d MB" % (node.num_cpus, node.mem_mb)
            if node.gpus:
                wants += ", %d GPU%s" % (node.gpus, "" if node.gpus == 1 else "s")
                if node.gpu_model:
                    wants += " %s" % node.gpu_model
            reasons.append("no flavor with >= %s for node %s" % (wants, node.name))
        problem = images.get(os_key)
        if problem:
            reasons.append("%s for node %s" % (problem, node.name))
        gpus = typed_gpus.get(node.name, node.gpus)
        if node.infiniband or node.sgx or (gpus and node.cuda_version):
            reasons.extend(_capability_problems(site, node, gpus))
    return reasons


_KEPT_FORMATS = {}  # criteria names (sorted) -> "kept: a %.2f, b %.2f" (one format per set of criteria)


def _kept_reason(criteria):
    names = tuple(sorted(criteria))
    fmt = _KEPT_FORMATS.get(names)
    if fmt is None:
        fmt = _KEPT_FORMATS[names] = "kept: " + ", ".join("%s %%.2f" % n for n in names)
    return fmt % tuple(criteria[n] for n in names)


def rank_site(site, request, health, usage, rules, weights=None, prepared=None):
    """Evaluate one site: hard filters first (each failing one adds to ``dropped``), then the score.
    ``prepared`` (from ``rank``) carries what is derived from the request once for all sites."""
    if prepared is None:
        prepared = _Prepared(request)
    request = prepared.request
    name = site.get("name")
    if site.get("enabled") is False:
        why = "site disabled in the catalogue"
        return Ranking(name, False, 0.0, ["dropped: " + why], dropped=[why])
    dropped = []
    if request.pinned_sites and name not in request.pinned_sites:
        dropped.append("placement policy pins %s" % ", ".join(sorted(request.pinned_sites)))
    if request.forbidden_sites and name in request.forbidden_sites:
        dropped.append("placement policy forbids this site")
    for node, allowed in prepared.node_sites:
        if name not in allowed:
            dropped.append("placement policy puts node %s on %s" % (node, ", ".join(sorted(allowed))))
    sla = _sla_for(site, request.group)
    if sla is None:
        dropped.append("no SLA for group %s" % request.group)
        sla = {}
    if health is not None and not health.get("reachable", False):
        dropped.append("unreachable (%s)" % (health.get("error") or "no answer"))

    # flavors and images: each distinct need is answered once; per-node reasons only when one fails
    chosen, unfit = _choose_flavors(site, prepared)
    typed_gpus = _typed_gpus(site, prepared) if prepared.typed else {}
    images = {os_key: _image_ok(site, sla, node) for os_key, node in prepared.os_needs}
    if unfit or prepared.special or any(images.values()):
        dropped.extend(_node_reasons(site, prepared, unfit or chosen, images, typed_gpus))
    flavors = dict(zip(prepared.names, map(chosen.__getitem__, prepared.flavor_keys)))

    locality = 0.0
    if prepared.data:
        data = site.get("data") or {}
        spaces, storage = data.get("onedata_spaces") or (), data.get("storage") or ()
        missing = [d for d in prepared.data if d not in spaces and d not in storage]
        locality = float(len(prepared.data) - len(missing)) / len(prepared.data)
        if missing and request.data_required:
            dropped.append("does not host required data %s" % ", ".join(sorted(missing)))
    data_notes = ()
    if request.data_locations:  # located data counts like claimed data, one share per reference
        located_share, data_notes, located = site_locality(name, request.data_locations)
        claimed = len(prepared.data)
        if located:
            locality = (locality * claimed + located_share * located) / (claimed + located)
        if request.data_required and located and located_share < 1.0:
            dropped.append("does not hold all the located data")
    totals = prepared.totals
    if typed_gpus:
        totals = _totals([dataclasses.replace(n, gpus=typed_gpus[n.name]) if n.name in typed_gpus else n
                          for n in request.nodes])
    quota_problems, headroom = _quota_check(sla, usage, totals)
    dropped.extend(quota_problems)

    weights, penalty = weights or _weights(rules)
    criteria = {
        "sla_priority": 1.0 / max(1.0, float(sla.get("priority", 1) or 1)),
        "headroom": max(0.0, headroom),
        "data_locality": locality,
    }
    if health is not None and health.get("latency_ms") is not None:
        criteria["latency"] = 1.0 / (1.0 + float(health["latency_ms"]) / 100.0)
    price = site.get("price_per_core_hour")
    if price is not None:
        criteria["price"] = 1.0 / (1.0 + float(price) * totals["cores"])
    score = sum(weights.get(k, 0.0) * v for k, v in criteria.items())
    reasons = ["dropped: " + why for why in dropped] if dropped else [_kept_reason(criteria)]
    if health is None:
        score -= penalty
        reasons.append("no monitoring data: kept with a penalty of %g" % penalty)
    reasons.extend(data_notes)
    return Ranking(name, not dropped, round(score, 6), reasons, criteria, flavors, dropped)


def rank(request, sites, health=None, usage=None, rules=None):
    """Rank every site for ``request``. Kept sites first, best score first, then by name."""
    if isinstance(request, dict):
        request = Request.from_dict(request)
    health = health or {}
    usage = usage or {}
    weights = _weights(rules)
    prepared = _Prepared(request)
    results = [
        rank_site(site, request, health.get(site.get("name")), usage.get(site.get("name")), rules, weights, prepared)
        for site in sites
    ]
    results.sort(key=lambda r: (not r.kept, -r.score, r.site))
    return results


def split(request, sites, health=None, usage=None, rules=None):
    """Place each node on its own best site when no single site takes the whole request (hybrid
    clusters). Returns ``{node: site}`` or ``None`` when some node fits nowhere. Quota is checked per
    site for the sum of the nodes placed there."""
    if isinstance(request, dict):
        request = Request.from_dict(request)
    placement = {}
    placed = {}  # site -> list of nodes
    by_name = {s.get("name"): s for s in sites}
    for node in sorted(request.nodes, key=lambda n: (-n.count * n.num_cpus, n.name)):
        single = dataclasses.replace(request, nodes=[node])
        for candidate in rank(single, sites, health, usage, rules):
            if not candidate.kept:
                break
            together = dataclasses.replace(request, nodes=placed.get(candidate.site, []) + [node])
            if rank_site(by_name[candidate.site], together, (health or {}).get(candidate.site),
                         (usage or {}).get(candidate.site), rules).kept:
                placement[node.name] = candidate.site
                placed.setdefault(candidate.site, []).append(node)
                break
        else:
            return None
        if node.name not in placement:
            return None
    return placement


def rankings_to_list(rankings):
    return [r.to_dict() for r in rankings]
