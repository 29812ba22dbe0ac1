"""Every class of bad input: one clear message with file, line, node and field; exit code 2; no output."""

from __future__ import annotations

import os
import textwrap

import pytest


from tests.fixtures.corpus import PRESENT, TYPES_MAPPING
from tests.helpers import indigo, tosca

TYPES_ARGS = ["--types-path", TYPES_MAPPING] if PRESENT else []
HEADER = tosca("""\
""")
GOOD_NODES = """\
          node_templates:
            fe:
              type: tosca.nodes.indigo.LRMS.FrontEnd.Slurm
              requirements:
                - host: vm
            vm:
              type: tosca.nodes.indigo.Compute
        """



def run_compile(tmp_path, text, *extra, raw=False, names_file=True):
    template = tmp_path / "bad.yaml"
    template.write_text(text if raw else HEADER + textwrap.indent(textwrap.dedent(text), "  "))
    out = tmp_path / "out"
    result = indigo("compile", str(template), "-o", str(out), *TYPES_ARGS, *extra)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not out.exists(), "no output directory may be left behind"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"], "no staging directory left behind"
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    if names_file:
        assert str(template) in lines[0]
    return lines[0]


def test_yaml_syntax_error_names_the_line(tmp_path):
    message = run_compile(tmp_path, HEADER + "  node_templates:\n    vm: {type: [unclosed\n", raw=True)
    assert "YAML syntax error" in message and "bad.yaml:7" in message
    assert "while parsing a flow sequence started on line 6" in message


def test_unknown_type(tmp_path):
    message = run_compile(tmp_path, """\
          node_templates:
            vm:
              type: tosca.nodes.indigo.Computer
        """)
    assert "bad.yaml:7, node vm, field type: unknown node type 'tosca.nodes.indigo.Computer'" in message


def test_missing_required_input(tmp_path):
    message = run_compile(tmp_path, """\
          inputs:
            password: {type: string}
""" + GOOD_NODES)
    assert "bad.yaml:6, field inputs.password: required input password has no default" in message


def test_wrong_input_type(tmp_path):
    message = run_compile(tmp_path, """\
          inputs:
            count: {type: integer, default: 1}
""" + GOOD_NODES, "-i", "count=many")
    assert "field inputs.count" in message and '"many" is not an integer' in message


def test_wrong_default_type(tmp_path):
    message = run_compile(tmp_path, """\
          inputs:
            count: {type: integer, default: many}
""" + GOOD_NODES)
    assert "bad.yaml:6, field inputs.count.default" in message and "not an integer" in message


def test_constraint_violation(tmp_path):
    message = run_compile(tmp_path, """\
          inputs:
            size: {type: string, default: small, constraints: [{valid_values: [small, large]}]}
""" + GOOD_NODES, "-i", "size=huge")
    assert "field inputs.size" in message and "huge" in message and "valid" in message


def test_property_of_wrong_type(tmp_path):
    message = run_compile(tmp_path, """\
          node_templates:
            vm:
              type: tosca.nodes.indigo.Compute
              capabilities:
                host:
                  properties:
                    num_cpus: lots
        """)
    assert "bad.yaml:11, node vm, field capabilities.host.properties.num_cpus" in message
    assert "not an integer" in message


def test_unknown_property_under_strict(tmp_path):
    """By default an undeclared node property is a warning (tests/unit/test_templates_drift.py)."""
    message = run_compile(tmp_path, """\
          node_templates:
            vm:
              type: tosca.nodes.indigo.Compute
              properties:
                flavour: big
        """, "--strict")
    assert "bad.yaml:9, node vm, field properties.flavour: unknown property flavour" in message
    assert message.endswith("(--strict)")


def test_dangling_requirement(tmp_path):
    message = run_compile(tmp_path, """\
          node_templates:
            fe:
              type: tosca.nodes.indigo.LRMS.FrontEnd.Slurm
              requirements:
                - host: nowhere
        """)
    assert "bad.yaml:9, node fe, field requirements.host" in message and "nowhere" in message


def test_dependency_cycle_is_named(tmp_path):
    message = run_compile(tmp_path, """\
          node_templates:
            a:
              type: tosca.nodes.SoftwareComponent
              requirements:
                - host: vm
                - dependency: b
            b:
              type: tosca.nodes.SoftwareComponent
              requirements:
                - host: vm
                - dependency: a
            vm:
              type: tosca.nodes.indigo.Compute
        """)
    assert "dependency cycle: a -> b -> a" in message and "node" in message


def test_unresolvable_import(tmp_path, monkeypatch):
    monkeypatch.delenv("INDIGO_TYPES_PATH", raising=False)
    message = run_compile(tmp_path, """\
        tosca_definitions_version: tosca_simple_yaml_1_0
        imports:
          - mine: https://example.org/nothing/here.yaml
        topology_template:
          node_templates:
            vm: {type: tosca.nodes.Compute}
        """.replace("        ", ""), raw=True)
    assert "bad.yaml:3, field imports: cannot resolve import https://example.org/nothing/here.yaml offline" in message


def test_tosca_parser_exceptions_are_wrapped(tmp_path):
    """A list entry of the wrong shape makes tosca-parser raise a raw exception: still one clean line."""
    message = run_compile(tmp_path, """\
          node_templates:
            vm:
              type: tosca.nodes.indigo.Compute
              properties:
                os_users: [just-a-string]
        """)
    assert "node vm, field properties.os_users" in message


def test_bad_cli_input_syntax(tmp_path):
    message = run_compile(tmp_path, GOOD_NODES, "-i", "novalue", names_file=False)
    assert "-i expects NAME=VALUE" in message


def test_unknown_input_name(tmp_path):
    message = run_compile(tmp_path, GOOD_NODES, "-i", "nope=1")
    assert "unknown input 'nope'" in message


def test_validate_command_reports_ok_and_errors(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(HEADER + textwrap.indent(textwrap.dedent(GOOD_NODES), "  "))
    result = indigo("validate", str(good), *TYPES_ARGS)
    assert result.exit_code == 0 and "valid" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEADER + textwrap.indent(textwrap.dedent(GOOD_NODES.replace("host: vm", "host: vn")), "  "))
    result = indigo("validate", str(bad), *TYPES_ARGS)
    assert result.exit_code == 2 and "points at vn" in result.output


@pytest.mark.parametrize("deployment", ["Upper", "1abc", "a" * 50, "under_score"])
def test_bad_deployment_id(tmp_path, deployment):
    message = run_compile(tmp_path, GOOD_NODES, "--deployment", deployment, names_file=False)
    assert "field --deployment" in message
