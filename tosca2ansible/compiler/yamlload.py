"""YAML reading with libyaml that remembers where every mapping key was written.

Mappings come back as `MarkedDict` (a plain dict plus `line` and `key_lines`), so later stages can
name the line of a node, a property or an import in their error messages without a second parse.

Input is bounded: regular files only, at most MAX_FILE_BYTES, aliases may add at most ALIAS_BUDGET
nodes to what the file itself holds (an alias bomb is an error, not memory exhaustion), a duplicate key
is an error naming both lines (or a notice, for type libraries the user cannot fix), and a value whose
explicit tag does not fit (`!!bool maybe`) is an error naming its line.
"""

from __future__ import annotations

from typing import Any, Optional

import os
import stat

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
MAX_FILE_BYTES = 32 * 1024 * 1024
# nodes that aliases may add to the nodes written in the file (an expanded alias bomb would be billions)
ALIAS_BUDGET = 1_000_000


class DuplicateKey(Exception):
    """Raised inside construction; turned into a UserInputError or a notice by the caller."""

    def __init__(self, key, first_line, second_line):
        super().__init__(key)
        self.key, self.first_line, self.second_line = key, first_line, second_line

    def message(self) -> str:
        return "duplicate key %r on lines %d and %d (YAML keeps only the last one)" % (
            self.key, self.first_line, self.second_line)


def _explicit_scalar(loader, node, constructors):
    """A scalar with an explicit plain tag (`!!bool maybe`, `!!int x`): PyYAML's value or a clear error."""
    try:
        return constructors[node.tag](loader, node)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError):
        raise UserInputError("%r is not a valid %s value" % (node.value, node.tag.replace("tag:yaml.org,2002:", "!!")),
                             Location(line=node.start_mark.line + 1)) from None


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
    own, own_keys = {id(k) for k, _ in node.value}, set()
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        _unhashable_key(key, key_node)
        if id(key_node) in own:  # a key written here may override a merged one, not another one written here
            typed = (key.__class__, key)  # 1 and true are different keys in YAML
            if typed in own_keys:
                _duplicate(loader, key, mapping.key_lines.get(key), key_node)
            own_keys.add(typed)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


def _duplicate(loader, key, first_line, key_node):
    duplicate = DuplicateKey(key, first_line or key_node.start_mark.line + 1, key_node.start_mark.line + 1)
    sink = getattr(loader, "on_duplicate", None)
    if sink is None:
        raise UserInputError(duplicate.message(), Location(line=duplicate.second_line))
    sink(duplicate)


_MarkingLoader.add_constructor(_MAP, _construct_marked_mapping)


def _construct_document(loader, root):
    """What SafeConstructor builds with deep construction, in one tight recursive function.

    Plain mappings, sequences and scalars (nearly every node of a TOSCA file) are built here; any
    other tag, merge keys aside, goes through PyYAML's own constructors, so results and errors stay
    PyYAML's. Aliased collections come back as the same object, as PyYAML gives them.
    """
    constructors = loader.yaml_constructors
    built: dict = {}
    sizes: dict = {}  # node -> nodes it expands to (aliases counted each time they are used)
    in_progress: set = set()
    new_marked = dict.__new__
    budget = [0]  # distinct collection entries built so far

    def check_budget(node, size):
        if size > budget[0] + ALIAS_BUDGET:
            raise UserInputError("YAML aliases expand to more than %d values (an alias bomb?)" % (budget[0] + ALIAS_BUDGET),
                                 Location(line=node.start_mark.line + 1))

    def build(node):
        cls = node.__class__
        tag = node.tag
        if cls is ScalarNode:
            if tag == _STR:
                return node.value
            if tag in _PLAIN_SCALAR_TAGS:
                return _explicit_scalar(loader, node, constructors)
            return loader.construct_object(node, deep=True)
        done = built.get(node)
        if done is not None:
            return done
        if node in in_progress:
            raise ConstructorError(None, None, "found unconstructable recursive node", node.start_mark)
        if cls is MappingNode and tag == _MAP:
            in_progress.add(node)
            own, own_keys = None, set()
            for key_node, _ in node.value:
                if key_node.tag in _FLATTEN_TAGS:
                    own = {id(k) for k, _ in node.value}
                    loader.flatten_mapping(node)
                    break
            mapping = new_marked(MarkedDict)
            mapping.line = node.start_mark.line + 1
            key_lines = mapping.key_lines = {}
            size = 1
            for key_node, value_node in node.value:
                if key_node.__class__ is ScalarNode and key_node.tag == _STR:
                    key = key_node.value
                else:
                    key = build(key_node)
                    _unhashable_key(key, key_node)
                if own is None and key.__class__ is str:
                    # the common case (no merge, a text key): a str equals only the same str, so the
                    # mapping itself tells whether it was written before
                    if key in mapping:
                        _duplicate(loader, key, key_lines.get(key), key_node)
                elif own is None or id(key_node) in own:  # a key written here may override a merged one
                    typed = (key.__class__, key)  # 1 and true are different keys in YAML
                    if typed in own_keys:
                        _duplicate(loader, key, key_lines.get(key), key_node)
                    own_keys.add(typed)
                mapping[key] = build(value_node)
                size += sizes.get(value_node, 1)
                key_lines[key] = key_node.start_mark.line + 1
            budget[0] += len(node.value) + 1
            check_budget(node, size)
            sizes[node] = size
            in_progress.discard(node)
            built[node] = mapping
            return mapping
        if cls is SequenceNode and tag == _SEQ:
            in_progress.add(node)
            sequence = [build(child) for child in node.value]
            size = 1 + sum(sizes.get(child, 1) for child in node.value)
            budget[0] += len(node.value) + 1
            check_budget(node, size)
            sizes[node] = size
            in_progress.discard(node)
            built[node] = sequence
            return sequence
        if cls is not ScalarNode:
            _check_expansion(node)  # !!set, !!omap, ...: PyYAML builds them, within the same alias budget
        return loader.construct_object(node, deep=True)

    try:
        return build(root)
    finally:
        # `build` refers to itself through its closure: break that cycle, or the whole document
        # (held by `built`) would wait for the cyclic garbage collector.
        built.clear()
        sizes.clear()
        build = None


def _load(text: str, on_duplicate=None) -> Any:
    loader = _MarkingLoader(text)
    loader.on_duplicate = on_duplicate
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        if root.__class__ is not MappingNode:
            # Not a template (a CLI value, a broken file): PyYAML's own path, whatever it holds, once it
            # is known not to be an alias bomb.
            _check_expansion(root)
            return loader.construct_document(root)
        return _construct_document(loader, root)
    finally:
        loader.dispose()


def _check_expansion(root) -> None:
    sizes: dict = {}
    visiting: set = set()
    distinct = 0
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if node in sizes or node.__class__ is ScalarNode:
            continue
        children = [v for pair in node.value for v in pair] if node.__class__ is MappingNode else list(node.value)
        if not done:
            if node in visiting:
                raise UserInputError("a YAML alias refers to the collection that contains it",
                                     Location(line=node.start_mark.line + 1))
            visiting.add(node)
            stack.append((node, True))
            stack.extend((c, False) for c in children if c not in sizes and c.__class__ is not ScalarNode)
            continue
        visiting.discard(node)
        distinct += len(children) + 1
        sizes[node] = 1 + sum(sizes.get(c, 1) for c in children)
        if sizes[node] > distinct + ALIAS_BUDGET:
            raise UserInputError("YAML aliases expand to more than %d values (an alias bomb?)" % (distinct + ALIAS_BUDGET),
                                 Location(line=node.start_mark.line + 1))


def load_yaml_text(text: str, filename: str, on_duplicate=None) -> Any:
    """Parse YAML text; a syntax error becomes a UserInputError naming file and line. A duplicate key is
    an error, or passed to ``on_duplicate(DuplicateKey)`` when given."""
    try:
        return _load(text, on_duplicate)
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


def read_regular_file(path: str, display_name: Optional[str] = None, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; a device, FIFO, directory or bigger file is
    a UserInputError at once (never a hang on /dev/zero or a FIFO)."""
    name = display_name or path
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UserInputError("cannot read file: %s" % exc.strerror, Location(file=name)) from None
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise UserInputError("not a regular file", Location(file=name))
        if info.st_size > limit:
            raise UserInputError("file is larger than %d MiB" % (limit // (1024 * 1024)), Location(file=name))
        chunks, total = [], 0
        while True:
            chunk = os.read(handle, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise UserInputError("file is larger than %d MiB" % (limit // (1024 * 1024)), Location(file=name))
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise UserInputError("cannot read file: %s" % exc.strerror, Location(file=name)) from None
    finally:
        os.close(handle)


def load_yaml_file(path: str, display_name: Optional[str] = None, on_duplicate=None) -> Any:
    name = display_name or path
    raw = read_regular_file(path, name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserInputError("file is not UTF-8 text (byte %d)" % exc.start, Location(file=name)) from None
    return load_yaml_text(text, name, on_duplicate)


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
