"""Typed model of one topology, validated against its type registry in linear time.

Every value is checked with tosca-parser's own datatype and constraint code (per value, no graph), and
every exception it raises is turned into a UserInputError naming file, line, node and field.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Optional

from toscaparser.common.exception import ExceptionCollector
from toscaparser.dataentity import DataEntity
from toscaparser.elements.constraints import Constraint

from tosca2ansible.compiler import placement, yamlload
from tosca2ansible.compiler.loader import LoadedTemplate
from tosca2ansible.compiler.types import CONFIGURE_OPERATIONS, TypeRegistry, normalise_operation
from tosca2ansible.compiler.values import SYMBOLIC, Artifact, Attribute, Concat, Property, Token, parse_value, walk
from tosca2ansible.errors import Location, UserInputError

MISSING = object()
SECRET_WORDS = ("password", "passwd", "secret", "token", "credential", "_key")


def is_secret_input(name: str) -> bool:
    """Inputs whose name says they are secret never get their value written into the project."""
    return any(word in name.lower() for word in SECRET_WORDS)
NODE_KEYS = {"type", "properties", "capabilities", "requirements", "interfaces", "artifacts", "description",
             "metadata", "directives", "attributes", "copy", "node_filter"}
TOPOLOGY_KEYS = {"description", "inputs", "node_templates", "relationship_templates", "outputs", "groups",
                 "policies", "substitution_mappings", "workflows"}
NODE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
REQUIREMENT_KEYS = {"node", "capability", "relationship", "occurrences", "node_filter"}


@dataclasses.dataclass
class InputDef:
    name: str
    var_name: str
    type: str
    description: str = ""
    default: Any = MISSING
    required: bool = True
    constraints: list = dataclasses.field(default_factory=list)
    entry_schema: Any = None
    value: Any = MISSING          # default or the value given at compile time
    line: Optional[int] = None


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


def _tosca_check(func, where: Location, what: str):
    """Run tosca-parser validation code; any exception (also raw TypeError & co) -> UserInputError."""
    ExceptionCollector.stop()
    try:
        return func()
    except UserInputError:
        raise
    except (Exception, RecursionError) as exc:  # pylint: disable=broad-except
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise UserInputError("%s: %s" % (what, message.strip()), where) from None


# Scalars that cannot hold a TOSCA function, and the property types whose check of such a scalar
# depends on nothing but the type, the value and the constraints (so a success can be remembered).
_PLAIN_SCALARS = frozenset((str, int, float, bool))
_SCALAR_TYPES = frozenset(("string", "integer", "float", "number", "boolean", "timestamp", "version",
                           "scalar-unit.size", "scalar-unit.frequency", "scalar-unit.time"))
_CHECKED: dict = {}
_CHECKED_MAX = 50_000


def check_value(registry: TypeRegistry, definition: dict, value: Any, where: Location, what: str) -> Any:
    """Validate a literal value against a property/input definition (symbolic values pass)."""
    plain = value.__class__ in _PLAIN_SCALARS
    if not plain and (any(True for _ in walk(value)) or isinstance(value, SYMBOLIC)):
        return value
    ptype = definition.get("type")
    if not isinstance(ptype, str):
        raise UserInputError("%s has no valid type" % what, where)
    constraints = definition.get("constraints") or []
    key = (ptype, value.__class__, value, repr(constraints)) if plain and ptype in _SCALAR_TYPES else None
    if key is not None and key in _CHECKED:
        return _CHECKED[key]
    checked = _tosca_check(
        lambda: DataEntity.validate_datatype(ptype, value, definition.get("entry_schema"),
                                             registry.data_types_flat, what),
        where, what)
    for constraint in constraints:
        _tosca_check(lambda c=constraint: Constraint(what, ptype, c).validate(value), where, what)
    if key is not None:
        if len(_CHECKED) >= _CHECKED_MAX:
            _CHECKED.clear()
        _CHECKED[key] = checked
    return checked


def var_name_for(name: str, taken: set) -> str:
    base = "input_" + (re.sub(r"[^a-z0-9_]", "_", name.lower()) or "x")
    candidate, suffix = base, 2
    while candidate in taken:
        candidate, suffix = "%s_%d" % (base, suffix), suffix + 1
    taken.add(candidate)
    return candidate


def build_inputs(tpl: LoadedTemplate, topo: dict, given: dict, defer_missing: bool) -> dict:
    raw_inputs = topo.get("inputs") or {}
    file = tpl.display_name
    if not isinstance(raw_inputs, dict):
        raise UserInputError("inputs must be a mapping", Location(file, yamlload.line_of(topo, "inputs")))
    inputs, taken = {}, set()
    for name, spec in raw_inputs.items():
        where = Location(file, yamlload.line_of(raw_inputs, name), field="inputs.%s" % name)
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise UserInputError("input needs a mapping with a type", where)
        definition = InputDef(
            name=str(name), var_name=var_name_for(str(name), taken), type=spec["type"],
            description=str(spec.get("description") or "").strip(),
            default=spec.get("default", MISSING), required=spec.get("required", True) is not False,
            constraints=list(spec.get("constraints") or []), entry_schema=spec.get("entry_schema"),
            line=where.line,
        )
        if definition.default is not MISSING and definition.default is not None:
            check_value(tpl.registry, spec, definition.default, where, "default of input %s" % name)
            definition.value = definition.default
        inputs[str(name)] = definition
    for name, value in (given or {}).items():
        if name not in inputs:
            raise UserInputError("unknown input %r (the template declares: %s)" % (name, ", ".join(sorted(inputs)) or "none"),
                                 Location(file, field="inputs.%s" % name))
        definition = inputs[name]
        spec = raw_inputs[name]
        value = coerce_cli_value(definition.type, value)
        where = Location(file, definition.line, field="inputs.%s" % name)
        definition.value = check_value(tpl.registry, spec, value, where, "input %s" % name)
        if definition.type != "string" or not isinstance(value, str):
            definition.value = value
    for definition in inputs.values():
        if definition.value is MISSING and definition.required and not defer_missing:
            raise UserInputError("required input %s has no default and no value was given (use -i %s=VALUE)"
                                 % (definition.name, definition.name),
                                 Location(file, definition.line, field="inputs.%s" % definition.name))
    return inputs


class CliText(str):
    """Text typed on the command line: parsed as YAML only when the input is not a string."""


def coerce_cli_value(input_type: str, value: Any) -> Any:
    if isinstance(value, CliText) and input_type not in ("string", "scalar-unit.size", "scalar-unit.time",
                                                         "scalar-unit.frequency", "version"):
        try:
            return yamlload.plain(yamlload.load_yaml_text(str(value), "-i"))
        except UserInputError:
            return str(value)
    return str(value) if isinstance(value, CliText) else value


def _check_properties(registry, defs: dict, given: Any, where: Location, owner: str, required_check: bool) -> dict:
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise UserInputError("properties must be a mapping", where)
    result = {}
    for key, value in given.items():
        field_where = Location(where.file, yamlload.line_of(given, key) or where.line, where.node,
                               (where.field + "." if where.field else "") + str(key))
        if key not in defs:
            raise UserInputError("unknown property %s (%s defines: %s)" % (key, owner, ", ".join(sorted(defs)) or "none"),
                                 field_where)
        parsed = parse_value(value, where.node or "", field_where)
        definition = defs[key] if isinstance(defs[key], dict) else {}
        if value is not None:
            check_value(registry, definition, parsed, field_where, "property %s" % key)
        result[key] = parsed
    for key, definition in defs.items():
        if key in result or not isinstance(definition, dict):
            continue
        if "default" in definition:
            result[key] = parse_value(definition["default"], where.node or "", where)
        elif required_check and definition.get("required", True) is not False:
            raise UserInputError("missing required property %s of %s" % (key, owner),
                                 dataclasses.replace(where, field=(where.field + "." if where.field else "") + key))
    return result


def _build_requirements(tpl, name, spec, known_nodes, where) -> list:
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
            raise UserInputError("unknown requirement %s (type %s defines: %s)" % (req_name, spec["type"], ", ".join(sorted(defs)) or "none"), rwhere)
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
            raise UserInputError("requirement %s needs a target node" % req_name, rwhere)
        if target not in known_nodes:
            raise UserInputError("requirement %s points at %s, which is not a node template of this topology"
                                 % (req_name, target), rwhere)
        operations = _relationship_operations(tpl, rel_type, rel_interfaces, rel_props, name, target, rwhere)
        reqs.append(Requirement(req_name, target, rel_type, rel_props, line, operations))
    return reqs


def _relationship_operations(tpl, rel_type, interfaces, rel_props, source, target, where) -> dict:
    """The relationship's Configure operations (type, then template), inputs bound to its ends."""
    merged = dict(tpl.registry.relationship_operations(rel_type)) if rel_type else {}
    for ops in (interfaces or {}).values() if isinstance(interfaces, dict) else ():
        if isinstance(ops, dict):
            for op_name, op in ops.items():
                if op_name in CONFIGURE_OPERATIONS:
                    origin = Location(where.file, yamlload.line_of(ops, op_name) or where.line)
                    merged[op_name] = normalise_operation(op, merged.get(op_name), origin)
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


def _build_node(tpl: LoadedTemplate, name: str, spec: Any, known_nodes, line) -> Node:
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
                              ntype, True)
    capabilities = {}
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
        capabilities[cap_name] = _check_properties(registry, cap_props, cap_given.get("properties"), cwhere,
                                                   "capability %s (%s)" % (cap_name, cap_type), False)
    for cap_name in given_caps:
        if cap_name not in cap_defs:
            raise UserInputError("unknown capability %s (type %s defines: %s)" % (cap_name, ntype, ", ".join(sorted(cap_defs))),
                                 Location(file, yamlload.line_of(given_caps, cap_name), name, "capabilities.%s" % cap_name))
    requirements = _build_requirements(tpl, name, spec, known_nodes, where)
    operations = {iface: dict(ops) for iface, ops in registry.node_operations(ntype).items()}
    for iface, ops in (spec.get("interfaces") or {}).items():
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
    return Node(name, ntype, chain, props, capabilities, requirements, operations, artifacts, line, artifact_origins)


def build_topology(tpl: LoadedTemplate, given_inputs: Optional[dict] = None, defer_missing: bool = False) -> Topology:
    file = tpl.display_name
    topo = tpl.doc.get("topology_template")
    if not isinstance(topo, dict):
        raise UserInputError("the template has no topology_template mapping",
                             Location(file, yamlload.line_of(tpl.doc, "topology_template"), field="topology_template"))
    unknown = set(topo) - TOPOLOGY_KEYS
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise UserInputError("unknown field %s in topology_template" % key, Location(file, yamlload.line_of(topo, key), field=key))
    inputs = build_inputs(tpl, topo, given_inputs or {}, defer_missing)
    raw_nodes = topo.get("node_templates")
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        raise UserInputError("topology_template needs node_templates", Location(file, yamlload.line_of(topo, "node_templates"), field="node_templates"))
    nodes = {}
    for name, spec in raw_nodes.items():
        if not isinstance(name, str) or not NODE_NAME_RE.match(name):
            # Names become Ansible group names, task names and Jinja literals: keep them plain.
            raise UserInputError("node template name %r must be 1-63 letters, digits, '_', '-' or '.'" % (name,),
                                 Location(file, yamlload.line_of(raw_nodes, name), str(name)))
        nodes[str(name)] = _build_node(tpl, str(name), spec, raw_nodes, yamlload.line_of(raw_nodes, name))
    outputs = {}
    raw_outputs = topo.get("outputs") or {}
    if not isinstance(raw_outputs, dict):
        raise UserInputError("outputs must be a mapping", Location(file, yamlload.line_of(topo, "outputs"), field="outputs"))
    for name, spec in raw_outputs.items():
        where = Location(file, yamlload.line_of(raw_outputs, name), field="outputs.%s" % name)
        if not isinstance(spec, dict) or "value" not in spec:
            raise UserInputError("output needs a value", where)
        outputs[str(name)] = parse_value(spec["value"], "", where)
    policies = []
    raw_policies = topo.get("policies") or []
    for item in raw_policies if isinstance(raw_policies, list) else []:
        if not isinstance(item, dict) or len(item) != 1:
            raise UserInputError("each policy must be a one-key mapping", Location(file, yamlload.line_of(item), field="policies"))
        pname, pspec = next(iter(item.items()))
        where = Location(file, yamlload.line_of(item, pname), field="policies.%s" % pname)
        if not isinstance(pspec, dict) or not tpl.registry.chain("policy_types", str(pspec.get("type"))):
            raise UserInputError("unknown policy type %r" % (pspec.get("type") if isinstance(pspec, dict) else pspec,), where)
        targets = placement.policy_targets(pspec.get("targets") or [], topo.get("groups"), nodes, where)
        ptype = tpl.registry.chain("policy_types", pspec["type"])[0]
        pprops = _check_properties(tpl.registry, tpl.registry.policy_properties(ptype), pspec.get("properties"),
                                   Location(file, where.line, None, "policies.%s.properties" % pname), ptype, False)
        policies.append(Policy(str(pname), ptype, targets, pprops))
    _check_references(tpl, inputs, nodes, outputs)
    return Topology(file, str(tpl.doc.get("description") or "").strip(), inputs, nodes, outputs, policies, tpl.registry)


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
