"""Where the framework's collection lives, and making its module_utils importable from the CLI.

The CLI shares code with the collection (broker core, site catalogue, providers) instead of copying it:
the collection under `collections/` is the one source, on sys.path once.
"""

from __future__ import annotations

import sys
from pathlib import Path

FRAMEWORK_ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS_DIR = FRAMEWORK_ROOT / "collections"


def ensure_importable() -> None:
    if str(COLLECTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS_DIR))


def secrets_rule():
    """The collection's module_utils/secrets.py: the one rule for what is secret (the installed collection
    when Ansible's loader already provides it, as inside the journal callback; else the one beside us)."""
    # pylint: disable=import-outside-toplevel
    try:
        from ansible_collections.indigo.paas.plugins.module_utils import secrets
    except ImportError:
        ensure_importable()
        from ansible_collections.indigo.paas.plugins.module_utils import secrets
    return secrets
