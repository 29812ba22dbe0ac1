"""YAML reading with libyaml that remembers where every mapping key was written.

Mappings come back as `MarkedDict` (a plain dict plus `line` and `key_lines`), so later stages can
name the line of a node, a property or an import in their error messages without a second parse.
"""

from __future__ import annotations

from typing import Any, Optional

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

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
    """SafeLoader (C parser when available) building MarkedDicts.

    The C composer calls `resolve` for every scalar. SafeLoader has no path resolvers, so a plain
    scalar's tag depends on its text alone: it is memoised, and the path hooks have nothing to do.
    """

    def resolve(self, kind, value, implicit):
        if kind is ScalarNode:
            if not implicit[0]:
                return _STR
            tag = _RESOLVED.get(value)
            if tag is None:
                tag = _BaseLoader.resolve(self, kind, value, implicit)
                if len(_RESOLVED) < _RESOLVED_MAX:
                    _RESOLVED[value] = tag
            return tag
        return _BaseLoader.resolve(self, kind, value, implicit)

    def descend_resolver(self, current_node, current_index):
        pass

    def ascend_resolver(self):
        pass


_STR = yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG
_SEQ = yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG
_MAP = yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG
# Scalar tags whose SafeConstructor functions return the value (the others are generators or errors).
_PLAIN_SCALAR_TAGS = frozenset("tag:yaml.org,2002:" + name for name in ("null", "bool", "int", "float", "timestamp"))
_FLATTEN_TAGS = ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")
_RESOLVED: dict = {}
_RESOLVED_MAX = 200_000


def _unhashable_key(key, key_node):
    try:
        hash(key)
    except TypeError:
        raise UserInputError(
            "a mapping key must be a plain value, not %s" % type(key).__name__,
            Location(line=key_node.start_mark.line + 1),
        ) from None


def _construct_marked_mapping(loader, node):
    """The registered constructor (used for mappings reached through PyYAML's own construction)."""
    mapping = MarkedDict()
    mapping.line = node.start_mark.line + 1
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        _unhashable_key(key, key_node)
        # Duplicate keys are accepted, the last one winning, as PyYAML and real INDIGO files do.
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_MarkingLoader.add_constructor(_MAP, _construct_marked_mapping)


def _construct_document(loader, root):
    """What SafeConstructor builds with deep construction, in one tight recursive function.

    Plain mappings, sequences and scalars (nearly every node of a TOSCA file) are built here; any
    other tag, merge keys aside, goes through PyYAML's own constructors, so results and errors stay
    PyYAML's. Aliased collections come back as the same object, as PyYAML gives them.
    """
    constructors = loader.yaml_constructors
    built: dict = {}
    in_progress: set = set()
    new_marked = dict.__new__

    def build(node):
        cls = node.__class__
        tag = node.tag
        if cls is ScalarNode:
            if tag == _STR:
                return node.value
            if tag in _PLAIN_SCALAR_TAGS:
                return constructors[tag](loader, node)
            return loader.construct_object(node, deep=True)
        done = built.get(node)
        if done is not None:
            return done
        if node in in_progress:
            raise ConstructorError(None, None, "found unconstructable recursive node", node.start_mark)
        if cls is MappingNode and tag == _MAP:
            in_progress.add(node)
            for key_node, _ in node.value:
                if key_node.tag in _FLATTEN_TAGS:
                    loader.flatten_mapping(node)
                    break
            mapping = new_marked(MarkedDict)
            mapping.line = node.start_mark.line + 1
            key_lines = mapping.key_lines = {}
            for key_node, value_node in node.value:
                if key_node.__class__ is ScalarNode and key_node.tag == _STR:
                    key = key_node.value
                else:
                    key = build(key_node)
                    _unhashable_key(key, key_node)
                # Duplicate keys are accepted, the last one winning, as PyYAML and real INDIGO files do.
                mapping[key] = build(value_node)
                key_lines[key] = key_node.start_mark.line + 1
            in_progress.discard(node)
            built[node] = mapping
            return mapping
        if cls is SequenceNode and tag == _SEQ:
            in_progress.add(node)
            sequence = [build(child) for child in node.value]
            in_progress.discard(node)
            built[node] = sequence
            return sequence
        return loader.construct_object(node, deep=True)

    try:
        return build(root)
    finally:
        # `build` refers to itself through its closure: break that cycle, or the whole document
        # (held by `built`) would wait for the cyclic garbage collector.
        built.clear()
        build = None


def _load(text: str) -> Any:
    loader = _MarkingLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        if root.__class__ is not MappingNode:
            # Not a template (a CLI value, a broken file): PyYAML's own path, whatever it holds.
            return loader.construct_document(root)
        return _construct_document(loader, root)
    finally:
        loader.dispose()


def load_yaml_text(text: str, filename: str) -> Any:
    """Parse YAML text; a syntax error becomes a UserInputError naming file and line."""
    try:
        return _load(text)
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
