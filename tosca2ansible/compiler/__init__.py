"""TOSCA -> Ansible compiler: load -> model -> plan -> emit.

`validate_template` checks a template; `compile_template` writes the Ansible project. Both raise only
UserInputError (exit code 2) for anything wrong with the template, its imports or its inputs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import re
from typing import Optional

from tosca2ansible.errors import IndigoError, Location, UserInputError

DEPLOYMENT_RE = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


@dataclasses.dataclass
class Compiled:
    deployment: str
    files: dict
    notices: list
    # values of secret inputs (by Ansible variable name): kept out of the project, passed at launch
    secret_inputs: dict = dataclasses.field(default_factory=dict)
    # {path relative to the template's directory: absolute path}: the local files the template needs
    # (relative imports, operation playbooks, file artifacts); the runtime keeps them with its copy
    sources: dict = dataclasses.field(default_factory=dict)
    # {Compute node: site} of the placed nodes (policies, then --site NODE=SITE); the others go to the
    # deployment's site
    placement: dict = dataclasses.field(default_factory=dict)


def default_deployment_id(template_path: str) -> str:
    stem = os.path.splitext(os.path.basename(template_path))[0].lower()
    slug = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")
    if not slug or not slug[0].isalpha():
        slug = "d-" + slug
    return slug[:41].rstrip("-")


def _pipeline(template_path, inputs, types_paths, deployment, defer_inputs, sites=None):
    # Imported lazily: `indigo --help` must not pay for tosca-parser.
    from tosca2ansible.compiler import artifacts  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.emit import Emitter  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.loader import load_template  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.model import build_topology  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.plan import build_plan  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.model import MISSING, is_secret_input  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.project import project_files  # pylint: disable=import-outside-toplevel

    deployment = deployment or default_deployment_id(template_path)
    if not DEPLOYMENT_RE.match(deployment):
        raise UserInputError("deployment id %r must match %s" % (deployment, DEPLOYMENT_RE.pattern),
                             Location(field="--deployment"))
    loaded = load_template(template_path, types_paths)
    topology = build_topology(loaded, inputs or {}, defer_inputs)
    localised = artifacts.localise(topology)
    artifact_files = artifacts.read_files(localised)
    plan = build_plan(topology)
    emitter = Emitter(topology, plan, sites)
    with open(template_path, "rb") as handle:
        template_bytes = handle.read()
    files = project_files(topology, emitter, deployment, template_bytes, artifact_files)
    secret_inputs = {d.var_name: d.value for d in topology.inputs.values()
                     if is_secret_input(d.name) and d.value is not MISSING}
    return Compiled(deployment, files, loaded.notices, secret_inputs,
                    _template_sources(template_path, loaded.relative_imports, localised.values()),
                    emitter.placement)


def _template_sources(template_path, imported, artifact_sources) -> dict:
    """Local files below the template's directory, by their path relative to it."""
    base = os.path.dirname(os.path.realpath(template_path))
    sources = {}
    for path in list(imported) + list(artifact_sources):
        real = os.path.realpath(path)
        relative = os.path.relpath(real, base)
        if not relative.startswith(".." + os.sep) and relative != "..":
            sources[relative] = real
    return dict(sorted(sources.items()))


@contextlib.contextmanager
def _cyclic_gc_paused():
    """Compiling builds a large tree of short-lived, acyclic objects; reference counting frees them.
    The cyclic collector would rescan that growing tree over and over (half the time at 10 000 nodes)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _guarded(func, template_path, *args):
    try:
        return func(template_path, *args)
    except IndigoError:
        raise
    except RecursionError:
        raise UserInputError("template is nested too deeply", Location(file=template_path)) from None
    except Exception as exc:  # pylint: disable=broad-except  # never a traceback for a user
        raise UserInputError("internal error while compiling (%s: %s); please report it"
                             % (type(exc).__name__, exc), Location(file=template_path)) from exc


def build(template_path: str, inputs: Optional[dict] = None, types_paths: Optional[list] = None,
          deployment: Optional[str] = None, defer_inputs: bool = False, sites: Optional[dict] = None) -> Compiled:
    """Compile in memory (no files written). ``sites``: {node: site} placing node templates."""
    with _cyclic_gc_paused():
        return _guarded(_pipeline, template_path, inputs, types_paths, deployment, defer_inputs, sites)


def validate_template(template_path: str, inputs: Optional[dict] = None, types_paths: Optional[list] = None,
                      defer_inputs: bool = True) -> Compiled:
    return build(template_path, inputs, types_paths, None, defer_inputs)


def compile_template(template_path: str, out_dir: str, inputs: Optional[dict] = None,
                     types_paths: Optional[list] = None, deployment: Optional[str] = None,
                     defer_inputs: bool = False, sites: Optional[dict] = None) -> Compiled:
    from tosca2ansible.compiler.project import write_project  # pylint: disable=import-outside-toplevel

    with _cyclic_gc_paused():  # build's own pause, held over the writes too
        compiled = _guarded(_pipeline, template_path, inputs, types_paths, deployment, defer_inputs, sites)
        write_project(out_dir, compiled.files)
    return compiled
