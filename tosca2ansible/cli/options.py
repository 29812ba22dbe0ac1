"""The options several commands share: one name, one help text and one parser per concept.

- ``--sites PATH``: the site catalogue (dir or file);
- ``--types-path PREFIX=DIR``: offline mapping of import URLs to folders;
- ``-i/--input NAME=VALUE`` and ``--inputs FILE``: input values, parsed by ``collect_inputs``;
- ``--json``: one JSON document on stdout;
- ``--group``: the user group whose SLAs apply;
- ``--execution-node NODE``: run the playbook on a receptor execution node (``$INDIGO_EXECUTION_NODE``).
"""

from __future__ import annotations

import click

from tosca2ansible.errors import Location, UserInputError

SITES = click.option("--sites", "sites_path", type=click.Path(),
                     help="Site catalogue (dir or file); default $INDIGO_SITES, then inventories/sites.")
TYPES_PATH = click.option("--types-path", "types_paths", multiple=True, metavar="PREFIX=DIR",
                          help="Resolve imports starting with PREFIX from the local folder DIR (repeatable). "
                               "Also read from $INDIGO_TYPES_PATH (';'-separated).")
INPUTS_FILE = click.option("--inputs", "inputs_file", type=click.Path(dir_okay=False),
                           help="YAML file with input values.")
INPUT = click.option("-i", "--input", "input_pairs", multiple=True, metavar="NAME=VALUE",
                     help="One input value (repeatable). Text is used literally for string inputs.")
STRICT = click.option("--strict", is_flag=True,
                      help="Names the types do not declare (policy properties, long-form requirements), which the "
                           "reference systems ignored, are errors instead of warnings.")
VERBOSE = click.option("-v", "--verbose", is_flag=True, help="Also list the imports read from the bundled type library.")
JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


def _execution_node(ctx, param, value):  # pylint: disable=unused-argument
    """The runner setting is the environment variable: every run of this command reads it."""
    import os  # pylint: disable=import-outside-toplevel

    if value is not None:
        if not value.strip():
            raise UserInputError("--execution-node must not be empty", Location(field="--execution-node"))
        os.environ["INDIGO_EXECUTION_NODE"] = value
    return value


EXECUTION_NODE = click.option("--execution-node", metavar="NODE", callback=_execution_node, expose_value=False,
                              help="Run the job on this receptor execution node (ansible-runner transmit, receptor "
                                   "work submit, ansible-runner process) [default: $INDIGO_EXECUTION_NODE, else here].")


def group(default=None, help_text="User group whose SLAs apply."):
    return click.option("--group", default=default, show_default=default is not None, help=help_text)


def inputs(func):
    """``--inputs FILE`` and ``-i NAME=VALUE`` (the command receives ``inputs_file`` and ``input_pairs``)."""
    return INPUTS_FILE(INPUT(func))


def collect_inputs(inputs_file, pairs) -> dict:
    """Values from `--inputs FILE` (YAML mapping), then `-i name=value` (later wins). Text typed on the
    command line is CliText: the compiler parses it by the input's declared type."""
    from tosca2ansible.compiler import yamlload  # pylint: disable=import-outside-toplevel
    from tosca2ansible.compiler.model import CliText  # pylint: disable=import-outside-toplevel

    values: dict = {}
    if inputs_file:
        data = yamlload.load_yaml_file(inputs_file)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise UserInputError("an inputs file must be a mapping of input name to value", Location(file=inputs_file))
        values.update({str(k): yamlload.plain(v) for k, v in data.items()})
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UserInputError("-i expects NAME=VALUE, got %r" % pair, Location(field="-i"))
        values[name] = CliText(value)
    return values
