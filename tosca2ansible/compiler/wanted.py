"""The IM dialect: a capability property given as a constraint map is a requirement, not a value.

`num_cpus: {greater_or_equal: 4}`, `mem_size: {in_range: [2 GB, 8 GB]}`, `architecture: {equal: x86_64}`
ask the broker for a range (and leave the site the choice of flavor or image inside it). The model keeps
the constraint as a `Wanted` beside the capability; the capability itself holds the smallest value that
satisfies it (what the instance module sizes for), or nothing when there is no lower bound.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from tosca2ansible.compiler import scalars, yamlload
from tosca2ansible.compiler.checks import Source, check_value
from tosca2ansible.errors import UserInputError

OPERATORS = ("equal", "greater_than", "greater_or_equal", "less_than", "less_or_equal", "in_range", "valid_values")
# property types a constraint map can stand for (a map-typed property holds mappings as values)
SCALAR_TYPES = ("integer", "float", "string", "version", "boolean") + scalars.SCALAR_UNIT_TYPES


def is_constraint_map(value: Any, definition: dict) -> bool:
    return (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in OPERATORS
            and definition.get("type") in SCALAR_TYPES)


@dataclasses.dataclass(frozen=True)
class Wanted:
    operator: str
    bound: Any            # one value, or the list of in_range / valid_values
    ptype: str

    @property
    def bounds(self) -> list:
        return list(self.bound) if isinstance(self.bound, list) else [self.bound]

    def minimum(self) -> Optional[Any]:
        """The smallest value meeting the constraint (None: no lower bound)."""
        if self.operator in ("equal", "greater_or_equal"):
            return self.bound
        if self.operator == "greater_than":
            return self.bound + 1 if self.ptype == "integer" and isinstance(self.bound, int) else self.bound
        if self.operator == "in_range":
            return self.bound[0]
        if self.operator == "valid_values":
            if self.ptype in ("string", "boolean"):
                return self.bounds[0]  # a choice, not a size: the template's first
            try:
                return min(self.bounds, key=lambda v: scalars.comparable(self.ptype, v))
            except (TypeError, ValueError, scalars.IncomparableVersions):
                return self.bounds[0]
        return None

    def maximum(self) -> Optional[Any]:
        """The largest value meeting the constraint (None: no upper bound)."""
        if self.operator in ("equal", "less_or_equal"):
            return self.bound
        if self.operator == "less_than":
            return self.bound - 1 if self.ptype == "integer" and isinstance(self.bound, int) else self.bound
        if self.operator == "in_range":
            return self.bound[1]
        if self.operator == "valid_values":
            try:
                return max(self.bounds, key=lambda v: scalars.comparable(self.ptype, v))
            except (TypeError, ValueError, scalars.IncomparableVersions):
                return None
        return None

    def describe(self) -> str:
        return "%s %s" % (self.operator, scalars.yaml_text(self.bound))


def from_constraint_map(registry, definition, key, given, where, notes, wants) -> Any:
    """A constraint map given for a capability property: a requirement for the broker (kept in `wants`);
    the capability holds its smallest satisfying value, or nothing without a lower bound."""
    operator, bound = next(iter(given.items()))
    bounds = bound if isinstance(bound, list) else [bound]
    if operator in ("in_range", "valid_values") and (not isinstance(bound, list) or not bound
                                                     or (operator == "in_range" and len(bound) != 2)):
        raise UserInputError("%s needs a list%s" % (operator, " of two values" if operator == "in_range" else ""), where)
    texts = Source(where.file, yamlload.line_of(given, operator), operator).text()
    checked = []
    for index, item in enumerate(bounds):
        text = texts[index] if isinstance(texts, list) and len(texts) == len(bounds) else texts
        checked.append(check_value(registry, {"type": definition.get("type")}, item, where, "property %s" % key, notes,
                                   Source(None, None, None, text) if isinstance(text, str) else None))
    want = Wanted(operator, checked if isinstance(bound, list) else checked[0], definition.get("type"))
    wants[key] = want
    if notes is not None:
        notes.notice("property %s: %s is a requirement (IM dialect), not a value: the broker keeps sites that "
                     "meet it and the site picks the flavor/image" % (key, want.describe()), where)
    return want.minimum()
