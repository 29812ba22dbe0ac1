"""Typed model of one topology, validated against its type registry in linear time.

Every value is checked with tosca-parser's own datatype and constraint code (per value, no graph), and
every exception it raises is turned into a UserInputError naming file, line, node and field.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Optional

from tosca2ansible.compiler import wanted, yamlload
from tosca2ansible.compiler.checks import Notes, Source, add_derived_properties, check_value, did_you_mean
from tosca2ansible.compiler.groups import build_groups, policy_targets
from tosca2ansible.compiler.loader import LoadedTemplate
from tosca2ansible.compiler.types import CONFIGURE_OPERATIONS, TypeRegistry, merge_configure_operations, normalise_operation
from tosca2ansible.compiler.values import Artifact, Attribute, Concat, Property, Token, parse_value, walk
from tosca2ansible.errors import Location, UnsupportedError, UserInputError
from tosca2ansible.compiler.inputs import (  # noqa: F401  (model's public names)
    MISSING,
    CliText,
    InputDef,
    build_inputs,
    coerce_cli_value,
    is_secret_input,
    var_name_for,
)

NODE_KEYS = {"type", "properties", "capabilities", "requirements", "interfaces", "artifacts", "description",
             "metadata", "directives", "attributes", "copy", "node_filter"}
TOPOLOGY_KEYS = {"description", "inputs", "node_templates", "relationship_templates", "outputs", "groups",
                 "policies", "substitution_mappings", "workflows"}
NODE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
REQUIREMENT_KEYS = {"node", "capability", "relationship", "occurrences", "node_filter"}


@dataclasses.dataclass
class Requirement:
    name: str
    target: str
    relationship: Optional[str]
    properties: dict
    line: Optional[int]
    # Configure operations of the relationship: {name: {implementation, inputs, origin}}, inputs bound
    # (SELF = the relationship's properties, SOURCE/TARGET = its ends)
    operations: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Node:
    name: str
    type: str
    chain: tuple
    properties: dict
    capabilities: dict
    requirements: list
    operations: dict
    artifacts: dict
    line: Optional[int]
    artifact_origins: dict = dataclasses.field(default_factory=dict)   # artifact -> Location defining it
    # capability -> property -> Wanted: constraint maps given as capability properties (IM dialect)
    wanted: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Policy:
    name: str
    type: str
    targets: list
    properties: dict


@dataclasses.dataclass
class Topology:
    file: str
    description: str
    inputs: dict
    nodes: dict
    outputs: dict
    policies: list
    registry: TypeRegistry
    groups: dict = dataclasses.field(default_factory=dict)   # group name -> Group (members: node names)


def _check_properties(registry, defs: dict, given: Any, where: Location, owner: str, required_check: bool,
                      notes: Optional[Notes] = None, drift: bool = False, wants: Optional[dict] = None) -> dict:
    """Property values checked against `defs`. `drift`: an undeclared name is a warning (an error under
    --strict) and dropped, as the reference systems did. `wants`: where constraint maps (IM dialect) go."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise UserInputError("properties must be a mapping", where)
    result = {}
    for key, value in given.items():
        field_where = Location(where.file, yamlload.line_of(given, key) or where.line, where.node,
                               (where.field + "." if where.field else "") + str(key))
        if key not in defs:
            message = "unknown property %s%s (%s defines: %s)" % (key, did_you_mean(key, defs), owner,
                                                                 ", ".join(sorted(defs)) or "none")
            if drift and notes is not None:
                notes.drift(message, field_where, "its value is dropped" if where.node else "ignored")
                continue
            raise UserInputError(message, field_where)
        parsed = parse_value(value, where.node or "", field_where)
        definition = defs[key] if isinstance(defs[key], dict) else {}
        if wants is not None and wanted.is_constraint_map(value, definition):
            parsed = wanted.from_constraint_map(registry, definition, key, value, field_where, notes, wants)
            if parsed is None:
                continue
        elif value is not None:
            parsed = check_value(registry, definition, parsed, field_where, "property %s" % key, notes,
                                 Source(where.file, field_where.line, key))
        result[key] = parsed
    for key, definition in defs.items():
        if key in result or key in (wants or {}) or not isinstance(definition, dict):
            continue
        if "default" in definition:
            result[key] = parse_value(definition["default"], where.node or "", where)
        elif required_check and definition.get("required", True) is not False:
            raise UserInputError("missing required property %s of %s" % (key, owner),
                                 dataclasses.replace(where, field=(where.field + "." if where.field else "") + key))
    return result


def _build_requirements(tpl, name, spec, known_nodes, where, notes=None) -> list:
    raw = spec.get("requirements") or []
    if not isinstance(raw, list):
        raise UserInputError("requirements must be a list", dataclasses.replace(where, field="requirements"))
    defs = tpl.registry.node_requirements(spec["type"])
    reqs = []
    for item in raw:
        line = yamlload.line_of(item) or where.line
        if not isinstance(item, dict) or len(item) != 1:
            raise UserInputError("each requirement must be a one-key mapping", Location(where.file, line, name, "requirements"))
        req_name, value = next(iter(item.items()))
        rwhere = Location(where.file, line, name, "requirements.%s" % req_name)
        if req_name not in defs:
            message = "unknown requirement %s (type %s defines: %s)" % (req_name, spec["type"], ", ".join(sorted(defs)) or "none")
            if not isinstance(value, dict) or notes is None:
                raise UserInputError(message, rwhere)
            # Long form names its target (and maybe its relationship): tosca-parser accepts it, so do we.
            notes.drift(message, rwhere)
        rel_type, rel_props, rel_interfaces = tpl.registry.relationship_of(spec["type"], req_name), {}, None
        if isinstance(value, dict):
            unknown = set(value) - REQUIREMENT_KEYS
            if unknown:
                raise UserInputError("unknown requirement field(s) %s" % ", ".join(sorted(map(str, unknown))), rwhere)
            target = value.get("node")
            rel = value.get("relationship")
            if isinstance(rel, dict):
                rel_type = rel.get("type", rel_type)
                rel_props = parse_value(rel.get("properties") or {}, name, rwhere)
                rel_interfaces = rel.get("interfaces")
            elif isinstance(rel, str):
                templates = (tpl.doc.get("topology_template") or {}).get("relationship_templates") or {}
                if isinstance(templates.get(rel), dict):
                    rel_type = templates[rel].get("type", rel_type)
                    rel_props = parse_value(templates[rel].get("properties") or {}, name, rwhere)
                    rel_interfaces = templates[rel].get("interfaces")
                else:
                    rel_type = rel
            if rel_type:
                if not tpl.registry.chain("relationship_types", rel_type):
                    raise UserInputError("unknown relationship type %s" % rel_type, rwhere)
                rel_type = tpl.registry.chain("relationship_types", rel_type)[0]
        else:
            target = value
        if not isinstance(target, str):
            if isinstance(value, dict) and value.get("node_filter") is not None:
                # TOSCA's abstract requirement: the orchestrator selects (or creates) a node meeting the filter
                raise UnsupportedError("not supported yet: requirement %s of %s given only as a node_filter "
                                       "(name the node with `node:`)" % (req_name, name), rwhere)
            raise UserInputError("requirement %s needs a target node" % req_name, rwhere)
        if target not in known_nodes:
            raise UserInputError("requirement %s points at %s, which is not a node template of this topology"
                                 % (req_name, target), rwhere)
        operations = _relationship_operations(tpl, rel_type, rel_interfaces, rel_props, name, target, rwhere)
        reqs.append(Requirement(req_name, target, rel_type, rel_props, line, operations))
    return reqs


def _relationship_operations(tpl, rel_type, interfaces, rel_props, source, target, where) -> dict:
    """The relationship's Configure operations (type, then template), inputs bound to its ends."""
    merged = merge_configure_operations(
        dict(tpl.registry.relationship_operations(rel_type)) if rel_type else {}, interfaces,
        lambda ops, op_name: Location(where.file, yamlload.line_of(ops, op_name) or where.line))
    if not any(op.get("implementation") for op in merged.values()):
        return {}
    props = dict(rel_props)
    for key, definition in (tpl.registry.relationship_properties(rel_type) if rel_type else {}).items():
        if key not in props and isinstance(definition, dict) and "default" in definition:
            props[key] = parse_value(definition["default"], source, where)
    result = {}
    for op_name in CONFIGURE_OPERATIONS:
        op = merged.get(op_name)
        if op and op.get("implementation"):
            inputs = parse_value(op.get("inputs") or {}, source, where)
            result[op_name] = {"implementation": op["implementation"], "origin": op.get("origin"),
                               "inputs": bind_relationship(inputs, source, target, props)}
    return result


def bind_relationship(value: Any, source: str, target: str, rel_props: dict) -> Any:
    """In a relationship's operation SELF is the relationship (its properties), SOURCE and TARGET its ends."""
    if isinstance(value, dict):
        return {k: bind_relationship(v, source, target, rel_props) for k, v in value.items()}
    if isinstance(value, list):
        return [bind_relationship(v, source, target, rel_props) for v in value]
    if isinstance(value, Concat):
        return Concat(tuple(bind_relationship(p, source, target, rel_props) for p in value.parts))
    if isinstance(value, Token):
        return dataclasses.replace(value, value=bind_relationship(value.value, source, target, rel_props))
    if isinstance(value, Property) and value.node == "SELF":
        found = rel_props.get(value.path[0])
        for step in value.path[1:]:
            found = found.get(step) if isinstance(found, dict) else None
        return found
    if isinstance(value, (Property, Attribute, Artifact)) and value.node in ("SELF", "SOURCE", "TARGET"):
        end = target if value.node == "TARGET" else source
        return dataclasses.replace(value, node=end, context=end)
    return value


def _build_node(tpl: LoadedTemplate, name: str, spec: Any, known_nodes, line, notes: Optional[Notes] = None) -> Node:
    file = tpl.display_name
    where = Location(file, line, name)
    if not isinstance(spec, dict):
        raise UserInputError("node template must be a mapping", where)
    unknown = set(spec) - NODE_KEYS
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise UserInputError("unknown field %s in node template" % key,
                             Location(file, yamlload.line_of(spec, key), name, key))
    ntype = spec.get("type")
    registry = tpl.registry
    if not isinstance(ntype, str) or not registry.chain("node_types", ntype):
        raise UserInputError("unknown node type %r" % (ntype,), Location(file, yamlload.line_of(spec, "type"), name, "type"))
    chain = registry.chain("node_types", ntype)
    ntype = chain[0]
    props = _check_properties(registry, registry.node_properties(ntype), spec.get("properties"),
                              Location(file, yamlload.line_of(spec, "properties") or line, name, "properties"),
                              ntype, True, notes, drift=True)
    capabilities, wants = {}, {}
    cap_defs = registry.node_capabilities(ntype)
    given_caps = spec.get("capabilities") or {}
    if not isinstance(given_caps, dict):
        raise UserInputError("capabilities must be a mapping", Location(file, line, name, "capabilities"))
    for cap_name, cap_def in cap_defs.items():
        cap_type = cap_def.get("type")
        cap_given = given_caps.get(cap_name) or {}
        cwhere = Location(file, yamlload.line_of(given_caps, cap_name) or line, name, "capabilities.%s.properties" % cap_name)
        if not isinstance(cap_given, dict):
            raise UserInputError("capability must be a mapping", cwhere)
        cap_props = dict(registry.capability_properties(cap_type)) if isinstance(cap_type, str) else {}
        cap_props.update(cap_def.get("properties") or {})
        add_derived_properties(registry, cap_type, cap_props, cap_given.get("properties"), cwhere, notes)
        cap_wants: dict = {}
        capabilities[cap_name] = _check_properties(registry, cap_props, cap_given.get("properties"), cwhere,
                                                   "capability %s (%s)" % (cap_name, cap_type), False, notes,
                                                   drift=True, wants=cap_wants)
        if cap_wants:
            wants[cap_name] = cap_wants
    for cap_name in given_caps:
        if cap_name not in cap_defs:
            raise UserInputError("unknown capability %s (type %s defines: %s)" % (cap_name, ntype, ", ".join(sorted(cap_defs))),
                                 Location(file, yamlload.line_of(given_caps, cap_name), name, "capabilities.%s" % cap_name))
    requirements = _build_requirements(tpl, name, spec, known_nodes, where, notes)
    operations = {iface: dict(ops) for iface, ops in registry.node_operations(ntype).items()}
    given_interfaces = spec.get("interfaces") or {}
    if not isinstance(given_interfaces, dict):
        raise UserInputError("interfaces must be a mapping of interface name to operations, not a %s"
                             % type(given_interfaces).__name__, Location(file, yamlload.line_of(spec, "interfaces"),
                                                                         name, "interfaces"))
    for iface, ops in given_interfaces.items():
        if isinstance(ops, dict):
            for op_name, op in ops.items():
                if op_name in ("type", "inputs"):
                    continue
                origin = Location(file, yamlload.line_of(ops, op_name) or line)
                operations[iface][op_name] = normalise_operation(
                    op, operations.setdefault(iface, {}).get(op_name), origin)
    operations = {
        iface: {op: {"implementation": d.get("implementation"), "origin": d.get("origin"),
                     "inputs": parse_value(d.get("inputs") or {}, name, Location(file, line, name, "interfaces"))}
                for op, d in ops.items()}
        for iface, ops in operations.items()
    }
    artifacts = {}
    artifact_origins = dict(registry.node_artifact_origins(ntype))
    own_artifacts = spec.get("artifacts") or {}
    for source in (registry.node_artifacts(ntype), own_artifacts):
        if isinstance(source, dict):
            for art_name, art in source.items():
                art = art if isinstance(art, dict) else {"file": art}
                artifacts[art_name] = parse_value(art, name, Location(file, line, name, "artifacts.%s" % art_name))
    if isinstance(own_artifacts, dict):
        artifact_origins.update({a: Location(file, yamlload.line_of(own_artifacts, a) or line) for a in own_artifacts})
    return Node(name, ntype, chain, props, capabilities, requirements, operations, artifacts, line, artifact_origins,
                wants)


def build_topology(tpl: LoadedTemplate, given_inputs: Optional[dict] = None, defer_missing: bool = False,
                   strict: bool = False) -> Topology:
    """The typed topology; notices and warnings go to `tpl.notices`. `strict`: drift is an error."""
    file = tpl.display_name
    notes = Notes(tpl.notices, strict)
    topo = tpl.doc.get("topology_template")
    if topo is None and "topology_template" not in tpl.doc:
        topo = {}
    if not isinstance(topo, dict):
        raise UserInputError("topology_template must be a mapping",
                             Location(file, yamlload.line_of(tpl.doc, "topology_template"), field="topology_template"))
    unknown = set(topo) - TOPOLOGY_KEYS
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise UserInputError("unknown field %s in topology_template" % key, Location(file, yamlload.line_of(topo, key), field=key))
    inputs = build_inputs(tpl, topo, given_inputs or {}, defer_missing, notes)
    raw_nodes = topo.get("node_templates")
    if raw_nodes is None:
        # Catalogue and link entries: a valid template with nothing to deploy compiles to a no-op project.
        notes.notice("the template has no node_templates: nothing to deploy, the project does nothing",
                     Location(file, yamlload.line_of(topo, "node_templates") or yamlload.line_of(tpl.doc, "topology_template")))
        raw_nodes = {}
    if not isinstance(raw_nodes, dict):
        raise UserInputError("node_templates must be a mapping", Location(file, yamlload.line_of(topo, "node_templates"), field="node_templates"))
    nodes = {}
    for name, spec in raw_nodes.items():
        if not isinstance(name, str) or not NODE_NAME_RE.match(name):
            # Names become Ansible group names, task names and Jinja literals: keep them plain.
            raise UserInputError("node template name %r must be 1-63 letters, digits, '_', '-' or '.'" % (name,),
                                 Location(file, yamlload.line_of(raw_nodes, name), str(name)))
        nodes[str(name)] = _build_node(tpl, str(name), spec, raw_nodes, yamlload.line_of(raw_nodes, name), notes)
    outputs = {}
    raw_outputs = topo.get("outputs") or {}
    if not isinstance(raw_outputs, dict):
        raise UserInputError("outputs must be a mapping", Location(file, yamlload.line_of(topo, "outputs"), field="outputs"))
    for name, spec in raw_outputs.items():
        where = Location(file, yamlload.line_of(raw_outputs, name), field="outputs.%s" % name)
        if not isinstance(spec, dict) or "value" not in spec:
            raise UserInputError("output needs a value", where)
        outputs[str(name)] = parse_value(spec["value"], "", where)
    groups = build_groups(tpl, topo, nodes)
    policies = []
    raw_policies = topo.get("policies") or []
    for item in raw_policies if isinstance(raw_policies, list) else []:
        if not isinstance(item, dict) or len(item) != 1:
            raise UserInputError("each policy must be a one-key mapping", Location(file, yamlload.line_of(item), field="policies"))
        pname, pspec = next(iter(item.items()))
        where = Location(file, yamlload.line_of(item, pname), field="policies.%s" % pname)
        if not isinstance(pspec, dict) or not tpl.registry.chain("policy_types", str(pspec.get("type"))):
            raise UserInputError("unknown policy type %r" % (pspec.get("type") if isinstance(pspec, dict) else pspec,), where)
        raw_targets = pspec.get("targets") or []
        for target in raw_targets if isinstance(raw_targets, list) else [raw_targets]:
            if not isinstance(target, str):
                raise UserInputError("a policy target must be the name of a node template or group, not a %s"
                                     % ("mapping" if isinstance(target, dict) else type(target).__name__),
                                     Location(file, where.line, None, "policies.%s.targets" % pname))
        targets = policy_targets(raw_targets, nodes, groups, where)
        ptype = tpl.registry.chain("policy_types", pspec["type"])[0]
        pprops = _check_properties(tpl.registry, tpl.registry.policy_properties(ptype), pspec.get("properties"),
                                   Location(file, yamlload.line_of(pspec, "properties") or where.line, None,
                                            "policies.%s.properties" % pname), ptype, False, notes, drift=True)
        policies.append(Policy(str(pname), ptype, targets, pprops))
    _check_references(tpl, inputs, nodes, outputs)
    return Topology(file, str(tpl.doc.get("description") or "").strip(), inputs, nodes, outputs, policies, tpl.registry,
                    groups)


def _check_references(tpl, inputs, nodes, outputs):
    """Every get_input names a declared input; every function names an existing node."""
    file = tpl.display_name
    keywords = {"SELF", "HOST", "SOURCE", "TARGET"}

    def check(value, where):
        for symbol in walk(value):
            name = getattr(symbol, "name", None) if type(symbol).__name__ == "Input" else None
            if name is not None and name not in inputs:
                raise UserInputError("get_input names undeclared input %s" % name, where)
            node = getattr(symbol, "node", None)
            if node is not None and type(symbol).__name__ != "OperationOutput" and node not in keywords and node not in nodes:
                raise UserInputError("function refers to unknown node %s" % node, where)

    for node in nodes.values():
        where = Location(file, node.line, node.name)
        check(node.properties, dataclasses.replace(where, field="properties"))
        check(node.capabilities, dataclasses.replace(where, field="capabilities"))
        check(node.artifacts, dataclasses.replace(where, field="artifacts"))
        for req in node.requirements:
            check([op["inputs"] for op in req.operations.values()],
                  Location(file, req.line, node.name, "requirements.%s.relationship.interfaces" % req.name))
    for name, value in outputs.items():
        check(value, Location(file, None, None, "outputs.%s" % name))
