"""Where the framework finds its collection `indigo.paas`, which it depends on (never the reverse).

The CLI shares code with the collection (broker core, site catalogue, providers, journal store, local
site) instead of copying it. The collection is found, in order, as an importable Python package
(``ansible_collections.indigo.paas``: shipped inside the framework's wheel, or installed by
``ansible-galaxy`` on ``ANSIBLE_COLLECTIONS_PATH``), else in this source checkout's ``collections/``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Iterable

PACKAGE = "ansible_collections.indigo.paas"
CHECKOUT_COLLECTIONS = Path(__file__).resolve().parent.parent / "collections"


def _importable() -> bool:
    try:
        return importlib.util.find_spec(PACKAGE) is not None
    except ImportError:
        return False


def _candidate_paths() -> Iterable[str]:
    for entry in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        if entry:
            yield os.path.expanduser(entry)
    if (CHECKOUT_COLLECTIONS / "ansible_collections" / "indigo" / "paas" / "galaxy.yml").is_file():
        yield str(CHECKOUT_COLLECTIONS)


def ensure_importable() -> None:
    """Make ``ansible_collections.indigo.paas`` importable; raise ImportError naming where it was looked for."""
    if _importable():
        return
    tried = []
    for path in _candidate_paths():
        tried.append(path)
        if os.path.isdir(os.path.join(path, "ansible_collections", "indigo", "paas")):
            sys.path.append(path)
            importlib.invalidate_caches()
            if _importable():
                return
    raise ImportError("the indigo.paas collection is not installed (looked in the Python path and %s); install the "
                      "framework's wheel or the collection (ansible-galaxy collection install)" % (tried or "nowhere"))


def collections_root() -> Path:
    """The directory holding ``ansible_collections/indigo/paas`` (for ANSIBLE_COLLECTIONS_PATH of runs)."""
    ensure_importable()
    module = importlib.import_module(PACKAGE)
    paas = Path(next(iter(module.__path__)))
    return paas.parent.parent.parent


def alias_package(name: str, target: str, submodules: Iterable[str]) -> types.ModuleType:
    """Keep the old import path ``name`` (and ``name.<sub>``) working for a package that moved into the
    collection as ``target``: the very same module objects under both names."""
    ensure_importable()
    package = importlib.import_module(target)
    for sub in submodules:
        sys.modules["%s.%s" % (name, sub)] = importlib.import_module("%s.%s" % (target, sub))
    return package


@functools.lru_cache(maxsize=1)
def collection_version() -> str:
    """``version`` of the collection's galaxy.yml (MANIFEST.json in a built/installed collection)."""
    import json

    import yaml

    root = collections_root() / "ansible_collections" / "indigo" / "paas"
    if (root / "galaxy.yml").is_file():
        with open(root / "galaxy.yml", encoding="utf-8") as handle:
            return str(yaml.safe_load(handle)["version"])
    with open(root / "MANIFEST.json", encoding="utf-8") as handle:
        return str(json.load(handle)["collection_info"]["version"])


def secrets_rule():
    """The collection's module_utils/secrets.py: the one rule for what is secret."""
    ensure_importable()
    from ansible_collections.indigo.paas.plugins.module_utils import secrets  # pylint: disable=import-outside-toplevel

    return secrets
