"""``indigo elastic reconcile|run|status DEPLOYMENT``: the controller of elastic pools (docs/elastic.md)."""

from __future__ import annotations

import json
import time

import click


@click.group("elastic")
def elastic_group():
    """Grow and shrink the worker pool of an elastic deployment (ElasticCluster) from its LRMS queue."""


@elastic_group.command("reconcile")
@click.argument("deployment")
@click.option("--wait", "wait_lease", is_flag=True, help="wait for another controller's pass instead of failing (exit 4)")
@click.option("--json", "as_json", is_flag=True, help="print the pass as one JSON object")
def reconcile_command(deployment, wait_lease, as_json):
    """One idempotent pass: read the site and the LRMS, power workers up or down, journal each scale run."""
    from tosca2ansible.cli.deploy_cmd import _progress
    from tosca2ansible.elastic import controller

    report = controller.reconcile(deployment, progress=None if as_json else _progress, wait_lease=wait_lease)
    click.echo(json.dumps(report, indent=2, sort_keys=True) if as_json else controller.summary_line(report))


@elastic_group.command("run")
@click.argument("deployment")
@click.option("--interval", default=15.0, show_default=True, type=click.FloatRange(1), help="seconds between passes")
@click.option("--passes", type=click.IntRange(1), help="stop after this many passes (default: run until stopped)")
def run_command(deployment, interval, passes):
    """Reconcile DEPLOYMENT every --interval seconds (a daemon; a systemd timer or AWX schedule can run
    `reconcile` instead)."""
    from tosca2ansible.cli.deploy_cmd import _progress
    from tosca2ansible.elastic import controller

    controller.run_loop(deployment, interval, passes, progress=_progress, echo=click.echo)


@elastic_group.command("status")
@click.argument("deployment")
@click.option("--json", "as_json", is_flag=True)
def status_command(deployment, as_json):
    """The pool as the last pass saw it: each worker slot and why nodes wait."""
    for line in pool_lines(deployment, as_json):
        click.echo(line)


def pool_lines(deployment, as_json=False):
    from tosca2ansible.elastic import controller
    from tosca2ansible.runtime.state import DeploymentState

    state = DeploymentState(deployment)
    state.read_record()
    config = controller.pool_config(state)
    report = controller.read_pool_state(state)
    if as_json:
        return [json.dumps({"config": config, "last_pass": report}, indent=2, sort_keys=True)]
    lines = ["elastic pool (%s, %s..%s workers):" % (config["lrms"], config["min_instances"], config["max_instances"])]
    if not report:
        return lines + ["  no reconcile pass yet: run `indigo elastic reconcile %s`" % deployment]
    lines.append("  last pass %ds ago; pending jobs: %s" % (time.time() - report["checked"],
                                                         ",".join(report.get("pending_jobs") or []) or "none"))
    for row in controller.pool_rows(report):
        lines.append("  %-16s %-12s %s" % (row["name"], row["state"], row["lrms"]))
    for wait in report.get("waits") or []:
        lines.append("  waiting: %s" % wait)
    return lines


def echo_pool_if_elastic(deployment):
    """`indigo status` of an elastic deployment also shows its pool."""
    from tosca2ansible.runtime.state import DeploymentState

    if (DeploymentState(deployment).project_dir / "elastic.yml").is_file():
        for line in pool_lines(deployment):
            click.echo(line)


def register(cli):
    cli.add_command(elastic_group)
