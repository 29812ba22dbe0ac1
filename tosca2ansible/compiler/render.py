"""Symbolic values -> Ansible values.

Literals from the template become `Unsafe` strings (serialised as `!unsafe`) so Jinja never evaluates
them; functions become Jinja expressions over top-level input variables, `groups` and `hostvars`
(get_attribute is late-bound: evaluated when the play runs, after provisioning).
"""

from __future__ import annotations

import base64
import dataclasses
import math
import re
from typing import Any, Optional

from tosca2ansible.compiler.artifacts import NODE_DIR, NODE_DIR_VAR, ProjectFile
from tosca2ansible.compiler.model import Topology
from tosca2ansible.compiler.plan import Plan
from tosca2ansible.compiler.values import (SYMBOLIC, Artifact, Attribute, Concat, Input, OperationOutput,
                                           Property, Token, walk)
from tosca2ansible.errors import Location, UserInputError

ADDRESS_VARS = {"private_address": "IM_NODE_PRIVATE_IP", "public_address": "IM_NODE_PUBLIC_IP",
                "ip_address": "IM_NODE_PRIVATE_IP"}
MAX_PROPERTY_DEPTH = 32


class Unsafe(str):
    """Text that must reach the node literally (emitted with the `!unsafe` tag)."""


class Expr(str):
    """Text written by the compiler itself (a Jinja expression we generated): emitted as is."""


@dataclasses.dataclass
class Renderer:
    topology: Topology
    plan: Plan

    # -- public --------------------------------------------------------------------------------
    def value(self, value: Any, context: str = "", on_host: bool = False) -> Any:
        """An Ansible value: literals kept (strings unsafe), functions turned into "{{ ... }}"."""
        if isinstance(value, SYMBOLIC):
            resolved = self._static(value, context, 0)
            if resolved is not _DYNAMIC:
                return self.value(resolved, context, on_host)
            return Expr("{{ %s }}" % self.expr(value, context, on_host))
        if isinstance(value, dict):
            return {str(k): self.value(v, context, on_host) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v, context, on_host) for v in value]
        if isinstance(value, Expr):
            return value
        if isinstance(value, str):
            return Unsafe(value)
        if isinstance(value, ProjectFile):
            return Expr("{{ %s }}" % (node_file(value) if on_host else _project_file(value)))
        return value

    def expr(self, value: Any, context: str = "", on_host: bool = False, depth: int = 0) -> str:
        """A Jinja expression (without braces) computing `value`."""
        if depth > MAX_PROPERTY_DEPTH:
            raise UserInputError("get_property/get_attribute chain too deep (a loop?)",
                                 Location(self.topology.file, node=context or None))
        if isinstance(value, Input):
            definition = self.topology.inputs[value.name]
            return definition.var_name
        if isinstance(value, Concat):
            parts = [self._string_part(p, context, on_host, depth + 1) for p in value.parts]
            return "(" + " ~ ".join(parts or ["''"]) + ")"
        if isinstance(value, Token):
            inner = self._string_part(value.value, context, on_host, depth + 1)
            return "(%s.split(%s)[%d] | default(none))" % (inner, _literal(value.separator), value.index)
        if isinstance(value, Attribute):
            return self._attribute(value, on_host, depth)
        if isinstance(value, (Property, Artifact)):
            resolved = self._static(value, context, depth)
            if resolved is _DYNAMIC:
                return "none"
            return self.expr(resolved, context, on_host, depth + 1)
        if isinstance(value, OperationOutput):
            return "none"
        if isinstance(value, ProjectFile):
            return node_file(value) if on_host else _project_file(value)
        if isinstance(value, dict):
            return "{" + ", ".join("%s: %s" % (_literal(str(k)), self.expr(v, context, on_host, depth + 1))
                                   for k, v in value.items()) + "}"
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(self.expr(v, context, on_host, depth + 1) for v in value) + "]"
        return _literal(value)

    # -- helpers -------------------------------------------------------------------------------
    def _string_part(self, value, context, on_host, depth) -> str:
        if isinstance(value, str):
            return _literal(value)
        return "(%s | string)" % self.expr(value, context, on_host, depth)

    def _node(self, name: str, context: str) -> Optional[str]:
        if name in ("SELF", "SOURCE"):
            return context or None
        if name == "HOST":
            return self.plan.host_of.get(context) or (context if self.plan.compute_of.get(context) == context else None)
        if name == "TARGET":
            return None
        return name

    def _static(self, value: Any, context: str, depth: int) -> Any:
        """Compile-time value of get_property / get_artifact, or _DYNAMIC."""
        if depth > MAX_PROPERTY_DEPTH:
            raise UserInputError("get_property chain too deep (a loop?)", Location(self.topology.file, node=context or None))
        if isinstance(value, Property):
            node_name = self._node(value.node, value.context or context)
            node = self.topology.nodes.get(node_name or "")
            if node is None:
                return None
            found = _lookup(self.topology, node, value.path)
            if isinstance(found, SYMBOLIC):
                inner = self._static(found, node.name, depth + 1)
                return found if inner is _DYNAMIC else inner
            return found
        if isinstance(value, Artifact):
            node = self.topology.nodes.get(self._node(value.node, value.context or context) or "")
            artifact = node.artifacts.get(value.name) if node else None
            return artifact.get("file") if isinstance(artifact, dict) else None
        return _DYNAMIC

    def _attribute(self, value: Attribute, on_host: bool, depth: int) -> str:
        node_name = self._node(value.node, value.context)
        node = self.topology.nodes.get(node_name or "")
        if node is None:
            return "none"
        name, rest = value.path[0], list(value.path[1:])
        compute = self.plan.compute_of.get(node.name)
        if name in ("tosca_id", "tosca_name"):
            return _literal(node.name)
        if compute and name in ADDRESS_VARS:
            var = ADDRESS_VARS[name]
            if on_host and value.node in ("SELF", "HOST") and not rest:
                return "[hostvars[inventory_hostname][%s]]" % _literal(var)
            if on_host and value.node in ("SELF", "HOST") and rest == [0]:
                return "hostvars[inventory_hostname][%s]" % _literal(var)
            base = "(groups[%s] | default([]) | map('extract', hostvars, %s) | list)" % (_literal(compute), _literal(var))
            return _index(base, rest)
        if compute and name == "endpoint" and rest[:1] == ["credential"]:
            host = "(groups[%s] | default([]) | first | default(''))" % _literal(compute)
            cred = ("{'user': hostvars[%s]['ansible_user'] | default('root'), 'token_type': 'private_key', "
                    "'token': indigo_ssh_private_key_file | default('')}" % host)
            return "(%s)" % cred
        if name in node.properties and not isinstance(node.properties[name], Attribute):
            return self.expr(_walk_path(node.properties[name], rest), node.name, on_host, depth + 1)
        if name in node.capabilities and rest:
            found = _walk_path(node.capabilities[name], rest)
            if found is not None:
                return self.expr(found, node.name, on_host, depth + 1)
        base = "(hostvars['localhost']['indigo_attributes'] | default({}))[%s][%s]" % (_literal(node.name), _literal(name))
        return _index(base, rest)


_DYNAMIC = object()


def _project_file(value: ProjectFile) -> str:
    """The project's copy of a file, on the machine running the playbook."""
    return "(playbook_dir ~ %s)" % _literal("/" + value.path)


def node_dir() -> str:
    return "(%s | default(%s))" % (NODE_DIR_VAR, _literal(NODE_DIR))


def node_file(value: ProjectFile) -> str:
    """The copy of a file artifact on the node (put there before the node's operations)."""
    return "(%s ~ %s)" % (node_dir(), _literal("/" + value.in_dir))


def _index(base: str, rest: list) -> str:
    for step in rest:
        base = "%s[%s]" % (base, _literal(step))
    return "(%s | default(none))" % base if rest else base


def _walk_path(value: Any, path: list) -> Any:
    for step in path:
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and isinstance(step, int) and -len(value) <= step < len(value):
            value = value[step]
        else:
            return None
    return value


def _lookup(topology: Topology, node, path: tuple) -> Any:
    """get_property path: a property, a capability property, or through a requirement's target."""
    first, rest = path[0], list(path[1:])
    if first in node.properties:
        return _walk_path(node.properties[first], rest)
    if first in node.capabilities and rest:
        return _walk_path(node.capabilities[first], rest)
    for req in node.requirements:
        if req.name == first and rest:
            target = topology.nodes[req.target]
            if rest[0] in target.capabilities and len(rest) > 1 and rest[1] in target.capabilities[rest[0]]:
                return _walk_path(target.capabilities[rest[0]], rest[1:])
            return _lookup(topology, target, tuple(rest))
    return None


# Text that reads the same as a Jinja string literal in every Ansible context: no quote, backslash, brace,
# `#`, `%`, line break or non-ASCII. (Ansible doubles backslashes in literals inside `{{ }}` but not in
# conditionals, and Jinja turns "\r" into "\n"; no escape means the same in both.)
_SAFE_LITERAL = re.compile(r"[A-Za-z0-9 _./:@,+=*()\[\]<>!?$&;^|~-]*")


def _literal(value: Any) -> str:
    """A Jinja literal for a plain value (never evaluated as a template)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "(%s | float)" % _literal(repr(value))  # 'inf', '-inf', 'nan'
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        if _SAFE_LITERAL.fullmatch(value):
            return "'" + value + "'"
        # Any other text travels base64-encoded: its letters cannot be misread by YAML, Ansible or Jinja.
        return "('%s' | b64decode)" % base64.b64encode(value.encode("utf-8")).decode("ascii")
    if isinstance(value, dict):
        return "{" + ", ".join("%s: %s" % (_literal(str(k)), _literal(v)) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return _literal(str(value))


literal = _literal
