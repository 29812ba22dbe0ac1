"""The `indigo` command line. Each command group lives in its own module and is added here."""

from __future__ import annotations

import logging
import os
import sys

import click

from tosca2ansible import __version__
from tosca2ansible.errors import IndigoError


class IndigoGroup(click.Group):
    """Turns every IndigoError into one clear line on stderr and its exit code: never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except IndigoError as exc:
            click.echo("error: %s" % exc, err=True)
            sys.exit(exc.exit_code)


@click.group(cls=IndigoGroup)
@click.version_option(__version__, prog_name="indigo")
def cli():
    """INDIGO PaaS: compile TOSCA templates to Ansible and deploy them on sites."""


def _register():
    # Imported here so `indigo --help` stays fast and one command's import problem is its own.
    from tosca2ansible.cli import compile_cmd  # noqa: F401  validate, compile

    compile_cmd.register(cli)
    from tosca2ansible.cli import deploy_cmd  # deploy, status, outputs, undeploy, ssh

    deploy_cmd.register(cli)
    from tosca2ansible.cli import scale_cmd  # scale

    scale_cmd.register(cli)
    from tosca2ansible.cli import runs_cmd  # runs, runs show|events|verify, show (audit journal)

    runs_cmd.register(cli)
    from tosca2ansible.cli import sites_cmd  # sites, rank (broker)

    sites_cmd.register(cli)
    from tosca2ansible.cli import elastic_cmd  # elastic reconcile|run|status (elastic pools)

    elastic_cmd.register(cli)
    from tosca2ansible.cli import mesh_cmd  # mesh start|status|stop (receptor execution nodes)

    mesh_cmd.register(cli)


def _private_files() -> None:
    """Everything this process creates (state, journal with its WAL/SHM, projects, run artifacts, and what
    ansible-playbook writes as our child) is readable by the owner only; $INDIGO_HOME itself 0700."""
    os.umask(0o077)
    home = os.environ.get("INDIGO_HOME") or os.path.expanduser("~/.indigo")
    try:
        if os.path.isdir(home) and not os.path.islink(home) and os.stat(home).st_uid == os.getuid():
            os.chmod(home, 0o700)
    except OSError:
        pass


def main(argv=None):
    _private_files()
    # tosca-parser logs warnings (e.g. 'Minor version assumed "0".') that our own validation already
    # reports precisely; keep the user's terminal for our messages.
    logging.getLogger("tosca").setLevel(logging.ERROR)
    _register()
    cli.main(args=argv, prog_name="indigo")
