"""Keep secrets out of the journal, the run artifacts and progress lines.

Three sources of secrets: results of ``no_log`` tasks (Ansible censors them before any callback sees
them; the journal additionally never stores anything but the status of such results), variables or
inputs that are secret by the one rule (``module_utils/secrets.py`` of the collection: declared, then
name, then value), and the credential *values* of the site catalogue (resolved the same way modules
resolve them). Secret values are replaced wherever they occur, also inside longer strings (an error message
quoting a password). Only the standard library is used
here (and in the collection's secrets rule) so the callback plugin can load this module.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, Iterable, Mapping, Optional, Set

from ansible_collections.indigo.paas.plugins.module_utils import secrets as _RULE  # the one rule

MASK = _RULE.MASK
MIN_SECRET_LEN = _RULE.MIN_SECRET_LEN
is_secret_name = _RULE.is_secret_name
secret_values_from_vars = _RULE.secret_values_from_vars
_leaf_strings = _RULE.leaf_strings


def site_secret_values(catalogue: Optional[str], environ: Optional[Mapping[str, str]] = None) -> Set[str]:
    """Every credential value the sites of ``catalogue`` (and its data services) resolve to (sites that fail
    to resolve add nothing: they cannot have leaked what could not be read)."""
    catalogue = os.path.expanduser(catalogue) if catalogue else None
    if not catalogue or not os.path.exists(catalogue):
        return set()
    from ansible_collections.indigo.paas.plugins.module_utils import credentials, sites
    try:
        loaded = sites.load_catalogue(catalogue)
    except Exception:  # an invalid catalogue is reported by the modules; nothing resolvable here
        return set()
    if isinstance(loaded, Mapping):
        loaded = list(loaded.values())
    found: Set[str] = set()
    for site in loaded or []:
        try:
            resolved = credentials.resolve_credentials(site, os.environ if environ is None else environ)
        except Exception:
            continue
        resolved = {k: v for k, v in resolved.items() if k != "cloud"}  # a clouds.yaml entry name, not a secret
        found.update(s for s in _leaf_strings(resolved) if len(s) >= MIN_SECRET_LEN)
    return found | data_service_secret_values(catalogue, environ)


def data_service_secret_values(catalogue: str, environ: Optional[Mapping[str, str]] = None) -> Set[str]:
    """Every credential value the catalogue's ``data_services`` (Rucio, Onezone, Dynafed, endpoints) resolve to: the
    data modules resolve them in the run's environment, which ansible-runner writes to its artifacts."""
    from ansible_collections.indigo.paas.plugins.module_utils import credentials
    from ansible_collections.indigo.paas.plugins.module_utils.data.locate import endpoint_credentials, load_data_services

    found: Set[str] = set()
    for name, config in load_data_services(catalogue).items():
        if not isinstance(config, Mapping) or not config.get("credentials"):
            continue
        try:
            resolved = credentials.resolve_credentials({"name": "data_services.%s" % name,
                                                        "credentials": config["credentials"]},
                                                       os.environ if environ is None else environ)
        except Exception:  # pylint: disable=broad-except  # unresolvable: nothing of it can have leaked
            continue
        found.update(s for s in _leaf_strings(resolved) if len(s) >= MIN_SECRET_LEN)
    found.update(s for s in _leaf_strings(endpoint_credentials(catalogue, environ)) if len(s) >= MIN_SECRET_LEN)
    return found


class Redactor:
    """Masks secret-named keys and known secret values in strings and nested data."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets: Set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets.update(str(s) for s in secrets if s is not None and len(str(s)) >= MIN_SECRET_LEN)
        # longest first so a secret containing another one is masked whole
        self._ordered = sorted(self.secrets, key=len, reverse=True)

    def text(self, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        value = str(value)
        for secret in self._ordered:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def data(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: (MASK if is_secret_name(key) and item not in (None, "", {}, []) else self.data(item))
                    for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and str(value) in self.secrets:
            return MASK
        return value


def _encoded_forms(secret: str) -> Set[bytes]:
    forms = {secret.encode("utf-8"), json.dumps(secret)[1:-1].encode("utf-8"),
             json.dumps(secret, ensure_ascii=False)[1:-1].encode("utf-8")}
    return {f for f in forms if f}


def redact_tree(path, secrets: Iterable[str]) -> int:
    """Replace every secret value (raw or JSON-escaped) in every file under ``path`` (an ansible-runner
    private data dir or its artifacts dir). Files are rewritten atomically with their mode kept.
    Returns the number of files changed."""
    forms = set()
    for secret in secrets:
        if secret is not None and len(str(secret)) >= MIN_SECRET_LEN:
            forms |= _encoded_forms(str(secret))
    ordered = sorted(forms, key=len, reverse=True)
    mask = MASK.encode()
    changed = 0
    if not ordered:
        return 0
    for root, _dirs, files in os.walk(str(path)):
        for name in files:
            file_path = os.path.join(root, name)
            if os.path.islink(file_path) or not os.path.isfile(file_path):
                continue
            with open(file_path, "rb") as handle:
                content = handle.read()
            scrubbed = content
            for form in ordered:
                scrubbed = scrubbed.replace(form, mask)
            if scrubbed != content:
                mode = os.stat(file_path).st_mode & 0o7777
                fd, tmp = tempfile.mkstemp(dir=root, prefix=".redact-")
                with os.fdopen(fd, "wb") as handle:
                    handle.write(scrubbed)
                os.chmod(tmp, mode)
                os.replace(tmp, file_path)
                changed += 1
    return changed


def secrets_for_run(catalogue: Optional[str] = None, variables: Optional[Mapping[str, Any]] = None,
                    environ: Optional[Mapping[str, str]] = None) -> Set[str]:
    """The set of secret values for one run: site credentials plus secret-named variables/inputs."""
    return site_secret_values(catalogue, environ) | secret_values_from_vars(variables)


def redact_inputs(inputs: Optional[Dict[str, Any]], secrets: Iterable[str] = (),
                  secret_names: Iterable[str] = ()) -> Dict[str, Any]:
    """Inputs with secret ones (by the rule or named in ``secret_names``: declared secret) masked."""
    names = set(secret_names)
    masked = {k: (MASK if k in names and v not in (None, "", {}, []) else v) for k, v in dict(inputs or {}).items()}
    return Redactor(set(secrets) | secret_values_from_vars(inputs, names)).data(masked)
