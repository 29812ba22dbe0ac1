"""``$INDIGO_HOME`` (default ``~/.indigo``): per-deployment state and run artifacts.

    deployments/<id>/project/        the compiled Ansible project
    deployments/<id>/ssh/id_ed25519  the deployment's own SSH key (0600), .pub next to it
    deployments/<id>/deployment.json template, inputs, site, times (no secrets)
    deployments/<id>/secret_inputs.json  inputs whose name says secret/password/token/key (0600)
    deployments/<id>/outputs.json    TOSCA outputs written by deploy.yml
    deployments/<id>/source/         template.yaml as last deployed and the local files it names
                                     (imports, playbooks, artifacts), recompiled by re-deploy and scale
                                     (deployments made before kept a flat template.yaml)
    deployments/<id>/source.json     where the template is in source/ when it imports from a
                                     --types-path folder outside its tree, and those folders' copies
    runs/<run-id>/                   ansible-runner private data dir (artifacts kept)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from tosca2ansible.collection import ensure_importable
from tosca2ansible.errors import EnvironmentProblem, UserInputError



def indigo_home() -> Path:
    return Path(os.environ.get("INDIGO_HOME") or os.path.expanduser("~/.indigo"))


def check_deployment_id(deployment: str) -> str:
    ensure_importable()
    from ansible_collections.indigo.paas.plugins.module_utils import naming

    if not naming.is_deployment_id(deployment):
        raise UserInputError("deployment id %r must match %s" % (deployment, naming.DEPLOYMENT_PATTERN))
    return deployment


class DeploymentState:
    """The files of one deployment under ``$INDIGO_HOME/deployments/<id>``."""

    def __init__(self, deployment: str, home: Optional[Path] = None):
        self.id = check_deployment_id(deployment)
        self.home = home or indigo_home()
        self.dir = self.home / "deployments" / deployment

    @property
    def project_dir(self) -> Path:
        return self.dir / "project"

    @property
    def source_dir(self) -> Path:
        """The deployment's copy of its template, with the local files it names at the same relative paths."""
        return self.dir / "source"

    @property
    def source_record_file(self) -> Path:
        return self.dir / "source.json"

    def _source_record(self) -> Dict[str, Any]:
        try:
            record = json.loads(self.source_record_file.read_text())
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    @property
    def template_file(self) -> Path:
        """The template a re-deploy or scale recompiles (older deployments kept only template.yaml)."""
        relative = self._source_record().get("template")
        copy = self.source_dir / (relative if isinstance(relative, str) else "template.yaml")
        return copy if copy.is_file() else self.dir / "template.yaml"

    def source_types_paths(self) -> List[str]:
        """``PREFIX=DIR`` mappings onto the copies of the --types-path folders the template imported from."""
        return [mapping for mapping in self._source_record().get("types_paths") or [] if isinstance(mapping, str)]

    def keep_source(self, template: Path, sources: Dict[str, str], types_roots=()) -> None:
        """Copy the template and the local files it needs into ``source/``, so that a re-deploy or scale
        recompiles without the user's folders. Files keep their places relative to the template: an import
        ``../common/types.yaml`` (from a --types-path folder) is found the same way in the copy, and each
        such folder is mapped onto its copy (``source.json``, used when compiling from the copy)."""
        ups = max([_ups(relative) for relative in sources] + [0])
        base = Path(os.path.realpath(template)).parent
        for _ in range(ups):
            base = base.parent
        where = Path(os.path.relpath(os.path.realpath(template), base)).parent / "template.yaml"
        staging = self.dir / ".source-new"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        for relative, path in sources.items():
            target = staging / where.parent / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        shutil.copyfile(template, staging / where)
        mappings = []
        for prefix, folder in types_roots:
            real = os.path.realpath(folder)
            if not any(os.path.commonpath([real, path]) == real for path in sources.values()):
                continue  # nothing imported from it: the original mapping (in the record) stays
            relative = os.path.relpath(real, base)
            copy = self.source_dir if _ups(relative) or relative == "." else self.source_dir / relative
            mappings.append("%s=%s" % (prefix, copy))
        record = {"template": where.as_posix(), "types_paths": mappings}
        if self.source_dir.exists():
            shutil.rmtree(self.source_dir)
        staging.rename(self.source_dir)
        _write_private(self.source_record_file, json.dumps(record, indent=1, sort_keys=True))

    @property
    def private_key(self) -> Path:
        return self.dir / "ssh" / "id_ed25519"

    @property
    def public_key_file(self) -> Path:
        return self.private_key.with_suffix(".pub")

    @property
    def outputs_file(self) -> Path:
        return self.dir / "outputs.json"

    @property
    def record_file(self) -> Path:
        return self.dir / "deployment.json"

    @property
    def secret_inputs_file(self) -> Path:
        return self.dir / "secret_inputs.json"

    def exists(self) -> bool:
        return self.record_file.exists()

    def ensure_ssh_key(self) -> str:
        """Create the deployment's ed25519 key pair once; returns the public key line."""
        if not self.private_key.exists():
            self.private_key.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(self.private_key.parent, 0o700)
            try:
                subprocess.run(
                    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "indigo-%s" % self.id, "-f", str(self.private_key)],
                    check=True, capture_output=True, text=True,
                )
            except FileNotFoundError:
                raise EnvironmentProblem("ssh-keygen is missing (Debian package openssh-client)")
        return self.public_key_file.read_text().strip()

    def read_record(self) -> Dict[str, Any]:
        """The record with every input, the secret ones included (read back from their 0600 file)."""
        try:
            record = json.loads(self.record_file.read_text())
        except FileNotFoundError:
            raise UserInputError("no deployment %r under %s" % (self.id, self.home / "deployments"))
        if self.secret_inputs_file.exists():
            record["inputs"] = dict(record.get("inputs") or {}, **json.loads(self.secret_inputs_file.read_text()))
        return record

    def write_record(self, secret_names: Optional[List[str]] = None, **fields: Any) -> Dict[str, Any]:
        """Update the record; inputs secret by the one rule (or in ``secret_names``, the names the compiler
        found secret, kept in the record) go to the 0600 secret_inputs.json only."""
        record = self.read_record() if self.exists() else {"deployment": self.id, "created": time.time()}
        record.update(fields, updated=time.time())
        if secret_names is not None:
            record["secret_names"] = sorted(secret_names)
        self.dir.mkdir(parents=True, exist_ok=True)
        inputs = record.get("inputs") or {}
        declared = set(record.get("secret_names") or ())
        secret = {k: v for k, v in inputs.items() if k in declared or _is_secret_input(k)}
        if secret or self.secret_inputs_file.exists():
            # re-deploy and scale need them again; like the SSH key, they stay readable by the owner only
            _write_private(self.secret_inputs_file, json.dumps(secret, indent=1, sort_keys=True))
        public = dict(record, inputs={k: v for k, v in inputs.items() if k not in secret}) if "inputs" in record else record
        tmp = self.record_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(public, indent=1, sort_keys=True))
        os.replace(tmp, self.record_file)
        return record

    def read_outputs(self) -> Dict[str, Any]:
        try:
            return json.loads(self.outputs_file.read_text())
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise EnvironmentProblem("outputs file %s is not JSON: %s" % (self.outputs_file, exc))


def _ups(relative: str) -> int:
    """How many leading ``..`` a relative path has."""
    parts = Path(relative).parts
    return next((index for index, part in enumerate(parts) if part != ".."), len(parts))


def _is_secret_input(name: str) -> bool:
    from tosca2ansible.collection import secrets_rule

    return secrets_rule().is_secret_name(name)


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
