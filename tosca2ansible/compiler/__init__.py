"""TOSCA -> Ansible compiler: load -> model -> plan -> emit.

`validate_template` checks a template; `compile_template` writes the Ansible project. Both raise only
UserInputError (exit code 2) for anything wrong with the template, its imports or its inputs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
from typing import Optional

from tosca2ansible.errors import IndigoError, Location, UserInputError



@dataclasses.dataclass
class Compiled:
    deployment: str
    files: dict
    notices: list
    # values of secret inputs (by Ansible variable name): kept out of the project, passed at launch
    secret_inputs: dict = dataclasses.field(default_factory=dict)
    # {path relative to the template's directory: absolute path}: the local files the template needs
    # (imports, operation playbooks, file artifacts); the runtime keeps them with its copy. An import from a
    # --types-path folder outside the template's tree has a path that starts with ``../``
    sources: dict = dataclasses.field(default_factory=dict)
    # names of the inputs that are secret by the one rule (declared or named so)
    secret_names: list = dataclasses.field(default_factory=list)
    # {Compute node: site} of the placed nodes (policies, then --site NODE=SITE); the others go to the
    # deployment's site
    placement: dict = dataclasses.field(default_factory=dict)
    # the (prefix, folder) pairs of --types-path and INDIGO_TYPES_PATH the imports were resolved with
    types_roots: list = dataclasses.field(default_factory=list)
    # the sites of a bursting elastic pool (ElasticCluster burst_sites), in order
    pool_sites: list = dataclasses.field(default_factory=list)


def _naming():
    """The collection's deployment-id rules (one home for the compiler, the runtime and the modules)."""
    from tosca2ansible.collection import ensure_importable  # pylint: disable=import-outside-toplevel

    ensure_importable()
    from ansible_collections.indigo.paas.plugins.module_utils import naming  # pylint: disable=import-outside-toplevel

    return naming


def default_deployment_id(template_path: str) -> str:
    return _naming().deployment_slug(os.path.splitext(os.path.basename(template_path))[0])


def _pipeline(template_path, inputs, types_paths, deployment, defer_inputs, strict=False, sites=None,
              sla_sites=None):
    # Imported lazily: `indigo --help` must not pay for tosca-parser.
    from tosca2ansible.compiler import artifacts  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.emit import Emitter  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.loader import load_template  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.model import build_topology  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.plan import build_plan  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.model import MISSING  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.project import project_files  # pylint: disable=import-outside-toplevel

    deployment = default_deployment_id(template_path) if deployment is None else deployment
    naming = _naming()
    if not naming.is_deployment_id(deployment):
        raise UserInputError("deployment id %r must match %s" % (deployment, naming.DEPLOYMENT_PATTERN),
                             Location(field="--deployment"))
    loaded = load_template(template_path, types_paths, strict=strict)
    topology = build_topology(loaded, inputs or {}, defer_inputs, strict)
    localised = artifacts.localise(topology)
    artifact_files = artifacts.read_files(localised)
    plan = build_plan(topology)
    emitter = Emitter(topology, plan, sites, sla_sites)
    with open(template_path, "rb") as handle:
        template_bytes = handle.read()
    files = project_files(topology, emitter, deployment, template_bytes, artifact_files)
    secret_inputs = {d.var_name: d.value for d in topology.inputs.values()
                     if d.secret and d.value is not MISSING}
    return Compiled(deployment, files, loaded.notices, secret_inputs,
                    _template_sources(template_path, loaded.relative_imports, localised.values()),
                    sorted(d.name for d in topology.inputs.values() if d.secret), emitter.placement,
                    list(loaded.types_roots), [site for site, _ in emitter.pool.sites] if emitter.pool else [])


def _template_sources(template_path, imported, artifact_sources) -> dict:
    """The local files the template needs, by their path relative to its directory (the loader and the
    artifact collector confined them to its tree and the --types-path folders)."""
    base = os.path.dirname(os.path.realpath(template_path))
    sources = {}
    for real in list(imported) + list(artifact_sources):  # both real paths already
        sources[os.path.relpath(real, base)] = real
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
          deployment: Optional[str] = None, defer_inputs: bool = False, strict: bool = False,
          sites: Optional[dict] = None, sla_sites: Optional[dict] = None) -> Compiled:
    """Compile in memory (no files written). `strict`: names the types do not declare are errors;
    ``sites``: {node: site} placing node templates; ``sla_sites``: {SLA id: site} (the catalogue's), so
    that a placement by SLA id names its site."""
    with _cyclic_gc_paused():
        return _guarded(_pipeline, template_path, inputs, types_paths, deployment, defer_inputs, strict, sites,
                        sla_sites)


def validate_template(template_path: str, inputs: Optional[dict] = None, types_paths: Optional[list] = None,
                      defer_inputs: bool = True, strict: bool = False) -> Compiled:
    return build(template_path, inputs, types_paths, None, defer_inputs, strict)


def compile_template(template_path: str, out_dir: str, inputs: Optional[dict] = None,
                     types_paths: Optional[list] = None, deployment: Optional[str] = None,
                     defer_inputs: bool = False, strict: bool = False, sites: Optional[dict] = None,
                     sla_sites: Optional[dict] = None) -> Compiled:
    from tosca2ansible.compiler.outdir import write_project  # pylint: disable=import-outside-toplevel

    with _cyclic_gc_paused():  # build's own pause, held over the writes too
        compiled = _guarded(_pipeline, template_path, inputs, types_paths, deployment, defer_inputs, strict, sites,
                            sla_sites)
        write_project(out_dir, compiled.files)
    return compiled


BUNDLED_NOTICE = "using the bundled INDIGO type library"


def notice_lines(notices: list, verbose: bool = False) -> tuple:
    """(lines a command prints, each once; how many imports used the bundled type library). The bundled
    library notices are printed only when `verbose`: they would repeat on every run of a template."""
    lines = list(dict.fromkeys(notices))
    bundled = [line for line in lines if BUNDLED_NOTICE in line]
    return (lines if verbose else [line for line in lines if BUNDLED_NOTICE not in line]), len(bundled)
