"""`indigo validate` and `indigo compile`."""

from __future__ import annotations

import click

from tosca2ansible.cli.options import STRICT, TYPES_PATH, VERBOSE, collect_inputs, inputs


_TEMPLATE = click.argument("template", type=click.Path(dir_okay=False))


@click.command("validate")
@_TEMPLATE
@TYPES_PATH
@inputs
@STRICT
@VERBOSE
def validate_command(template, types_paths, inputs_file, input_pairs, strict, verbose):
    """Check TEMPLATE against its types without writing anything."""
    from tosca2ansible.compiler import validate_template  # pylint: disable=import-outside-toplevel

    compiled = validate_template(template, collect_inputs(inputs_file, input_pairs), list(types_paths), strict=strict)
    click.echo("%s: valid (deployment %s%s)" % (template, compiled.deployment, say_notices(compiled.notices, verbose)))


@click.command("compile")
@_TEMPLATE
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False),
              help="Directory of the Ansible project to write (replaced if it holds a compiled project).")
@TYPES_PATH
@inputs
@click.option("--deployment", "deployment", help="Deployment id (default: slug of the template file name).")
@click.option("--defer-inputs", is_flag=True,
              help="Allow required inputs without a value: they are asked at launch (AWX survey).")
@STRICT
@VERBOSE
def compile_command(template, output, types_paths, inputs_file, input_pairs, deployment, defer_inputs, strict, verbose):
    """Compile TEMPLATE into an Ansible project in OUTPUT."""
    from tosca2ansible.compiler import compile_template  # pylint: disable=import-outside-toplevel

    compiled = compile_template(template, output, collect_inputs(inputs_file, input_pairs), list(types_paths),
                                deployment, defer_inputs, strict)
    click.echo("compiled %s -> %s (deployment %s%s)" % (template, output, compiled.deployment,
                                                       say_notices(compiled.notices, verbose)))
    if compiled.secret_inputs:
        click.echo("notice: secret inputs are not written into the project; give them at launch, e.g. "
                   "ansible-playbook deploy.yml -e @secrets.yml (a 0600 file defining %s)"
                   % ", ".join(sorted(compiled.secret_inputs)), err=True)


def say_notices(notices: list, verbose: bool, echo=None) -> str:
    """Print the compile's notices and warnings on stderr, each once; returns what the result line adds
    about the bundled type library (named import by import only with -v)."""
    from tosca2ansible.compiler import notice_lines  # pylint: disable=import-outside-toplevel

    lines, bundled = notice_lines(notices, verbose)
    for line in lines:
        (echo or (lambda text: click.echo(text, err=True)))(line)
    if bundled and not verbose:
        return "; bundled INDIGO type library for %d import%s, -v names them" % (bundled, "" if bundled == 1 else "s")
    return ""


def register(cli) -> None:
    cli.add_command(validate_command)
    cli.add_command(compile_command)
