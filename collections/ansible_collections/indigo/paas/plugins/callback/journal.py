# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""Callback plugin indigo.paas.journal: writes the audit journal from inside ansible-playbook."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: journal
type: notification
short_description: Record every run in the INDIGO audit journal
description:
  - Appends the run (start, end, host stats), task results summarised per host (status, failure
    message) and the resources reported created or deleted by M(indigo.paas.instance) (instances, and
    the networks, security groups, key pairs, IPs and volumes in its C(created_resources) and
    C(deleted_resources)) and M(indigo.paas.deployment_teardown) to the hash-chained SQLite journal
    C($INDIGO_HOME/journal.sqlite), each resource change once per run.
  - Works the same under ansible-runner, plain ansible-playbook and AWX; the indigo runtime enables it
    and sets the run id, deployment and action.
  - Never stores module arguments or results of C(no_log) tasks (only their status); masks the values of
    variables whose name says secret/password/token/key/credential and every credential value of the
    site catalogue in every recorded message.
  - Needs nothing outside this collection (its journal store is in the collection's plugin_utils and uses
    only the Python standard library), so it journals from an installed collection or an execution
    environment as well.
version_added: "0.1.0"
requirements:
  - enable in configuration (C(callbacks_enabled = indigo.paas.journal))
options:
  indigo_home:
    description: Directory of the framework's local state; the journal is C(journal.sqlite) in it.
    type: path
    default: ~/.indigo
    env:
      - name: INDIGO_HOME
  journal_path:
    description: Journal file, overriding O(indigo_home).
    type: path
    env:
      - name: INDIGO_JOURNAL
  run_id:
    description: Id of this run (set by the indigo runtime); generated when empty.
    type: str
    env:
      - name: INDIGO_RUN_ID
  deployment:
    description: Deployment id; defaults to the play variable C(indigo_deployment_id).
    type: str
    env:
      - name: INDIGO_DEPLOYMENT
  action:
    description: deploy, undeploy, scale, ...; defaults to the playbook file name without extension.
    type: str
    env:
      - name: INDIGO_ACTION
  catalogue:
    description:
      - Site catalogue whose credential values are masked; defaults to the extra var C(indigo_catalogue),
        then C(inventories/sites) next to the playbook.
    type: path
    env:
      - name: INDIGO_SITES
"""

import os

from ansible.plugins.callback import CallbackBase

from ansible_collections.indigo.paas.plugins.plugin_utils.journal import api, redact, rows

FLUSH_EVERY = 50


def _get(result, name):
    """CallbackTaskResult attributes: public names since ansible-core 2.19, underscored before."""
    value = getattr(result, name, None)
    return value if value is not None else getattr(result, "_" + name, None)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "indigo.paas.journal"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display=display)
        self._journal = None
        self._pending = []
        self._run_id = None
        self._deployment = None
        self._action = None
        self._playbook_dir = None
        self._play_name = None
        self._started = False
        self._secrets_loaded = False

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super(CallbackModule, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._redact = redact
        try:
            path = self.get_option("journal_path") or os.path.join(
                os.path.expanduser(self.get_option("indigo_home") or "~/.indigo"), "journal.sqlite")
            self._journal = api.Journal(path)
            self._api = api
        except Exception as exc:  # the journal must never break a deployment; say why it is off
            self._display.warning("indigo.paas.journal disabled: %s" % exc)
            self.disabled = True
            return
        self._run_id = self.get_option("run_id") or None
        self._deployment = self.get_option("deployment") or None
        self._action = self.get_option("action") or None

    # ---------------------------------------------------------------- helpers
    def _append(self, table, **values):
        self._pending.append((table, values))
        if len(self._pending) >= FLUSH_EVERY:
            self._flush()

    def _flush(self):
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        try:
            self._journal.store.append_many(rows)
        except Exception as exc:
            self._display.warning("indigo.paas.journal could not write %d record(s): %s" % (len(rows), exc))

    def _load_secrets(self, play):
        """Secret-named play/inventory/extra variables (as seen by the play's first host) and, once, the
        site catalogue's credential values."""
        extra = {}
        found = set()
        try:
            manager = play.get_variable_manager()
            extra = dict(manager.extra_vars or {})
            hosts = manager._inventory.get_hosts(play.hosts) if manager._inventory else []
            variables = manager.get_vars(play=play, host=hosts[0] if hosts else None, include_hostvars=False)
            found |= self._redact.secret_values_from_vars(variables)
            if self._deployment is None and isinstance(variables.get("indigo_deployment_id"), str):
                self._deployment = variables["indigo_deployment_id"]
        except Exception as exc:
            self._display.vvv("indigo.paas.journal: play variables not read for redaction: %s" % exc)
        # the runtime names the variables it passes as secret (some are secret by TOSCA type, not by name)
        declared = [name for name in os.environ.get("INDIGO_SECRET_VARS", "").split(",") if name]
        found |= self._redact.secret_values_from_vars(extra, declared)
        if not self._secrets_loaded:  # the catalogue's credentials do not change during a run
            self._secrets_loaded = True
            catalogue = self.get_option("catalogue") or extra.get("indigo_catalogue") or (
                os.path.join(self._playbook_dir, "inventories", "sites") if self._playbook_dir else None)
            found |= self._redact.site_secret_values(catalogue if isinstance(catalogue, str) else None)
        self._journal.add_secrets(found)

    def _start_run(self):
        if self._started:
            return
        self._started = True
        if not self._run_id:
            self._run_id = self._api.new_run_id(self._deployment or "none", self._action or "run")
        self._append("runs", run_id=self._run_id, deployment=self._deployment, action=self._action,
                     phase="started", source="callback")
        self._flush()

    def _message(self, res):
        return rows.result_message(res, self._journal.redactor)

    def _record_result(self, result, status, with_message):
        task = _get(result, "task")
        host = _get(result, "host")
        res = _get(result, "result") or {}
        no_log = rows.is_no_log(res, getattr(task, "no_log", False))
        self._append("host_events", run_id=self._run_id, deployment=self._deployment,
                     host=host.get_name() if host is not None else None, play=self._play_name,
                     task=task.get_name() if task is not None else None,
                     action=getattr(task, "action", None), status=status,
                     message=("(output hidden: no_log)" if no_log else self._message(res)) if with_message else None)
        if not no_log and status in ("ok", "changed"):
            self._record_resources(res, task)

    def _record_resources(self, res, task):
        """One row per resource. Each is reported once, by the module call that created or deleted it (the
        providers return what their calls made), so nothing here deduplicates."""
        for change, site, kind, resource_id, values in rows.resource_rows(
                res, getattr(task, "action", None), getattr(task, "args", None), self._deployment, self._journal.redactor):
            values.setdefault("deployment", self._deployment)
            self._append("resources", run_id=self._run_id, site=site, kind=kind, resource_id=resource_id,
                         change=change, **values)

    # ---------------------------------------------------------------- events
    def v2_playbook_on_start(self, playbook):
        file_name = getattr(playbook, "_file_name", None) or ""
        self._playbook_dir = os.path.dirname(os.path.abspath(file_name)) if file_name else None
        if not self._action and file_name:
            self._action = os.path.splitext(os.path.basename(file_name))[0]

    def v2_playbook_on_play_start(self, play):
        self._flush()
        self._play_name = play.get_name()
        self._load_secrets(play)  # every play: later plays may define more secret-named variables
        self._start_run()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._flush()

    def v2_runner_on_ok(self, result):
        res = _get(result, "result") or {}
        self._record_result(result, "changed" if res.get("changed") else "ok", False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record_result(result, "ignored" if ignore_errors else "failed", True)

    def v2_runner_on_unreachable(self, result):
        self._record_result(result, "unreachable", True)

    def v2_runner_on_skipped(self, result):
        self._record_result(result, "skipped", False)

    def v2_playbook_on_stats(self, stats):
        self._start_run()
        per_host = {}
        for host in sorted(stats.processed.keys()):
            per_host[host] = stats.summarize(host)
        rc, outcome = rows.finished_row(per_host)
        self._append("runs", run_id=self._run_id, deployment=self._deployment, action=self._action,
                     phase="finished", rc=rc, status=outcome, stats_json=per_host, source="callback")
        status = rows.deployment_status(self._action, rc)
        if self._deployment and status:  # other playbooks do not change what the deployment is
            self._flush()
            try:
                self._journal.record_deployment(self._deployment, status, note="run %s (%s)" % (self._run_id, self._action))
            except Exception as exc:
                self._display.warning("indigo.paas.journal could not record the deployment status: %s" % exc)
        self._flush()
