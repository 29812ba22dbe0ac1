"""Dependency graph of a topology: who hosts whom, what runs before what, how many of each Compute.

All passes are linear in nodes + requirements. Levels count from 1 (Compute nodes are provisioned
before any level). A dependency cycle is reported with the cycle spelled out.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from tosca2ansible.compiler.model import Node, Topology
from tosca2ansible.compiler.types import ATTACHES_TO, COMPUTE, HOSTED_ON
from tosca2ansible.errors import Location, UserInputError

HOSTING_REQUIREMENTS = ("host", "lrms")
# relationship Configure operations per phase: (operation, runs on the source side?)
RELATIONSHIP_PHASES = {
    "pre": (("pre_configure_source", True), ("pre_configure_target", False)),
    "post": (("post_configure_source", True), ("post_configure_target", False)),
    "add": (("add_target", True), ("add_source", False)),
}


@dataclasses.dataclass
class Plan:
    computes: list                      # Compute node names, sorted
    host_of: dict                       # software node -> node it is hosted on (direct)
    compute_of: dict                    # every node -> hosting Compute (itself for a Compute), or None
    depends_on: dict                    # node -> sorted list of nodes it needs first
    level_of: dict                      # software node -> level (1..)
    levels: list                        # [[node names]] per level, sorted
    attachments: dict                   # Compute -> [(storage node, requirement)]
    runs_on: dict = dataclasses.field(default_factory=dict)  # node -> sorted Computes its configuration runs on


def is_compute(topology: Topology, node: Node) -> bool:
    return COMPUTE in node.chain


def _hosted_on(topology: Topology, req) -> bool:
    if req.relationship:
        return topology.registry.is_a("relationship_types", req.relationship, HOSTED_ON)
    return req.name in HOSTING_REQUIREMENTS


def build_plan(topology: Topology) -> Plan:
    nodes = topology.nodes
    host_of: dict = {}
    depends_on: dict = {name: set() for name in nodes}
    attachments: dict = {}
    for node in nodes.values():
        for req in node.requirements:
            if req.target == node.name:
                raise UserInputError("node requires itself through %s" % req.name,
                                     Location(topology.file, req.line, node.name, "requirements.%s" % req.name))
            attaches = req.relationship and topology.registry.is_a("relationship_types", req.relationship, ATTACHES_TO)
            if attaches:
                attachments.setdefault(node.name, []).append((req.target, req))
                continue
            if _hosted_on(topology, req) and node.name not in host_of:
                host_of[node.name] = req.target
            depends_on[node.name].add(req.target)
    compute_of: dict = {}

    def find_compute(name: str) -> Optional[str]:
        seen = []
        current: Optional[str] = name
        while current is not None:
            if current in compute_of:
                result = compute_of[current]
                break
            if is_compute(topology, nodes[current]):
                result = current
                break
            if current in seen:
                raise UserInputError("hosting cycle: %s" % " -> ".join(seen + [current]),
                                     Location(topology.file, nodes[name].line, name, "requirements"))
            seen.append(current)
            current = host_of.get(current)
        else:
            result = None
        for item in seen + [name]:
            compute_of[item] = result
        return result

    for name in nodes:
        find_compute(name)
    level_of = _levels(topology, depends_on)
    software = sorted(n for n in nodes if not is_compute(topology, nodes[n]))
    count = max((level_of[n] for n in software), default=0)
    levels = [[] for _ in range(count)]
    for name in software:
        levels[level_of[name] - 1].append(name)
    computes = sorted(n for n in nodes if is_compute(topology, nodes[n]))
    return Plan(computes, host_of, compute_of, {k: sorted(v) for k, v in depends_on.items()},
                {n: level_of[n] for n in software}, levels, attachments, _runs_on(nodes, computes, compute_of))


def _runs_on(nodes, computes, compute_of) -> dict:
    """The Compute groups each node's configuration tasks run on: a software node's own Compute, and for
    relationship operations the Compute of the side each one runs on (a Compute itself has only those)."""
    sides = [pair for phase in RELATIONSHIP_PHASES.values() for pair in phase]
    source_side = {op for op, on_source in sides if on_source}
    target_side = {op for op, on_source in sides if not on_source}
    compute_names = frozenset(computes)  # `computes` is a sorted list: a lookup in it is linear (quadratic plan)
    runs_on = {}
    for name, node in nodes.items():
        groups = set()
        if name not in compute_names or any(op in source_side for req in node.requirements for op in req.operations):
            groups.add(compute_of.get(name))
        groups.update(compute_of.get(req.target) for req in node.requirements
                      if any(op in target_side for op in req.operations))
        runs_on[name] = sorted(g for g in groups if g)
    return runs_on


def _levels(topology: Topology, depends_on: dict) -> dict:
    """Longest-path level per node with an iterative DFS (no recursion limit at 10 000 nodes)."""
    nodes = topology.nodes
    level: dict = {}
    state: dict = {}  # 1 = on the stack, 2 = done
    for root in sorted(nodes):
        if root in level:
            continue
        stack = [(root, iter(sorted(depends_on[root])))]
        state[root] = 1
        path = [root]
        while stack:
            name, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[name] = 2
                if is_compute(topology, nodes[name]):
                    level[name] = 0
                else:
                    level[name] = 1 + max((level[c] for c in depends_on[name]), default=0)
                continue
            if state.get(child) == 1:
                cycle = path[path.index(child):] + [child]
                raise UserInputError("dependency cycle: %s" % " -> ".join(cycle),
                                     Location(topology.file, nodes[name].line, name, "requirements"))
            if state.get(child) != 2:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(depends_on[child]))))
    return level
