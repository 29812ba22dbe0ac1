"""The audit journal: deployments, runs, attempts, resources and per-host task events in an
append-only, hash-chained SQLite file (``$INDIGO_HOME/journal.sqlite``). See docs/audit.md.

The store, API and redaction live in the collection (``indigo.paas`` plugin_utils/journal), so that its
callback plugin journals without this framework; ``tosca2ansible.runtime.journal.{api,lease,redact,store}``
remain the same modules under their old names. ``query`` (the CLI's read side) stays here.
"""

from tosca2ansible.collection import alias_package

alias_package(__name__, "ansible_collections.indigo.paas.plugins.plugin_utils.journal", ("api", "lease", "redact", "store"))

# pylint: disable=wrong-import-position
from tosca2ansible.runtime.journal.api import Journal, RunJournal, callback_env, new_run_id, scrub_artifacts, template_digest
from tosca2ansible.runtime.journal.redact import Redactor, redact_tree
from tosca2ansible.runtime.journal.store import JournalError, JournalStore, default_path

__all__ = ["Journal", "RunJournal", "JournalError", "JournalStore", "Redactor", "callback_env", "default_path", "new_run_id",
           "redact_tree", "scrub_artifacts", "template_digest"]
