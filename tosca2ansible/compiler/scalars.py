"""TOSCA scalars as the reference systems read them: versions compared as versions, constraints checked
with messages quoting the template's own text, and the source text of a scalar YAML already typed.

Nothing here runs on the common path: `model.check_value` calls it when tosca-parser's type check
refused a value (leniency) and for constraints, whose results are memoised there.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import re
from typing import Any, Optional

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from toscaparser.elements.scalarunit import get_scalarunit_value

# TOSCA 1.3, 3.3.2: <major>.<minor>[.<fix>[.<qualifier>[-<build>]]] (a bare major is read as major.0)
VERSION_RE = re.compile(r"^(\d+)(?:\.(\d+)(?:\.(\d+)(?:\.([0-9A-Za-z]+)(?:-(\d+))?)?)?)?$")
SCALAR_UNIT_TYPES = ("scalar-unit.size", "scalar-unit.time", "scalar-unit.frequency")


class IncomparableVersions(ValueError):
    """Two versions that differ only in their qualifiers: TOSCA says qualifiers are not compared."""


@functools.total_ordering
@dataclasses.dataclass(frozen=True)
class Version:
    major: int
    minor: int
    fix: int
    qualifier: Optional[str]
    build: int
    text: str = dataclasses.field(compare=False)

    @classmethod
    def parse(cls, value: Any) -> "Version":
        text = str(value).strip()
        match = VERSION_RE.match(text)
        if match is None:
            raise ValueError("%s is not a TOSCA version (major.minor[.fix[.qualifier[-build]]])" % text)
        major, minor, fix, qualifier, build = match.groups()
        return cls(int(major), int(minor or 0), int(fix or 0), qualifier, int(build or 0), text)

    def _release(self) -> tuple:
        return (self.major, self.minor, self.fix)

    def __eq__(self, other):
        if not isinstance(other, Version):
            return NotImplemented
        return (self._release(), self.qualifier, self.build) == (other._release(), other.qualifier, other.build)

    def __hash__(self):
        return hash((self._release(), self.qualifier, self.build))

    def __lt__(self, other):
        if not isinstance(other, Version):
            return NotImplemented
        if self._release() != other._release():
            return self._release() < other._release()
        if self.qualifier == other.qualifier:
            return self.build < other.build
        if self.qualifier is None or other.qualifier is None:
            return other.qualifier is None  # a qualified version is older than the plain release
        raise IncomparableVersions("%s and %s differ only in their qualifiers, which TOSCA does not compare"
                                   % (self.text, other.text))


def yaml_text(value: Any) -> str:
    """How YAML would write a value we have no source text for (never Python's spelling)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return "[%s]" % ", ".join(yaml_text(v) for v in value)
    return str(value)


def yaml_kind(value: Any) -> str:
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (datetime.date, "timestamp")):
        if isinstance(value, kind):
            return "a YAML " + name
    return "null" if value is None else "a YAML " + type(value).__name__


# -- source text ----------------------------------------------------------------------------------
_SOURCES: dict = {}


def _index(path: str) -> dict:
    """{(line of a mapping key, key text): the value's YAML node} for one file, composed on first use."""
    cached = _SOURCES.get(path)
    if cached is None:
        cached = {}
        try:
            with open(path, encoding="utf-8") as handle:
                root = yaml.compose(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            root = None
        stack = [root] if root is not None else []
        while stack:
            node = stack.pop()
            if isinstance(node, MappingNode):
                for key, value in node.value:
                    if isinstance(key, ScalarNode):
                        cached[(key.start_mark.line + 1, key.value)] = value
                    stack.append(value)
            elif isinstance(node, SequenceNode):
                stack.extend(node.value)
        if len(_SOURCES) > 256:
            _SOURCES.clear()
        _SOURCES[path] = cached
    return cached


def _node_text(node) -> Any:
    if isinstance(node, ScalarNode):
        return node.value
    if isinstance(node, SequenceNode):
        return [_node_text(child) for child in node.value]
    return None


_LINES: dict = {}
_NOTHING = object()


def _line_text(path: str, line: int, key: str, expected: Any) -> Optional[str]:
    """Fast path for a plain scalar: the text after `key:` on that line, if it reads back as `expected`."""
    lines = _LINES.get(path)
    if lines is None:
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().split("\n")
        except (OSError, UnicodeDecodeError):
            lines = []
        if len(_LINES) > 256:
            _LINES.clear()
        _LINES[path] = lines
    if not 0 < line <= len(lines):
        return None
    match = re.search(r"(?:^|[{,\s])%s\s*:\s+([^\s,{}\[\]#'\"][^,{}\[\]#]*?)\s*(?:[,}]|\s#|$)" % re.escape(key),
                      lines[line - 1])
    if match is None:
        return None
    try:
        back = yaml.load(match.group(1), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # nosec B506
    except yaml.YAMLError:
        return None
    return match.group(1) if back.__class__ is expected.__class__ and back == expected else None


def source_text(path: Optional[str], line: Optional[int], key: Any, expected: Any = _NOTHING) -> Any:
    """The text written for `key: ...` on `line` of `path` (a list of texts for a sequence), or None.
    With the value YAML gave (`expected`), a plain scalar is read from its line without parsing the file."""
    if not path or not line or not isinstance(key, str):
        return None
    if expected is not _NOTHING and not isinstance(expected, (list, dict)):
        text = _line_text(path, line, key, expected)
        if text is not None:
            return text
    node = _index(path).get((line, key))
    return None if node is None else _node_text(node)


def texts_of(values: list, texts: Any) -> list:
    """Per item: its source text when it lines up, else the YAML spelling."""
    if isinstance(texts, list) and len(texts) == len(values):
        return [t if isinstance(t, str) else yaml_text(v) for v, t in zip(values, texts)]
    return [yaml_text(v) for v in values]


# -- constraints ----------------------------------------------------------------------------------
CONSTRAINT_OPERATORS = ("equal", "greater_than", "greater_or_equal", "less_than", "less_or_equal", "in_range",
                        "valid_values", "length", "min_length", "max_length", "pattern")
_ORDER = {"greater_than": (lambda a, b: a > b, "greater than"),
          "greater_or_equal": (lambda a, b: a >= b, "at least"),
          "less_than": (lambda a, b: a < b, "less than"),
          "less_or_equal": (lambda a, b: a <= b, "at most")}


def comparable(ptype: str, value: Any) -> Any:
    """The value in the form TOSCA compares it: versions as versions, scalar units in their base unit."""
    if ptype == "version":
        return Version.parse(value)
    if ptype in SCALAR_UNIT_TYPES:
        return get_scalarunit_value(ptype, value)
    return value


def violation(ptype: str, constraint: Any, value: Any, value_text: str, texts: Any = None) -> Optional[str]:
    """Why `value` breaks `constraint` (in the template's words), or None. Raises ValueError on a
    constraint that is itself malformed or values that cannot be compared."""
    if not isinstance(constraint, dict) or len(constraint) != 1:
        raise ValueError("a constraint must be a one-key mapping, got %s" % yaml_text(constraint))
    operator, bound = next(iter(constraint.items()))
    if operator in ("length", "min_length", "max_length"):
        size = len(value)
        ok = {"length": size == bound, "min_length": size >= bound, "max_length": size <= bound}[operator]
        return None if ok else "%s has length %d, the constraint wants %s %s" % (value_text, size, operator, bound)
    if operator == "pattern":
        return None if bounded_fullmatch(str(bound), str(value)) else "%s does not match the pattern %s" % (value_text, bound)
    if operator not in CONSTRAINT_OPERATORS:
        raise ValueError("unknown constraint %s" % operator)
    mine = comparable(ptype, value)
    if operator in ("valid_values", "in_range"):
        if not isinstance(bound, list) or (operator == "in_range" and len(bound) != 2):
            raise ValueError("%s needs a list%s" % (operator, " of two values" if operator == "in_range" else ""))
        shown = "[%s]" % ", ".join(texts_of(bound, texts))
        if operator == "valid_values":
            return None if any(mine == comparable(ptype, v) for v in bound) else \
                "%s is not one of the valid values %s" % (value_text, shown)
        low, high = (comparable(ptype, v) for v in bound)
        return None if low <= mine <= high else "%s is outside the range %s" % (value_text, shown)
    shown = texts if isinstance(texts, str) else yaml_text(bound)
    if operator == "equal":
        return None if mine == comparable(ptype, bound) else "%s is not equal to %s" % (value_text, shown)
    check, words = _ORDER[operator]
    return None if check(mine, comparable(ptype, bound)) else "%s is not %s %s" % (value_text, words, shown)


PATTERN_TIMEOUT_S = 1.0


def bounded_fullmatch(pattern: str, value: str):
    """A user's `pattern` constraint matched with the `regex` engine under a time limit: `(a+)+$` cannot
    hang the compiler (the standard `re` cannot be interrupted). ValueError names what went wrong."""
    import regex  # pylint: disable=import-outside-toplevel

    try:
        compiled = regex.compile(pattern)
    except regex.error as exc:
        raise ValueError("invalid pattern %r: %s" % (pattern, exc)) from None
    try:
        return compiled.fullmatch(value, timeout=PATTERN_TIMEOUT_S)
    except TimeoutError:
        raise ValueError("pattern %r takes over %.0f s to match %r; simplify it (nested repetition such as "
                         "(a+)+ backtracks exponentially)" % (pattern, PATTERN_TIMEOUT_S, value)) from None
