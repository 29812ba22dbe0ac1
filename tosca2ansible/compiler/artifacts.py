"""Files a template names by a local path: operation implementations and file artifacts.

They are copied into the compiled project under `artifacts/` (their layout relative to the template's
directory kept) and every reference is replaced by a `ProjectFile`, so the project runs from anywhere.
A path resolves against the directory of the file that wrote it (the template, or an imported type file)
and must stay inside the template's directory. URLs are left as they are: the operation role fetches
them on the node. Galaxy roles and container/VM images name things, not files, and are never copied.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

from tosca2ansible.compiler.model import Topology
from tosca2ansible.errors import Location, UserInputError

PROJECT_DIR = "artifacts"
# Where a node's file artifacts are put on the node (get_artifact on the node names this copy); the
# variable moves them (e.g. -e indigo_artifacts_dir=/srv/artifacts).
NODE_DIR_VAR = "indigo_artifacts_dir"
NODE_DIR = "/var/lib/indigo/artifacts"
FILE_ARTIFACT_TYPES = ("tosca.artifacts.File", "tosca.artifacts.Implementation", "tosca.artifacts.Deployment")
NOT_FILES = ("tosca.artifacts.Deployment.Image",)


@dataclasses.dataclass(frozen=True)
class ProjectFile:
    """A file copied into the project: `path` is relative to the project (artifacts/...)."""

    path: str

    @property
    def in_dir(self) -> str:
        """The path below the project's artifacts directory (also below the node's)."""
        return self.path.split("/", 1)[1]


def is_url(reference: str) -> bool:
    return "://" in reference


class _Collector:
    def __init__(self, topology: Topology):
        self.topology = topology
        self.root = os.path.realpath(os.path.dirname(os.path.abspath(topology.file)))
        self.files: dict = {}      # project path -> absolute source path
        self._seen: dict = {}      # (defining file, reference) -> ProjectFile: checked once

    def localise(self, reference, origin: Optional[Location], node, field: str):
        """A ProjectFile for a local path (the file checked and registered), else the reference unchanged."""
        if not isinstance(reference, str) or not reference.strip() or is_url(reference):
            return reference
        origin = origin or Location(self.topology.file, node.line)
        key = (origin.file or self.topology.file, reference)
        if key in self._seen:
            return self._seen[key]
        where = Location(origin.file or self.topology.file, origin.line or node.line, node.name, field)
        base = os.path.dirname(os.path.abspath(key[0]))
        source = os.path.realpath(os.path.join(base, reference))
        if os.path.commonpath([self.root, source]) != self.root:
            what = "is an absolute path outside" if os.path.isabs(reference) else "leads out of"
            raise UserInputError("%s %s the template's directory %s; a compiled project carries only files from "
                                 "inside it" % (reference, what, self.root), where)
        if not os.path.isfile(source):
            raise UserInputError("%s: no such file (looked for %s)" % (reference, source), where)
        project_path = "%s/%s" % (PROJECT_DIR, os.path.relpath(source, self.root).replace(os.sep, "/"))
        self.files[project_path] = source
        self._seen[key] = ProjectFile(project_path)
        return self._seen[key]


def is_file_artifact(topology: Topology, artifact: dict) -> bool:
    art_type = artifact.get("type")
    if not isinstance(art_type, str):
        return True  # TOSCA's short notation: a file
    chain = topology.registry.chain("artifact_types", art_type)
    return any(t in chain for t in FILE_ARTIFACT_TYPES) and not any(t in chain for t in NOT_FILES)


def localise(topology: Topology) -> dict:
    """Replace every local file reference of the topology by a ProjectFile; returns {project path: source}."""
    collector = _Collector(topology)
    for name in sorted(topology.nodes):
        node = topology.nodes[name]
        for iface in sorted(node.operations):
            for op_name in sorted(node.operations[iface]):
                operation = node.operations[iface][op_name]
                operation["implementation"] = collector.localise(
                    operation.get("implementation"), operation.get("origin"), node,
                    "interfaces.%s.%s.implementation" % (iface, op_name))
        for art_name in sorted(node.artifacts):
            artifact = node.artifacts[art_name]
            if isinstance(artifact, dict) and is_file_artifact(topology, artifact):
                artifact["file"] = collector.localise(artifact.get("file"), node.artifact_origins.get(art_name),
                                                      node, "artifacts.%s.file" % art_name)
        for req in node.requirements:
            for op_name, operation in req.operations.items():
                operation["implementation"] = collector.localise(
                    operation.get("implementation"), operation.get("origin"), node,
                    "requirements.%s.relationship.interfaces.%s.implementation" % (req.name, op_name))
    return dict(sorted(collector.files.items()))


def read_files(files: dict) -> dict:
    """{project path: bytes}; read before anything is written, so a failure leaves no output."""
    contents = {}
    for project_path, source in files.items():
        try:
            with open(source, "rb") as handle:
                contents[project_path] = handle.read()
        except OSError as exc:
            raise UserInputError("cannot read %s: %s" % (source, exc.strerror or exc), Location(file=source)) from None
    return contents
