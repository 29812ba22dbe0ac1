"""`groups:` of a topology: named sets of node templates (TOSCA Simple Profile, group definition).
A policy target naming a group stands for the group's members."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from tosca2ansible.compiler import yamlload
from tosca2ansible.errors import Location, UserInputError

GROUP_KEYS = {"type", "description", "metadata", "properties", "members", "interfaces", "targets"}
ROOT_GROUP = "tosca.groups.Root"


@dataclasses.dataclass
class Group:
    name: str
    type: str
    members: list            # node template names, in the template's order
    properties: dict
    line: Optional[int]


def build_groups(tpl, topo: dict, nodes: dict) -> dict:
    file = tpl.display_name
    raw = topo.get("groups") or {}
    if not isinstance(raw, dict):
        raise UserInputError("groups must be a mapping of group name to definition",
                             Location(file, yamlload.line_of(topo, "groups"), field="groups"))
    groups = {}
    for name, spec in raw.items():
        where = Location(file, yamlload.line_of(raw, name), field="groups.%s" % name)
        if not isinstance(spec, dict):
            raise UserInputError("a group must be a mapping with a type and members", where)
        unknown = sorted(map(str, set(spec) - GROUP_KEYS))
        if unknown:
            raise UserInputError("unknown field %s in group" % unknown[0],
                                 Location(file, yamlload.line_of(spec, unknown[0]), field="groups.%s.%s" % (name, unknown[0])))
        gtype = spec.get("type")
        chain = tpl.registry.chain("group_types", gtype) if isinstance(gtype, str) else ()
        if not chain:
            raise UserInputError("unknown group type %r" % (gtype,), Location(file, yamlload.line_of(spec, "type") or where.line,
                                                                            field="groups.%s.type" % name))
        members = spec.get("members") or []
        mwhere = Location(file, yamlload.line_of(spec, "members") or where.line, field="groups.%s.members" % name)
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise UserInputError("members must be a list of node template names", mwhere)
        for member in members:
            if member not in nodes:
                raise UserInputError("group member %s is not a node template" % member, mwhere)
        properties = spec.get("properties") or {}
        if not isinstance(properties, dict):
            raise UserInputError("properties must be a mapping", Location(file, yamlload.line_of(spec, "properties"),
                                                                       field="groups.%s.properties" % name))
        groups[str(name)] = Group(str(name), chain[0], list(dict.fromkeys(members)), yamlload.plain(properties), where.line)
    return groups


def policy_targets(targets: Any, nodes: dict, groups: dict, where: Location) -> list:
    """A policy's targets as node template names: a group stands for its members (order kept, once each)."""
    expanded: list = []
    for target in targets if isinstance(targets, list) else [targets]:
        if isinstance(target, str) and target in nodes:
            expanded.append(target)
        elif isinstance(target, str) and target in groups:
            expanded.extend(groups[target].members)
        else:
            raise UserInputError("policy target %s is not a node template or group" % (target,), where)
    return list(dict.fromkeys(expanded))
