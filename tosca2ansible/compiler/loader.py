"""Load a TOSCA template and resolve its imports offline.

Resolution order for each import: URL prefix -> local folder mappings (`--types-path PREFIX=DIR`,
then env INDIGO_TYPES_PATH, `;`-separated), files relative to the importing file, then the project's
bundled type library (with a notice on stderr). The network is never used.

Imports are confined like artifacts: a file is read only from inside the template's own folder (its
tree), a `--types-path` folder or the bundled library. An absolute path or a `../` that leads anywhere
else is an error naming the importing file, its line and the import (checked on the real path: a symbolic
link out of the tree is an escape too).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, Callable, Optional

from tosca2ansible.compiler import yamlload
from tosca2ansible.compiler.types import SECTIONS, TypeRegistry, registry_for
from tosca2ansible.errors import Location, UserInputError

SUPPORTED_VERSIONS = ("tosca_simple_yaml_1_0", "tosca_simple_yaml_1_1", "tosca_simple_yaml_1_2",
                      "tosca_simple_yaml_1_3")
ENV_TYPES_PATH = "INDIGO_TYPES_PATH"


@dataclasses.dataclass
class LoadedTemplate:
    path: str
    display_name: str
    doc: dict
    registry: TypeRegistry
    notices: list
    # local type files the template imports, relative or through --types-path (not the bundled ones): a
    # deployment keeps them with its copy of the template
    relative_imports: list = dataclasses.field(default_factory=list)
    # topology inputs declared by imported files: an importing template may re-declare one with a new default
    imported_inputs: dict = dataclasses.field(default_factory=dict)
    # the (prefix, folder) pairs of --types-path and INDIGO_TYPES_PATH the imports were resolved with
    types_roots: list = dataclasses.field(default_factory=list)


def parse_types_paths(values: list) -> list:
    """`PREFIX=DIR` strings (options first, then the environment) to (prefix, dir) pairs."""
    pairs = []
    env_value = os.environ.get(ENV_TYPES_PATH, "")
    for raw in list(values or []) + [v for v in env_value.split(";") if v.strip()]:
        prefix, sep, folder = raw.strip().partition("=")
        if not sep or not prefix or not folder:
            raise UserInputError("types path must look like PREFIX=DIR, got %r" % raw, Location(field="--types-path"))
        pairs.append((prefix, os.path.expanduser(folder)))
    return pairs


_FILE_CACHE: dict = {}


def _read_types_file(path: str) -> tuple:
    """(sections, lines, nested imports, cache key, notices) for a type file, memoised by path/mtime/size.
    Duplicate keys are notices here: a type library is usually upstream's, not the user's to fix."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise UserInputError("cannot read type file: %s" % exc.strerror, Location(file=path)) from None
    key = (os.path.realpath(path), stat.st_mtime_ns, stat.st_size)
    cached = _FILE_CACHE.get(key)
    if cached is None:
        notices: list = []
        doc = yamlload.load_yaml_file(
            path, on_duplicate=lambda dup: notices.append("notice: %s:%d: %s" % (path, dup.second_line, dup.message())))
        if not isinstance(doc, dict):
            raise UserInputError("a type file must be a mapping", Location(file=path))
        sections, lines = {}, {}
        for section in SECTIONS:
            block = doc.get(section)
            if block is None:
                continue
            if not isinstance(block, dict):
                raise UserInputError("%s must be a mapping" % section, Location(file=path, line=yamlload.line_of(doc, section)))
            sections[section] = block
            lines.update({name: yamlload.line_of(block, name) for name in block})
        topology = doc.get("topology_template")
        inputs = topology.get("inputs") if isinstance(topology, dict) else None
        cached = (sections, lines, doc.get("imports") or [], key, notices, inputs if isinstance(inputs, dict) else {})
        _FILE_CACHE[key] = cached
    return cached


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([root, path]) == root


class ImportResolver:
    def __init__(self, mappings: list, bundled: Optional[Callable[[str], Optional[str]]] = None,
                 template: Optional[str] = None):
        self.mappings = mappings
        self.bundled = bundled if bundled is not None else _bundled_lookup
        self.notices: list = []
        self.relative: list = []
        self.real: dict = {}  # resolved path -> its real path, found by the confinement checks
        self._template = template
        self._roots: Optional[list] = None

    @property
    def roots(self) -> list:
        """Where a local import may be read from: the template's tree, the --types-path folders, the bundled
        library (whose files import each other). Found on first use: URL imports need none of them."""
        if self._roots is None:
            # the template's tree: its folder (as given, and where a symbolic link to the template points)
            tree = ([_real_dir(os.path.dirname(os.path.abspath(self._template))),
                     os.path.dirname(os.path.realpath(self._template))] if self._template else [])
            self._roots = tree + [_real_dir(f) for _, f in self.mappings]
            self._roots.append(_bundled_root())
        return self._roots

    def _confined(self, target: str, candidate: str, where: Location) -> str:
        real = os.path.realpath(candidate)
        self.real[candidate] = real
        if not any(_inside(real, root) for root in self.roots if root):
            what = "an absolute path outside" if os.path.isabs(target) else "a path that leads out of"
            where = _line_of_import(where, target)
            raise UserInputError(
                "import %s is %s the template's folder and the --types-path folders (%s): imports are read only "
                "from the template's tree, or from a folder given with --types-path PREFIX=DIR"
                % (target, what, ", ".join(r for r in self.roots[:-1] if r)), where)
        return real

    def resolve(self, target: str, base_dir: str, where: Location) -> str:
        for prefix, folder in self.mappings:
            if target.startswith(prefix):
                candidate = os.path.join(folder, target[len(prefix):].lstrip("/"))
                if os.path.isfile(candidate):
                    real = self.real[candidate] = os.path.realpath(candidate)
                    if not _inside(real, _real_dir(folder)):
                        raise UserInputError("import %s leads out of its --types-path folder %s" % (target, folder),
                                             where)
                    self.relative.append(real)
                    return candidate
        if "://" not in target:
            candidate = os.path.join(base_dir, target)
            self._confined(target, candidate, where)
            if os.path.isfile(candidate):
                self.relative.append(self.real[candidate])
                return candidate
        bundled = self.bundled(target)
        if bundled:
            self.notices.append("notice: import %s not found locally; using the bundled INDIGO type library" % target)
            return str(bundled)
        if "://" not in target:
            # a relative import is resolved next to the importing file (as the IM does against the URL it
            # fetched the template from): say where it was looked for
            raise UserInputError("import %s not found: no file %s in %s (the importing file's folder)"
                                 % (target, os.path.basename(target), os.path.dirname(os.path.abspath(candidate))),
                                 where)
        raise UserInputError(
            "cannot resolve import %s offline (add --types-path PREFIX=DIR or set %s)" % (target, ENV_TYPES_PATH),
            where,
        )


def _line_of_import(where: Location, target: str) -> Location:
    """The line that names ``target`` (a list item has no line of its own), searched from the line of
    ``imports``; ``where`` itself when the file cannot be read again."""
    try:
        lines = yamlload.read_regular_file(where.file).decode("utf-8", "replace").splitlines()
    except (UserInputError, OSError, TypeError):
        return where
    for number in range(max(where.line or 1, 1), len(lines) + 1):
        if target in lines[number - 1]:
            return dataclasses.replace(where, line=number)
    return where


@functools.lru_cache(maxsize=256)
def _real_dir(folder: str) -> str:
    """The real path of a root folder (memoised: the same few folders for every template of a process)."""
    return os.path.realpath(folder)


@functools.lru_cache(maxsize=1)
def _bundled_root() -> str:
    try:
        from tosca2ansible.typelib import BUNDLED_TYPES_DIR  # pylint: disable=import-outside-toplevel
    except ImportError:
        return ""
    return os.path.realpath(str(BUNDLED_TYPES_DIR))


def _bundled_lookup(url: str) -> Optional[str]:
    try:
        from tosca2ansible.typelib import bundled_for_url  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    try:
        return bundled_for_url(url)
    except Exception:  # pylint: disable=broad-except  # a broken library must not hide the real error
        return None


def _import_targets(imports: Any, repositories: dict, where: Location) -> list:
    """Normalise the three import forms to (target, line) pairs."""
    if imports is None:
        return []
    if not isinstance(imports, list):
        raise UserInputError("imports must be a list", where)
    targets = []
    for item in imports:
        line = yamlload.line_of(item) or where.line
        entry = item
        if isinstance(item, dict) and len(item) == 1 and "file" not in item:
            entry = next(iter(item.values()))
        if isinstance(entry, dict):
            file_ref = entry.get("file")
            repo = entry.get("repository")
            if not isinstance(file_ref, str):
                raise UserInputError("import needs a file", Location(where.file, line, field="imports"))
            if repo is not None:
                repo_def = repositories.get(repo) if isinstance(repositories, dict) else None
                url = repo_def.get("url") if isinstance(repo_def, dict) else repo_def
                if not isinstance(url, str):
                    raise UserInputError("import names unknown repository %r" % (repo,),
                                         Location(where.file, line, field="imports"))
                file_ref = url.rstrip("/") + "/" + file_ref.lstrip("/")
            targets.append((file_ref, line))
        elif isinstance(entry, str):
            targets.append((entry, line))
        else:
            raise UserInputError("unsupported import entry %r" % (entry,), Location(where.file, line, field="imports"))
    return targets


def _on_duplicate(display: str, sink: list, strict: bool) -> Callable:
    """A duplicate key in the template: PyYAML (the IM) and SnakeYAML (the orchestrator) kept the last one,
    so it is a warning naming both lines, and an error under --strict."""
    def warn(dup: yamlload.DuplicateKey) -> None:
        if strict:
            raise UserInputError("%s (--strict)" % dup.message(), Location(file=display, line=dup.second_line))
        line = "warning: %s:%d: duplicate key %r on lines %d and %d: the one on line %d is used, line %d is " \
               "ignored (--strict makes this an error)" % (display, dup.second_line, dup.key, dup.first_line,
                                                          dup.second_line, dup.second_line, dup.first_line)
        if line not in sink:
            sink.append(line)
    return warn


def load_template(path: str, types_paths: Optional[list] = None, bundled=None, strict: bool = False) -> LoadedTemplate:
    """`strict`: a duplicate key in the template is an error (by default a warning; the last one is kept)."""
    display = path
    duplicates: list = []
    doc = yamlload.load_yaml_file(path, display, on_duplicate=_on_duplicate(display, duplicates, strict))
    if not isinstance(doc, dict):
        raise UserInputError("a TOSCA template must be a mapping", Location(file=display, line=1))
    version = doc.get("tosca_definitions_version")
    if version not in SUPPORTED_VERSIONS:
        raise UserInputError(
            "tosca_definitions_version must be one of %s, got %r" % (", ".join(SUPPORTED_VERSIONS), version),
            Location(file=display, line=yamlload.line_of(doc, "tosca_definitions_version"),
                     field="tosca_definitions_version"),
        )
    mappings = parse_types_paths(types_paths or [])
    resolver = ImportResolver(mappings, bundled, template=path)
    files: list = []
    keys: list = []
    seen: set = set()
    imported_inputs: dict = {}

    def visit(imports, repositories, base_dir, file_name, where_line):
        for target, line in _import_targets(imports, repositories, Location(file_name, where_line, field="imports")):
            resolved = resolver.resolve(target, base_dir, Location(file_name, line, field="imports"))
            real = resolver.real.get(resolved) or os.path.realpath(resolved)
            if real in seen:
                continue
            seen.add(real)
            sections, lines, nested, key, notices, inputs = _read_types_file(resolved)
            for input_name, input_spec in inputs.items():
                imported_inputs.setdefault(input_name, input_spec)
            resolver.notices.extend(n for n in notices if n not in resolver.notices)
            visit(nested, {}, os.path.dirname(resolved), resolved, None)
            files.append((resolved, sections, lines))
            keys.append(key)

    visit(doc.get("imports"), doc.get("repositories") or {}, os.path.dirname(os.path.abspath(path)), display,
          yamlload.line_of(doc, "imports"))
    # Types defined inside the template itself come last (they may extend imported ones).
    own_sections = {s: doc[s] for s in SECTIONS if isinstance(doc.get(s), dict)}
    if own_sections:
        own_lines = {n: yamlload.line_of(doc[s], n) for s in own_sections for n in doc[s]}
        files.append((display, own_sections, own_lines))
        registry = TypeRegistry(files)
    else:
        registry = registry_for(files, tuple(keys))
    return LoadedTemplate(path, display, doc, registry, duplicates + resolver.notices, resolver.relative,
                          imported_inputs, mappings)
