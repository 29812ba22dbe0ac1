"""Load a TOSCA template and resolve its imports offline.

Resolution order for each import: URL prefix -> local folder mappings (`--types-path PREFIX=DIR`,
then env INDIGO_TYPES_PATH, `;`-separated), files relative to the importing file, then the project's
bundled type library (with a notice on stderr). The network is never used.
"""

from __future__ import annotations

import dataclasses
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
    # type files imported by a path relative to the importing file (not mapped, not bundled)
    relative_imports: list = dataclasses.field(default_factory=list)
    # topology inputs declared by imported files: an importing template may re-declare one with a new default
    imported_inputs: dict = dataclasses.field(default_factory=dict)


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


class ImportResolver:
    def __init__(self, mappings: list, bundled: Optional[Callable[[str], Optional[str]]] = None):
        self.mappings = mappings
        self.bundled = bundled if bundled is not None else _bundled_lookup
        self.notices: list = []
        self.relative: list = []

    def resolve(self, target: str, base_dir: str, where: Location) -> str:
        for prefix, folder in self.mappings:
            if target.startswith(prefix):
                candidate = os.path.join(folder, target[len(prefix):].lstrip("/"))
                if os.path.isfile(candidate):
                    return candidate
        if "://" not in target:
            candidate = os.path.join(base_dir, target)
            if os.path.isfile(candidate):
                self.relative.append(candidate)
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
    resolver = ImportResolver(parse_types_paths(types_paths or []), bundled)
    files: list = []
    keys: list = []
    seen: set = set()
    imported_inputs: dict = {}

    def visit(imports, repositories, base_dir, file_name, where_line):
        for target, line in _import_targets(imports, repositories, Location(file_name, where_line, field="imports")):
            resolved = resolver.resolve(target, base_dir, Location(file_name, line, field="imports"))
            real = os.path.realpath(resolved)
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
                          imported_inputs)
