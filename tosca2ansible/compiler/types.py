"""The type library of one template: TOSCA normative types (from tosca-parser) plus imported files.

A registry is built once per distinct set of type files and memoised for the process, so a corpus of
templates importing the same 100 KB custom_types.yaml reads and merges it once. Every lookup that
walks `derived_from` is cached on the registry.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

from toscaparser.elements.entity_type import EntityType

from tosca2ansible.compiler import yamlload
from tosca2ansible.errors import Location, UserInputError

SECTIONS = (
    "node_types", "data_types", "capability_types", "relationship_types", "artifact_types",
    "policy_types", "interface_types", "group_types",
)
# Roots of each type family in the normative definitions shipped with tosca-parser.
_FAMILY_PREFIX = {
    "node_types": "tosca.nodes.", "data_types": "tosca.datatypes.",
    "capability_types": "tosca.capabilities.", "relationship_types": "tosca.relationships.",
    "artifact_types": "tosca.artifacts.", "policy_types": "tosca.policies.",
    "interface_types": "tosca.interfaces.", "group_types": "tosca.groups.",
}
HOSTED_ON = "tosca.relationships.HostedOn"
ATTACHES_TO = "tosca.relationships.AttachesTo"
CONNECTS_TO = "tosca.relationships.ConnectsTo"
DEPENDS_ON = "tosca.relationships.DependsOn"
COMPUTE = "tosca.nodes.Compute"
# tosca.interfaces.relationship.Configure, in the order TOSCA's workflow runs them
CONFIGURE_OPERATIONS = ("pre_configure_source", "pre_configure_target", "post_configure_source",
                        "post_configure_target", "add_target", "add_source", "target_changed", "remove_target",
                        "remove_source")


def merge_configure_operations(merged: dict, interfaces: Any, origin_of) -> dict:
    """Merge the Configure operations of ``interfaces`` over ``merged`` (later wins per operation), for a
    relationship type and then a template alike. The operation name decides, whatever the interface is
    called (INDIGO templates also use `Standard`); ``origin_of(ops, op_name)`` gives its Location."""
    for ops in interfaces.values() if isinstance(interfaces, dict) else ():
        if isinstance(ops, dict):
            for op_name, op in ops.items():
                if op_name in CONFIGURE_OPERATIONS:
                    merged[op_name] = normalise_operation(op, merged.get(op_name), origin_of(ops, op_name))
    return merged


def _normative_sections() -> dict:
    sections: dict = {name: {} for name in SECTIONS}
    for type_name, definition in EntityType.TOSCA_DEF.items():
        for section, prefix in _FAMILY_PREFIX.items():
            if type_name.startswith(prefix):
                sections[section][type_name] = definition
                break
    # Interface types are keyed by their short names in the normative file too.
    return sections


_NORMATIVE = _normative_sections()


class TypeRegistry:
    """Merged definitions (normative first, then each imported file in order)."""

    def __init__(self, files: list):
        """`files` is a list of (display_name, sections dict, {type_name: line})."""
        self.sections = {name: dict(_NORMATIVE[name]) for name in SECTIONS}
        self.origin: dict = {}
        for display_name, sections, lines in files:
            for section in SECTIONS:
                for type_name, definition in (sections.get(section) or {}).items():
                    if not isinstance(definition, dict):
                        raise UserInputError(
                            "type definition must be a mapping",
                            Location(file=display_name, line=lines.get(type_name), field=str(type_name)),
                        )
                    self.sections[section][type_name] = definition
                    self.origin[type_name] = Location(file=display_name, line=lines.get(type_name))
        self.data_types_flat = {}
        for section in SECTIONS:
            self.data_types_flat.update(self.sections[section])

    # -- basic lookups -------------------------------------------------------------------------
    def get(self, section: str, type_name: str) -> Optional[dict]:
        return self.sections[section].get(type_name)

    def canonical(self, section: str, type_name: str) -> str:
        """Accept the short normative names tosca-parser accepts (`AttachesTo`, `Compute`)."""
        if type_name in self.sections[section]:
            return type_name
        long_name = _FAMILY_PREFIX[section] + type_name
        return long_name if long_name in self.sections[section] else type_name

    @functools.lru_cache(maxsize=None)
    def chain(self, section: str, type_name: str) -> tuple:
        """Type names from `type_name` up to its root; raises on unknown parents and loops."""
        names: list = []
        current: Optional[str] = self.canonical(section, type_name)
        while current:
            if current in names:
                raise UserInputError("type derivation loop: %s" % " -> ".join(names + [current]),
                                     self.origin.get(type_name))
            definition = self.sections[section].get(current)
            if definition is None:
                if names:
                    raise UserInputError(
                        "type %s derives from unknown type %s" % (names[-1], current),
                        self.origin.get(names[-1]),
                    )
                return ()
            names.append(current)
            parent = definition.get("derived_from")
            current = self.canonical(section, parent) if isinstance(parent, str) else None
        return tuple(names)

    def is_a(self, section: str, type_name: str, ancestor: str) -> bool:
        return ancestor in self.chain(section, type_name)

    def _merged(self, section: str, type_name: str, key: str) -> dict:
        merged: dict = {}
        for name in reversed(self.chain(section, type_name)):
            block = self.sections[section][name].get(key)
            if isinstance(block, dict):
                merged.update(block)
        return merged

    # -- node types ----------------------------------------------------------------------------
    @functools.lru_cache(maxsize=None)
    def node_properties(self, type_name: str) -> dict:
        return self._merged("node_types", type_name, "properties")

    @functools.lru_cache(maxsize=None)
    def node_attributes(self, type_name: str) -> dict:
        return self._merged("node_types", type_name, "attributes")

    @functools.lru_cache(maxsize=None)
    def node_capabilities(self, type_name: str) -> dict:
        merged = {}
        for name, definition in self._merged("node_types", type_name, "capabilities").items():
            merged[name] = definition if isinstance(definition, dict) else {"type": definition}
        return merged

    @functools.lru_cache(maxsize=None)
    def node_artifacts(self, type_name: str) -> dict:
        return self._merged("node_types", type_name, "artifacts")

    @functools.lru_cache(maxsize=None)
    def node_requirements(self, type_name: str) -> dict:
        """Requirement definitions by name, the most derived definition winning."""
        merged: dict = {}
        for name in reversed(self.chain("node_types", type_name)):
            for item in self.sections["node_types"][name].get("requirements") or []:
                if isinstance(item, dict):
                    for req_name, definition in item.items():
                        merged[req_name] = definition if isinstance(definition, dict) else {"node": definition}
        return merged

    @functools.lru_cache(maxsize=None)
    def node_operations(self, type_name: str) -> dict:
        """{interface: {operation: {implementation, inputs}}} merged up the chain (child wins per op)."""
        merged: dict = {}
        for name in reversed(self.chain("node_types", type_name)):
            for iface, ops in (self.sections["node_types"][name].get("interfaces") or {}).items():
                if not isinstance(ops, dict):
                    continue
                target = merged.setdefault(iface, {})
                for op_name, op in ops.items():
                    if op_name in ("type", "inputs"):
                        continue
                    target[op_name] = normalise_operation(op, target.get(op_name), self._origin_of(name, ops, op_name))
        return {k: v for k, v in merged.items() if v}

    def _origin_of(self, type_name: str, block: dict, key: str) -> Optional[Location]:
        """File and line of `key` inside a type's definition (the type's line when unknown)."""
        origin = self.origin.get(type_name)
        if origin is None:
            return None
        return Location(file=origin.file, line=yamlload.line_of(block, key) or origin.line)

    @functools.lru_cache(maxsize=None)
    def node_artifact_origins(self, type_name: str) -> dict:
        """Where each inherited artifact is defined (relative files resolve against that file)."""
        origins: dict = {}
        for name in reversed(self.chain("node_types", type_name)):
            block = self.sections["node_types"][name].get("artifacts")
            if isinstance(block, dict):
                origins.update({art: self._origin_of(name, block, art) for art in block})
        return origins

    @functools.lru_cache(maxsize=None)
    def relationship_operations(self, rel_type: str) -> dict:
        """{operation: {implementation, inputs, origin}} of the Configure operations up the chain."""
        merged: dict = {}
        for name in reversed(self.chain("relationship_types", rel_type)):
            merge_configure_operations(merged, self.sections["relationship_types"][name].get("interfaces"),
                                       functools.partial(self._origin_of, name))
        return merged

    @functools.lru_cache(maxsize=None)
    def capability_properties(self, cap_type: str) -> dict:
        return self._merged("capability_types", cap_type, "properties")

    @functools.lru_cache(maxsize=None)
    def relationship_properties(self, rel_type: str) -> dict:
        return self._merged("relationship_types", rel_type, "properties")

    @functools.lru_cache(maxsize=None)
    def policy_properties(self, policy_type: str) -> dict:
        return self._merged("policy_types", policy_type, "properties")

    def relationship_of(self, type_name: str, req_name: str) -> Optional[str]:
        definition = self.node_requirements(type_name).get(req_name) or {}
        rel = definition.get("relationship")
        if isinstance(rel, dict):
            rel = rel.get("type")
        return rel if isinstance(rel, str) else None


def normalise_operation(op: Any, inherited: Optional[dict], origin: Optional[Location] = None) -> dict:
    base = dict(inherited or {"implementation": None, "inputs": {}, "origin": None})
    if isinstance(op, str):
        base["implementation"] = op
        base["origin"] = origin
    elif isinstance(op, dict):
        impl = op.get("implementation")
        if isinstance(impl, dict):
            impl = impl.get("primary")
        if impl is not None:
            base["implementation"] = impl
            base["origin"] = origin
        if isinstance(op.get("inputs"), dict):
            base["inputs"] = {**base.get("inputs", {}), **op["inputs"]}
    return base


_REGISTRY_CACHE: dict = {}


def registry_for(files: list, cache_key: tuple) -> TypeRegistry:
    """Memoised per distinct set of type files (keyed by path, mtime and size)."""
    registry = _REGISTRY_CACHE.get(cache_key)
    if registry is None:
        registry = TypeRegistry(files)
        _REGISTRY_CACHE[cache_key] = registry
    return registry
