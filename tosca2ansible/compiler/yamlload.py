"""YAML reading with libyaml that remembers where every mapping key was written.

Mappings come back as `MarkedDict` (a plain dict plus `line` and `key_lines`), so later stages can
name the line of a node, a property or an import in their error messages without a second parse.
"""

from __future__ import annotations

from typing import Any, Optional

import yaml

from tosca2ansible.errors import Location, UserInputError

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class MarkedDict(dict):
    """A dict that knows the 1-based line of itself and of each of its keys."""

    __slots__ = ("line", "key_lines")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.line: Optional[int] = None
        self.key_lines: dict = {}

    def line_of(self, key) -> Optional[int]:
        return self.key_lines.get(key, self.line)


class _MarkingLoader(_BaseLoader):  # pylint: disable=too-many-ancestors
    """SafeLoader (C parser when available) building MarkedDicts."""


def _construct_marked_mapping(loader, node):
    mapping = MarkedDict()
    mapping.line = node.start_mark.line + 1
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise UserInputError(
                "a mapping key must be a plain value, not %s" % type(key).__name__,
                Location(line=key_node.start_mark.line + 1),
            ) from None
        # Duplicate keys are accepted, the last one winning, as PyYAML and real INDIGO files do.
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_MarkingLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_marked_mapping)


def load_yaml_text(text: str, filename: str) -> Any:
    """Parse YAML text; a syntax error becomes a UserInputError naming file and line."""
    try:
        return yaml.load(text, Loader=_MarkingLoader)  # nosec B506 - SafeLoader subclass
    except UserInputError as exc:
        exc.location.file = filename
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
            problem += " (%s started on line %d)" % (exc.context, exc.context_mark.line + 1)
        raise UserInputError("YAML syntax error: %s" % problem, Location(file=filename, line=line)) from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise UserInputError("YAML error: %s" % exc, Location(file=filename)) from None


def load_yaml_file(path: str, display_name: Optional[str] = None) -> Any:
    name = display_name or path
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise UserInputError("cannot read file: %s" % exc.strerror, Location(file=name)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserInputError("file is not UTF-8 text (byte %d)" % exc.start, Location(file=name)) from None
    return load_yaml_text(text, name)


def line_of(mapping: Any, key: Any = None) -> Optional[int]:
    """Line of `key` inside `mapping` (or of the mapping itself), when known."""
    if isinstance(mapping, MarkedDict):
        return mapping.line_of(key) if key is not None else mapping.line
    return None


def plain(value: Any) -> Any:
    """Deep copy into plain dicts/lists (for serializers and for tosca-parser)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
