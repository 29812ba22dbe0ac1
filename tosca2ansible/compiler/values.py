"""Symbolic TOSCA values: what a property holds before anything runs.

`parse_value` turns function mappings (get_input, get_attribute, ...) into these dataclasses anywhere
inside a value; everything else stays a plain Python value.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tosca2ansible.errors import Location, UserInputError

FUNCTIONS = ("get_input", "get_property", "get_attribute", "concat", "token", "get_artifact",
             "get_operation_output")


@dataclasses.dataclass(frozen=True)
class Input:
    name: str


@dataclasses.dataclass(frozen=True)
class Attribute:
    node: str          # a node template name or SELF / HOST / SOURCE / TARGET
    path: tuple        # attribute name, then capability/index/key steps
    context: str = ""  # the node whose definition holds the function (resolves SELF/HOST)


@dataclasses.dataclass(frozen=True)
class Property:
    node: str
    path: tuple
    context: str = ""


@dataclasses.dataclass(frozen=True)
class Concat:
    parts: tuple


@dataclasses.dataclass(frozen=True)
class Token:
    value: Any
    separator: str
    index: int


@dataclasses.dataclass(frozen=True)
class Artifact:
    node: str
    name: str
    context: str = ""


@dataclasses.dataclass(frozen=True)
class OperationOutput:
    node: str
    interface: str
    operation: str
    output: str


SYMBOLIC = (Input, Attribute, Property, Concat, Token, Artifact, OperationOutput)


def literal(value: Any, inputs: Any = None, default: Any = None) -> Any:
    """A value known before any run: a literal, or the value of a get_input that ``inputs`` gives (or
    defaults). Other symbolic values (get_attribute, an input left for launch time) and "" give ``default``.
    The one rule for the broker's request and for placement policies."""
    if isinstance(value, Input):
        value = (inputs or {}).get(value.name)
    if isinstance(value, (str, int, float, bool)) and not (isinstance(value, str) and value == ""):
        return value
    return default


def is_function(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in FUNCTIONS


def parse_value(value: Any, context: str, where: Location) -> Any:
    """Recursively replace TOSCA function mappings by symbolic values."""
    if isinstance(value, dict):
        if is_function(value):
            name, args = next(iter(value.items()))
            return _parse_function(name, args, context, where)
        return {k: parse_value(v, context, where) for k, v in value.items()}
    if isinstance(value, list):
        return [parse_value(v, context, where) for v in value]
    return value


def _parse_function(name: str, args: Any, context: str, where: Location) -> Any:
    def bad(expected: str):
        return UserInputError("%s expects %s, got %r" % (name, expected, args), where)

    if name == "get_input":
        if isinstance(args, list) and len(args) == 1:
            args = args[0]
        if not isinstance(args, str):
            raise bad("an input name")
        return Input(args)
    if name in ("get_attribute", "get_property"):
        if not isinstance(args, list) or len(args) < 2 or not all(isinstance(a, (str, int)) for a in args):
            raise bad("[node, name, ...]")
        if not isinstance(args[0], str) or not isinstance(args[1], str):
            raise bad("[node, name, ...]")
        cls = Attribute if name == "get_attribute" else Property
        return cls(args[0], tuple(args[1:]), context)
    if name == "concat":
        if not isinstance(args, list):
            raise bad("a list")
        return Concat(tuple(parse_value(a, context, where) for a in args))
    if name == "token":
        if not isinstance(args, list) or len(args) != 3 or not isinstance(args[1], str) \
                or not isinstance(args[2], int) or isinstance(args[2], bool):
            raise bad("[string, separator, index]")
        return Token(parse_value(args[0], context, where), args[1], args[2])
    if name == "get_artifact":
        if not isinstance(args, list) or len(args) < 2 or not all(isinstance(a, str) for a in args[:2]):
            raise bad("[node, artifact, ...]")
        return Artifact(args[0], args[1], context)
    if not isinstance(args, list) or len(args) != 4 or not all(isinstance(a, str) for a in args):
        raise bad("[node, interface, operation, output]")
    return OperationOutput(*args)


def walk(value: Any):
    """Yield every symbolic value inside `value` (depth first)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from walk(item)
    elif isinstance(value, SYMBOLIC):
        yield value
        if isinstance(value, Concat):
            yield from walk(value.parts)
        elif isinstance(value, Token):
            yield from walk(value.value)
