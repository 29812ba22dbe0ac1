"""The audit journal: deployments, runs, attempts, resources and per-host task events in an
append-only, hash-chained SQLite file (``$INDIGO_HOME/journal.sqlite``). See docs/audit.md."""

from tosca2ansible.runtime.journal.api import Journal, RunJournal, callback_env, new_run_id, scrub_artifacts, template_digest
from tosca2ansible.runtime.journal.redact import Redactor, redact_tree
from tosca2ansible.runtime.journal.store import JournalError, JournalStore, default_path

__all__ = ["Journal", "RunJournal", "JournalError", "JournalStore", "Redactor", "callback_env", "default_path", "new_run_id",
           "redact_tree", "scrub_artifacts", "template_digest"]
