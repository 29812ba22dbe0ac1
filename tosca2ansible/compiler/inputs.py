"""The inputs of a topology: their definitions, the values given at compile time (checked with the
type's datatype and constraint code), the secrets rule by name and declaration, and command-line text.
Moved out of ``model.py`` (which re-exports these names) unchanged.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Optional

from tosca2ansible.compiler import yamlload
from tosca2ansible.compiler.checks import ConstraintError, Notes, Source, check_value, normalise_constraints
from tosca2ansible.compiler.loader import LoadedTemplate
from tosca2ansible.compiler.types import TypeRegistry
from tosca2ansible.collection import secrets_rule
from tosca2ansible.errors import Location, UserInputError

_SECRETS = secrets_rule()

MISSING = object()


def is_secret_input(name: str) -> bool:
    """Whether an input's name says it is secret (the one rule, collection module_utils/secrets.py);
    `InputDef.secret` adds what its TOSCA definition declares."""
    return _SECRETS.is_secret_name(name)


def _declared_secret(registry: TypeRegistry, spec: dict) -> bool:
    try:
        chain = registry.chain("data_types", spec["type"]) or (spec["type"],)
    except UserInputError:
        chain = (spec["type"],)
    return _SECRETS.is_declared_secret(chain, spec.get("metadata"))
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
    secret: bool = False          # by the one secrets rule: declared, then name (never written in the project)
    default_problem: str = ""     # why the default breaks the input's own constraints (never deployed)


def var_name_for(name: str, taken: set) -> str:
    base = "input_" + (re.sub(r"[^a-z0-9_]", "_", name.lower()) or "x")
    candidate, suffix = base, 2
    while candidate in taken:
        candidate, suffix = "%s_%d" % (base, suffix), suffix + 1
    taken.add(candidate)
    return candidate


def build_inputs(tpl: LoadedTemplate, topo: dict, given: dict, defer_missing: bool, notes: Optional[Notes] = None) -> dict:
    raw_inputs = topo.get("inputs") or {}
    file = tpl.display_name
    if not isinstance(raw_inputs, dict):
        raise UserInputError("inputs must be a mapping", Location(file, yamlload.line_of(topo, "inputs")))
    inputs, taken, specs = {}, set(), {}
    for name, spec in raw_inputs.items():
        where = Location(file, yamlload.line_of(raw_inputs, name), field="inputs.%s" % name)
        imported = tpl.imported_inputs.get(name)
        if isinstance(spec, dict) and "type" not in spec and isinstance(imported, dict):
            spec = dict(imported, **spec)  # re-declared by the importing template (e.g. only a new default)
        specs[str(name)] = spec
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise UserInputError("input needs a mapping with a type", where)
        constraints = spec.get("constraints") or []
        if not isinstance(constraints, list):
            raise UserInputError("constraints must be a list", dataclasses.replace(where, field=where.field + ".constraints"))
        definition = InputDef(
            name=str(name), var_name=var_name_for(str(name), taken), type=spec["type"],
            description=str(spec.get("description") or "").strip(),
            default=spec.get("default", MISSING), required=spec.get("required", True) is not False,
            constraints=normalise_constraints(spec["type"], constraints, file, where, "input %s" % name, notes),
            entry_schema=spec.get("entry_schema"), line=where.line,
            secret=_declared_secret(tpl.registry, spec) or is_secret_input(str(name)),
        )
        if definition.default is not MISSING and definition.default is not None:
            dwhere = Location(file, yamlload.line_of(spec, "default"), field="inputs.%s.default" % name)
            try:
                definition.value = definition.default = check_value(
                    tpl.registry, spec, definition.default, dwhere, "default of input %s" % name, notes,
                    Source(file, dwhere.line, "default"), file)
            except ConstraintError as exc:
                # The reference systems ask the user: the default is never deployed, a value must be given.
                definition.default_problem, definition.required = exc.message, True
                if notes is not None:
                    notes.warning("%s; not offered as the default: a valid value must be given at compile or "
                                  "launch time" % exc.message, dwhere)
        inputs[str(name)] = definition
    for name, value in (given or {}).items():
        if name not in inputs:
            raise UserInputError("unknown input %r (the template declares: %s)" % (name, ", ".join(sorted(inputs)) or "none"),
                                 Location(file, field="inputs.%s" % name))
        definition = inputs[name]
        spec = specs[name]
        value = coerce_cli_value(definition.type, value)
        where = Location(file, definition.line, field="inputs.%s" % name)
        definition.value = check_value(tpl.registry, spec, value, where, "input %s" % name, notes,
                                       constraints_file=file)
    for definition in inputs.values():
        if definition.value is MISSING and definition.required and not defer_missing:
            where = Location(file, definition.line, field="inputs.%s" % definition.name)
            if definition.default_problem:
                raise UserInputError("%s, and no other value was given (use -i %s=VALUE)"
                                     % (definition.default_problem, definition.name), where)
            raise UserInputError("required input %s has no default and no value was given (use -i %s=VALUE)"
                                 % (definition.name, definition.name), where)
    # the rule's third part: an input whose value is (or holds) the value of a secret input is secret too
    known = set()
    for definition in inputs.values():
        if definition.secret and definition.value is not MISSING:
            known.update(_SECRETS.secret_values(definition.value))
    for definition in inputs.values():
        if known and not definition.secret and definition.value is not MISSING:
            definition.secret = bool(known & _SECRETS.secret_values(definition.value))
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
