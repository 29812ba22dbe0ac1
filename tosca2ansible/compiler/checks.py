"""Checking one value against its TOSCA definition, with the leniency the reference systems had.

tosca-parser's datatype code checks the type. Where it refuses what the INDIGO orchestrator and the IM
accepted for years (an integer for a float, any YAML scalar for a string, a YAML number for a version)
the value is converted to the declared type with a notice naming file:line and quoting the template's
text. Constraints are checked here (tosca-parser compares versions as strings and scalar units in
bytes); a violation is a `ConstraintError` whose message quotes the template's text.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
from typing import Any, Optional

from toscaparser.common.exception import ExceptionCollector
from toscaparser.dataentity import DataEntity
from toscaparser.elements import constraints as constraints_module

from tosca2ansible.compiler import scalars, yamlload
from tosca2ansible.compiler.values import SYMBOLIC, walk
from tosca2ansible.errors import Location, UserInputError


class _BoundedPattern(constraints_module.Pattern):
    """tosca-parser's `pattern` constraint (data type fields checked by tosca-parser), matched under a
    time limit like the compiler's own checks (scalars.bounded_fullmatch)."""

    def __init__(self, property_name, property_type, constraint):  # pylint: disable=super-init-not-called
        constraints_module.Constraint.__init__(self, property_name, property_type, constraint)
        if not isinstance(self.constraint_value, str):
            raise ValueError('The property "pattern" expects a string.')
        scalars.bounded_fullmatch(self.constraint_value, "")  # an invalid pattern is refused here

    def _is_valid(self, value):
        return scalars.bounded_fullmatch(self.constraint_value, value) is not None


constraints_module.constraint_mapping[constraints_module.Constraint.PATTERN] = _BoundedPattern


class ConstraintError(UserInputError):
    """A well-typed value outside its constraints."""


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a value was written: `key: value` on `line` of `file` (for its text)."""

    file: Optional[str]
    line: Optional[int]
    key: Any
    known: Any = None  # the text, when the caller has it already

    def text(self, expected: Any = None) -> Any:
        """The source text; `expected` (the value YAML gave, when known) allows reading just its line."""
        if self.known is not None:
            return self.known
        if expected is None:
            return scalars.source_text(self.file, self.line, self.key)
        return scalars.source_text(self.file, self.line, self.key, expected)


class Notes:
    """Notices and warnings of one compile, in order, each said once. Drift (a name the types do not
    declare, which the reference systems ignored) is a warning, or an error under --strict."""

    def __init__(self, sink: Optional[list] = None, strict: bool = False):
        self.lines = sink if sink is not None else []
        self.strict = strict

    def _add(self, line: str) -> None:
        if line not in self.lines:
            self.lines.append(line)

    def notice(self, message: str, where: Location) -> None:
        self._add("notice: %s: %s" % (where, message))

    def warning(self, message: str, where: Location) -> None:
        self._add("warning: %s: %s" % (where, message))

    def drift(self, message: str, where: Location, outcome: str = "ignored") -> None:
        if self.strict:
            raise UserInputError("%s (--strict)" % message, where)
        self.warning("%s: %s (--strict makes this an error)" % (message, outcome), where)


_PLAIN_SCALARS = frozenset((str, int, float, bool))
# Property types whose check of a plain scalar depends on nothing but type, value and constraints.
_SCALAR_TYPES = frozenset(("string", "integer", "float", "number", "boolean", "timestamp", "version",
                           "scalar-unit.size", "scalar-unit.frequency", "scalar-unit.time"))
_YAML_SCALARS = (bool, int, float, datetime.date)
_CHECKED: set = set()
_CHECKED_MAX = 50_000


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


def _shown(value: Any, source: Optional[Source]) -> str:
    text = source.text(value) if source is not None else None
    return text if isinstance(text, str) else scalars.yaml_text(value)


def _lenient(ptype: str, value: Any, refused: UserInputError, where: Location, what: str, notes: Optional[Notes],
             source: Optional[Source]) -> Any:
    """The value converted to `ptype` as the reference systems read it, with a notice; else `refused`."""
    text = _shown(value, source)
    if ptype == "float" and value.__class__ is int:
        converted, said = float(value), "read as %r" % float(value)
    elif ptype == "string" and isinstance(value, _YAML_SCALARS):
        converted, said = text, "read as the string '%s'" % text
    elif ptype == "version" and value.__class__ in (int, float):
        try:
            scalars.Version.parse(text)
        except ValueError as exc:
            raise UserInputError("%s: %s" % (what, exc), where) from None
        converted, said = text, "read as the version %s" % text
    else:
        raise refused
    if notes is not None:
        notes.notice("%s: %s is %s where %s %s is declared; %s"
                     % (what, text, scalars.yaml_kind(value), "an" if ptype[0] in "aeiou" else "a", ptype, said), where)
    return converted


def normalise_constraints(ptype: str, constraints: list, file: Optional[str], where: Location, what: str,
                          notes: Optional[Notes]) -> list:
    """String and version constraints whose bounds YAML typed (`valid_values: [no, yes]`, `[18.04, 20.04]`)
    rewritten with the template's text, with a notice; other constraints unchanged."""
    if ptype not in ("string", "version"):
        return constraints
    result = []
    for item in constraints:
        if not isinstance(item, dict) or len(item) != 1:
            result.append(item)
            continue
        operator, bound = next(iter(item.items()))
        items = bound if isinstance(bound, list) else [bound]
        if not any(isinstance(v, _YAML_SCALARS) for v in items):
            result.append(item)
            continue
        line = yamlload.line_of(item, operator)
        texts = scalars.source_text(file, line, operator)
        shown = scalars.texts_of(items, texts if isinstance(bound, list) else [texts])
        converted = shown if isinstance(bound, list) else shown[0]
        where = dataclasses.replace(where, line=line or where.line, field="%s.constraints" % where.field)
        if notes is not None:
            notes.notice("%s: %s %s holds YAML %s where %s is declared; read as text %s"
                         % (what, operator, scalars.yaml_text(bound) if texts is None else "[%s]" % ", ".join(shown),
                            "booleans/numbers", ptype, ", ".join("'%s'" % s for s in shown)), where)
        result.append({operator: converted})
    return result


def check_constraints(ptype: str, constraints: list, value: Any, where: Location, what: str,
                      source: Optional[Source] = None, file: Optional[str] = None) -> None:
    """`file`: where the constraints were written (their texts for the message), when known."""
    for item in constraints:
        try:
            problem = scalars.violation(ptype, item, value, scalars.yaml_text(value))
            if problem:  # say it again in the template's words (the file is read only now)
                operator = next(iter(item))
                texts = scalars.source_text(file, yamlload.line_of(item, operator), operator) if file else None
                problem = scalars.violation(ptype, item, value, _shown(value, source), texts)
        except (ValueError, TypeError) as exc:
            raise UserInputError("%s: %s" % (what, exc), where) from None
        if problem:
            raise ConstraintError("%s: %s" % (what, problem), where)


def check_value(registry, definition: dict, value: Any, where: Location, what: str, notes: Optional[Notes] = None,
                source: Optional[Source] = None, constraints_file: Optional[str] = None) -> Any:
    """Validate a literal value against a property/input definition (symbolic values pass). Returns the
    value as given, or converted to the declared type (with a notice) where the reference systems did.
    `source`: where the value was written; `constraints_file`: where the definition's constraints were."""
    plain = value.__class__ in _PLAIN_SCALARS
    if not plain and (any(True for _ in walk(value)) or isinstance(value, SYMBOLIC)):
        return value
    ptype = definition.get("type")
    if not isinstance(ptype, str):
        raise UserInputError("%s has no valid type" % what, where)
    constraints = definition.get("constraints") or []
    key = (ptype, value.__class__, value, repr(constraints)) if plain and ptype in _SCALAR_TYPES else None
    if key is not None and key in _CHECKED:
        return value
    checked = value
    try:
        if ptype == "version" and value.__class__ in (int, float):
            # tosca-parser takes str(20.10) == "20.1": the version is the text the template wrote
            raise UserInputError("%s: a YAML number is not a version" % what, where)
        _tosca_check(lambda: DataEntity.validate_datatype(ptype, value, definition.get("entry_schema"),
                                                          registry.data_types_flat, what), where, what)
    except UserInputError as refused:
        checked = _lenient(ptype, value, refused, where, what, notes, source)
    if constraints:
        check_constraints(ptype, normalise_constraints(ptype, constraints, constraints_file, where, what, None),
                          checked, where, what, source, constraints_file)
    if key is not None and checked is value:
        if len(_CHECKED) >= _CHECKED_MAX:
            _CHECKED.clear()
        _CHECKED.add(key)
    return checked


def did_you_mean(key: Any, defs: dict) -> str:
    """`, did you mean X?` for the declared name closest to `key`, or nothing."""
    close = difflib.get_close_matches(str(key), [str(name) for name in defs], n=1, cutoff=0.6)
    return ", did you mean %s?" % close[0] if close else ""


def add_derived_properties(registry, cap_type: Any, defs: dict, given: Any, where: Location, notes: Notes) -> None:
    """A capability property the declared type lacks but a type derived from it declares (`image` on a plain
    `tosca.nodes.Compute`'s os, which INDIGO's OperatingSystem declares; the IM reads it on any os): read
    with that definition, with a notice naming the type."""
    if not isinstance(given, dict) or not isinstance(cap_type, str) or notes is None:
        return
    for key in given:
        if key in defs:
            continue
        for name in sorted(registry.sections.get("capability_types", {})):
            if name != cap_type and registry.is_a("capability_types", name, cap_type):
                definition = registry.capability_properties(name).get(key)
                if isinstance(definition, dict):
                    defs[key] = definition
                    field = Location(where.file, yamlload.line_of(given, key) or where.line, where.node,
                                     "%s.%s" % (where.field, key))
                    notes.notice("property %s is not declared by %s but by %s, derived from it: read with that "
                                  "definition" % (key, cap_type, name), field)
                    break
