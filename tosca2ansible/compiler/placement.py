"""Where each Compute node template goes: the Placement policies of the template (one rule, used by the
compiler for the project's default placement and by the broker request).

A policy deriving from ``tosca.policies.Placement`` names a site by ``cloud_id`` (indigo.Placement) or an
SLA by ``sla_id`` (indigo.SlaPlacement; the catalogue's ``sla[].id`` says which site holds it). Its
targets are node templates or groups (expanded by the model); a software target places the Compute it
is hosted on. A policy without targets (or none hosted on a Compute) places the whole deployment. ``--site NODE=SITE`` on the command
line wins over any policy (runtime/placement.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple

from tosca2ansible.compiler import values
from tosca2ansible.errors import Location, UserInputError

if TYPE_CHECKING:  # model imports this module (policy targets)
    from tosca2ansible.compiler.model import Topology
    from tosca2ansible.compiler.plan import Plan

PLACEMENT = "tosca.policies.Placement"
SITE_PROPERTIES = ("cloud_id", "sla_id")


def placements(topology: "Topology", plan: "Plan", literal: Optional[Callable] = None) -> Tuple[Dict[str, List[str]], List[str]]:
    """({compute: [site or SLA ids, in policy order]}, [ids placing the whole deployment])."""
    given = {name: d.value for name, d in topology.inputs.items()}
    lit = literal or (lambda value: values.literal(value, given))
    per_node: Dict[str, List[str]] = {}
    everywhere: List[str] = []
    for policy in topology.policies:
        if not topology.registry.is_a("policy_types", policy.type, PLACEMENT):
            continue
        site = next((lit(policy.properties.get(p)) for p in SITE_PROPERTIES if lit(policy.properties.get(p))), None)
        if site is None:
            continue
        computes = []
        for target in policy.targets:
            compute = plan.compute_of.get(target)
            if compute is not None and compute not in computes:
                computes.append(compute)
        if not computes:  # no targets, or none on a Compute (e.g. an ElasticCluster manager): all of it
            everywhere.append(str(site))
        for compute in computes:
            per_node.setdefault(compute, [])
            if str(site) not in per_node[compute]:
                per_node[compute].append(str(site))
    return per_node, everywhere


def site_of(site_id: str, sla_sites: Optional[Dict[str, str]]) -> str:
    """The site a placement id names: an SLA id (indigo.SlaPlacement) names the catalogue's site holding
    it (``sla_sites``: {SLA id: site}, brokering.sla_site_ids); anything else is a site name."""
    return (sla_sites or {}).get(site_id, site_id)


def node_sites(topology: "Topology", plan: "Plan", given: Optional[Dict[str, str]] = None,
               sla_sites: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """{compute: site} of the placed Compute nodes: the first id of their policies, then ``given`` (the
    command line's NODE=SITE, or the runtime's resolved sites), which wins; SLA ids are resolved through
    ``sla_sites``. A given NODE that is not a node template is a usage error; a software node places the
    Compute it is hosted on."""
    per_node, _ = placements(topology, plan)
    sites = {compute: ids[0] for compute, ids in per_node.items()}
    for node, site in (given or {}).items():
        compute = plan.compute_of.get(node)
        if compute is None:
            raise UserInputError("--site %s=%s: %s is not a node template hosted on a Compute node of %s"
                                 % (node, site, node, topology.file), Location(field="--site"))
        sites[compute] = str(site)
    return {compute: site_of(site, sla_sites) for compute, site in sorted(sites.items())}
