"""What the tests share, in one place: the repository's paths, the TOSCA template text every test template
starts with (and its plain Compute nodes), the broker request of a template, and the `indigo` command run
in-process (click's runner).

Import from here (``from tests.helpers import ROOT, tosca``) rather than computing a path or writing the
template header again in a test file."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]  # the repository
VENV_BIN = Path(sys.executable).parent  # this environment's scripts (CI runs without the venv on PATH)
EXAMPLES = ROOT / "examples"

INDIGO_IMPORTS = """\
tosca_definitions_version: tosca_simple_yaml_1_0
imports:
  - indigo_custom_types: https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml
"""


def tosca(topology: str, description: str = "") -> str:
    """A TOSCA template importing the INDIGO custom types whose ``topology_template`` holds ``topology``
    (its ``inputs:``, ``node_templates:``... written at any indentation: it is dedented, then indented under
    ``topology_template``)."""
    return (INDIGO_IMPORTS + ("description: %s\n" % description if description else "") + "topology_template:\n"
            + textwrap.indent(textwrap.dedent(topology), "  "))


DEBIAN = '{distribution: debian, version: "13", type: linux}'


def compute(name: str, host: str = "{num_cpus: 1, mem_size: 1 GB}", os: str = DEBIAN, count=None) -> str:
    """A ``tosca.nodes.indigo.Compute`` node template for ``node_templates`` (indented by two spaces, for
    :func:`tosca`): its ``host`` and ``os`` capability properties (flow maps) and ``scalable`` count."""
    scalable = "" if count is None else "      scalable:\n        properties: {count: %s}\n" % count
    return ("  %s:\n    type: tosca.nodes.indigo.Compute\n    capabilities:\n%s"
            "      host:\n        properties: %s\n      os:\n        properties: %s\n" % (name, scalable, host, os))


def broker_request(tmp_path, template: str):
    """The broker request ``indigo deploy --site auto`` makes of ``template`` (written to tmp_path/vm.yaml)."""
    from tosca2ansible import brokering  # pylint: disable=import-outside-toplevel

    path = tmp_path / "vm.yaml"
    path.write_text(template)
    topology, plan = brokering.analyse(str(path), {}, [])
    return brokering.request_from_topology(topology, plan)


class _ProjectLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Reads compiled YAML, `!unsafe` strings as ('UNSAFE', text)."""


_ProjectLoader.add_constructor("!unsafe", lambda loader, node: ("UNSAFE", loader.construct_scalar(node)))


def load_project_yaml(path):
    """A file of a compiled project, its `!unsafe` strings visible as ('UNSAFE', text)."""
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_ProjectLoader)  # nosec B506


def write_template(tmp_path, text: str, name: str = "t.yaml") -> str:
    """``text`` written to tmp_path/name; its path."""
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def localhost_stand_in(tmp_path, groups):
    """A catalogue of one local site (its state in tmp_path/localsite: a count-0 project creates nothing)
    in tmp_path/sites, and tmp_path/hosts.yml standing localhost in for the Compute ``groups`` and the
    deployment: (sites folder, hosts.yml)."""
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "local.yml").write_text("sites:\n  - name: local\n    kind: local\n    local: {state_dir: %s}\n"
                                     % (tmp_path / "localsite"))
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(
        "all:\n  hosts:\n    localhost: {ansible_connection: local, ansible_python_interpreter: %s, IM_NODE_PRIVATE_IP: 127.0.0.1}\n"
        "  children:\n%s" % (sys.executable, "".join("    %s: {hosts: {localhost: {}}}\n" % g
                                                      for g in list(groups) + ["indigo_deployment"])))
    return sites, hosts


def indigo(*args, **kwargs):
    """``indigo ARGS`` in this process; click's Result (``exit_code``, ``output``, ``exception``)."""
    from click.testing import CliRunner  # pylint: disable=import-outside-toplevel

    from tosca2ansible.cli import _register, cli  # pylint: disable=import-outside-toplevel

    _register()
    return CliRunner().invoke(cli, [str(arg) for arg in args], **kwargs)


def wait_for(what, check, timeout, every=5):
    """``check()``'s first truthy value, polled every ``every`` s; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ds waiting for %s" % (timeout, what))
        time.sleep(every)


def scale_journal(show_json):
    """From ``indigo show D --json``: the trigger of each scale run (deployment history), and the scale runs."""
    detail = json.loads(show_json)
    triggers = [row["note"] for row in detail["history"] if row["status"] == "scaling"]
    return triggers, [r for r in detail["runs"] if r["action"] in ("scale-out", "scale-in")]
