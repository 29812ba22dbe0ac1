"""``indigo runs [--deployment D]``, ``indigo runs show|events|verify``, ``indigo show DEPLOYMENT``:
read the audit journal ($INDIGO_HOME/journal.sqlite). Every command takes ``--json``."""

from __future__ import annotations

import datetime
import json
import os
import sys

import click

from tosca2ansible.errors import EnvironmentProblem, UserInputError

JSON_HELP = "print JSON instead of text"


def _journal_file(path=None):
    from tosca2ansible.runtime.journal.store import default_path

    return path or default_path()


def _store(path=None, missing=None):
    """The journal; when there is none yet (nothing has run), None if ``missing`` is None (an empty
    journal: empty lists), else a UserInputError (exit 2) saying ``missing`` is not in it."""
    from tosca2ansible.runtime.journal.store import JournalError, JournalStore

    path = _journal_file(path)
    if not os.path.exists(path):
        if missing is None:
            return None
        raise UserInputError("%s is not in the journal %s (nothing has run with INDIGO_HOME=%s yet)"
                             % (missing, path, os.path.dirname(path)))
    try:
        return JournalStore(path)
    except JournalError as exc:
        raise EnvironmentProblem(str(exc))


def _when(ts):
    if ts is None:
        return "-"
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _dump(data):
    click.echo(json.dumps(data, indent=1, sort_keys=True, default=str))


def _recap_lines(recap):
    for host, counts in sorted((recap or {}).items()):
        yield "  %-32s ok=%-4s changed=%-4s failed=%-4s unreachable=%-4s skipped=%s" % (
            host, counts.get("ok", 0), counts.get("changed", 0), counts.get("failures", 0),
            counts.get("unreachable", 0), counts.get("skipped", 0))


journal_option = click.option("--journal", "journal_path", type=click.Path(dir_okay=False), default=None,
                              help="journal file (default $INDIGO_HOME/journal.sqlite)")


@click.group("runs", invoke_without_command=True)
@click.option("--deployment", "-d", default=None, help="only the runs of this deployment")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@journal_option
@click.pass_context
def runs_group(ctx, deployment, as_json, journal_path):
    """List runs (deploy, undeploy, scale) recorded in the audit journal, oldest first."""
    ctx.ensure_object(dict)
    ctx.obj["journal_path"] = journal_path
    if ctx.invoked_subcommand:
        return
    from tosca2ansible.runtime.journal.query import list_runs

    store = _store(journal_path)
    runs = list_runs(store, deployment) if store is not None else []
    if as_json:
        _dump(runs)
        return
    if not runs:
        click.echo("no runs%s" % (" for deployment %s" % deployment if deployment else ""))
        return
    click.echo("%-44s %-20s %-9s %-19s %-11s %s" % ("RUN", "DEPLOYMENT", "ACTION", "STARTED (UTC)", "STATUS", "RC"))
    for run in runs:
        click.echo("%-44s %-20s %-9s %-19s %-11s %s" % (run["run_id"], run["deployment"] or "-", run["action"] or "-",
                                                       _when(run["started"]), run["status"], "-" if run["rc"] is None else run["rc"]))


def _journal_path(ctx, journal_path):
    return journal_path or (ctx.obj or {}).get("journal_path")


def _run_command(name, query):
    """``indigo runs NAME RUN [--json]``: the journal query ``query`` (runtime/journal/query.py) of RUN,
    dumped as JSON, or printed by the decorated function (whose docstring is the command's help)."""

    def wrap(printer):
        @runs_group.command(name, help=printer.__doc__)
        @click.argument("run")
        @click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
        @journal_option
        @click.pass_context
        def command(ctx, run, as_json, journal_path):
            from tosca2ansible.runtime.journal import query as queries

            data = getattr(queries, query)(_store(_journal_path(ctx, journal_path), "run %r" % run), run)
            if as_json:
                _dump(data)
            else:
                printer(data)

        return command

    return wrap


@_run_command("show", "run_detail")
def show_run(detail):
    """Summary of RUN (id or unique prefix): per-host recap, failed tasks with their messages."""
    summary = detail["run"]
    click.echo("run:        %s" % summary["run_id"])
    click.echo("deployment: %s   action: %s" % (summary["deployment"] or "-", summary["action"] or "-"))
    click.echo("started:    %s   ended: %s" % (_when(summary["started"]), _when(summary["ended"])))
    click.echo("status:     %s   rc: %s" % (summary["status"], "-" if summary["rc"] is None else summary["rc"]))
    click.echo("artifacts:  %s%s" % (summary["artifacts"] or "-", "" if summary["artifacts_present"] or not summary["artifacts"]
                                     else " (no longer on disk: rotated, see INDIGO_KEEP_ARTIFACTS)"))
    click.echo("recap:")
    for line in _recap_lines(detail["recap"]):
        click.echo(line)
    if detail["attempts"]:
        click.echo("attempts:")
        for attempt in detail["attempts"]:
            click.echo("  #%s %s: %s%s" % (attempt["attempt"], attempt["site"], attempt["outcome"],
                                           " (%s) %s" % (attempt["error_class"], attempt["message"] or "") if attempt["error_class"] else ""))
    if detail["resources"]:
        click.echo("resources:")
        for res in detail["resources"]:
            click.echo("  %-8s %-9s %s %s (%s)" % (res["change"], res["kind"], res["resource_id"], res["name"] or "", res["site"] or "-"))
    if detail["failed_tasks"]:
        click.echo("failed tasks:")
        for task in detail["failed_tasks"]:
            click.echo("  %s | %s | %s: %s" % (task["host"], task["task"], task["status"], task["message"] or ""))


@_run_command("events", "run_events")
def run_events_command(events):
    """Task results of RUN, one line per host and task."""
    for event in events:
        click.echo("%s %-28s %-11s %s%s" % (_when(event["ts"]), event["host"], event["status"], event["task"],
                                           (": " + event["message"]) if event["message"] else ""))


@runs_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@journal_option
@click.pass_context
def verify_command(ctx, as_json, journal_path):
    """Recompute the journal's hash chain; exit 1 and name the first edited or removed record."""
    store = _store(_journal_path(ctx, journal_path))
    if store is None:  # nothing recorded yet: an empty chain, intact
        report = {"ok": True, "records": 0, "problems": [], "journal": _journal_file(_journal_path(ctx, journal_path)),
                  "head": None}
    else:
        report = store.verify()
        report["journal"] = store.path
        report["head"] = store.head()
    if as_json:
        _dump(report)
    elif report["ok"] and report["head"] is None:
        click.echo("journal %s: no records yet" % report["journal"])
    elif report["ok"]:
        click.echo("journal %s: %d records, hash chain intact (head #%s %s)" % (
            store.path, report["records"], report["head"]["seq"], report["head"]["hash"]))
    else:
        first = report["problems"][0]
        click.echo("journal %s: TAMPERED: first bad record #%s%s: %s" % (
            store.path, first["seq"], " (%s)" % first["table"] if first["table"] else "", first["problem"]))
        for problem in report["problems"][1:]:
            click.echo("  also #%s%s: %s" % (problem["seq"], " (%s)" % problem["table"] if problem["table"] else "", problem["problem"]))
    if not report["ok"]:
        sys.exit(1)


@click.command("show")
@click.argument("deployment")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@journal_option
def show_deployment(deployment, as_json, journal_path):
    """Status, site, resources, outputs and history of DEPLOYMENT, from the journal."""
    from tosca2ansible.runtime.journal.query import deployment_detail
    from tosca2ansible.runtime.state import indigo_home

    detail = deployment_detail(_store(journal_path, "deployment %r" % deployment), deployment, str(indigo_home()))
    if as_json:
        _dump(detail)
        return
    click.echo("deployment: %s" % deployment)
    click.echo("status:     %s" % detail["status"])
    click.echo("site:       %s" % (detail["site"] or "-"))
    click.echo("owner:      %s   group: %s" % (detail["owner"] or "-", detail["group"] or "-"))
    click.echo("template:   %s" % (detail["template_digest"] or "-"))
    if detail["inputs"]:
        click.echo("inputs:")
        for key, value in sorted(detail["inputs"].items()):
            click.echo("  %s: %s" % (key, json.dumps(value, default=str)))
    click.echo("resources:%s" % ("" if detail["resources"] else " none"))
    for res in detail["resources"]:
        click.echo("  %-9s %s %s (%s)" % (res["kind"], res["resource_id"], res["name"] or "", res["site"] or "-"))
    if detail["outputs"]:
        click.echo("outputs:")
        for key, value in sorted(detail["outputs"].items()):
            click.echo("  %s: %s" % (key, json.dumps(value, default=str)))
    click.echo("history:")
    for row in detail["history"]:
        click.echo("  %s %-18s by %s %s" % (_when(row["ts"]), row["status"], row.get("owner") or "-", row.get("note") or ""))
    for run in detail["runs"]:
        click.echo("  %s run %s %s: %s (rc %s)" % (_when(run["started"]), run["run_id"], run["action"] or "-", run["status"], run["rc"]))


def register(cli):
    cli.add_command(runs_group)
    cli.add_command(show_deployment)
