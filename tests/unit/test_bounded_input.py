"""Hostile input is bounded: alias bombs, devices and FIFOs, huge files, catastrophic patterns, duplicate
keys (under --strict) and bad ids are each one clear error (exit 2) naming the file and line, fast, with nothing written."""

from __future__ import annotations

import os
import time

import pytest

from tosca2ansible.compiler import yamlload
from tests.helpers import INDIGO_IMPORTS, indigo

HEADER = INDIGO_IMPORTS
BOMB = "".join("b%d: &b%d [%s]\n" % (i, i, ", ".join(["*b%d" % (i - 1)] * 10)) for i in range(1, 10))


def _bomb_under(key_path):
    """An alias bomb (10^9 values) placed at `key_path` of a template (as YAML text)."""
    return "bomb0: &b0 [x, x, x, x, x, x, x, x, x, x]\n" + BOMB


def run(args, tmp_path):
    started = time.process_time()  # CPU time: the machine may be shared
    result = indigo(*args)
    assert time.process_time() - started < 20
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
    return result.output


def compile_args(template, tmp_path, *extra):
    return ["compile", str(template), "-o", str(tmp_path / "out"), *extra]


@pytest.mark.parametrize("where", ["description", "default", "property"])
def test_alias_bomb_in_a_template(tmp_path, where):
    bombs = "x-anchors:\n" + "".join("  " + line + "\n" for line in _bomb_under(where).splitlines())
    body = {
        "description": "description: *b9\n",
        "default": "topology_template:\n  inputs:\n    i: {type: list, default: *b9}\n  node_templates: {}\n",
        "property": "topology_template:\n  node_templates:\n    vm:\n      type: tosca.nodes.indigo.Compute\n"
                    "      properties: {x: *b9}\n",
    }[where]
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + bombs + body)
    output = run(compile_args(template, tmp_path), tmp_path)
    assert str(template) in output and "alias bomb" in output


def test_alias_bomb_in_an_inputs_file(tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + "topology_template:\n  inputs:\n    i: {type: list, required: false}\n"
                        "  node_templates: {}\n")
    inputs = tmp_path / "inputs.yml"
    inputs.write_text("bomb0: &b0 [x, x, x, x, x, x, x, x, x, x]\n" + BOMB + "i: *b9\n")
    output = run(compile_args(template, tmp_path, "--inputs", str(inputs)), tmp_path)
    assert str(inputs) in output and "alias bomb" in output


def test_a_device_is_not_a_template(tmp_path):
    output = run(compile_args("/dev/zero", tmp_path), tmp_path)
    assert "/dev/zero: not a regular file" in output


def test_a_fifo_is_not_a_template(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    output = run(compile_args(fifo, tmp_path), tmp_path)
    assert "not a regular file" in output


def test_a_fifo_is_not_an_inputs_file(tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + "topology_template: {node_templates: {}}\n")
    fifo = tmp_path / "in.yml"
    os.mkfifo(fifo)
    assert "not a regular file" in run(compile_args(template, tmp_path, "--inputs", str(fifo)), tmp_path)


def test_a_file_over_the_size_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(yamlload, "MAX_FILE_BYTES", 1000)
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + "description: '%s'\n" % ("x" * 2000))
    with pytest.raises(Exception, match="larger than"):
        yamlload.read_regular_file(str(template), limit=1000)


def test_catastrophic_pattern_is_a_clear_error(tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + "topology_template:\n  inputs:\n    name:\n      type: string\n"
                        "      default: '%s!'\n      constraints: [{pattern: '(a|aa)+$'}]\n  node_templates: {}\n"
                        % ("a" * 60))
    output = run(compile_args(template, tmp_path), tmp_path)
    assert "t.yaml:8" in output and "inputs.name.default" in output and "takes over" in output


def test_patterns_still_check_values(tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + "topology_template:\n  inputs:\n    name: {type: string, default: Bob,"
                        " constraints: [{pattern: '[a-z]+'}]}\n  node_templates: {}\n")
    assert "does not match the pattern" in run(compile_args(template, tmp_path), tmp_path)


def test_duplicate_keys_name_both_lines_under_strict(tmp_path):
    """By default a duplicate key is a warning (tests/unit/test_templates_drift.py); --strict refuses it."""
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + "topology_template:\n  node_templates:\n    vm: {type: tosca.nodes.indigo.Compute}\n"
                        "    vm: {type: tosca.nodes.indigo.Compute}\n")
    output = run(compile_args(template, tmp_path, "--strict"), tmp_path)
    assert "t.yaml:7: duplicate key 'vm' on lines 6 and 7 (YAML keeps only the last one) (--strict)" in output


def test_explicit_tag_that_does_not_fit(tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + "topology_template:\n  inputs:\n    flag: {type: boolean, default: !!bool maybe}\n"
                        "  node_templates: {}\n")
    output = run(compile_args(template, tmp_path), tmp_path)
    assert "t.yaml:6" in output and "'maybe' is not a valid !!bool value" in output


def test_empty_deployment_id_is_rejected(tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + "topology_template: {node_templates: {}}\n")
    output = run(compile_args(template, tmp_path, "--deployment", ""), tmp_path)
    assert "deployment id ''" in output


def test_empty_deployment_id_is_rejected_by_deploy(tmp_path, monkeypatch):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + "topology_template: {node_templates: {}}\n")
    result = indigo("deploy", str(template), "--deployment", "")
    assert result.exit_code == 2 and "--deployment must not be empty" in result.output, result.output
    assert not (tmp_path / "home" / "deployments").exists()


@pytest.mark.parametrize("body, expected", [
    ("  node_templates:\n    vm:\n      type: tosca.nodes.indigo.Compute\n      interfaces: [a, b]\n",
     "t.yaml:8, node vm, field interfaces: interfaces must be a mapping of interface name to operations, not a list"),
    ("  node_templates:\n    vm: {type: tosca.nodes.indigo.Compute}\n  policies:\n"
     "    - p: {type: tosca.policies.Placement, targets: [[vm]]}\n",
     "t.yaml:8, field policies.p.targets: a policy target must be the name of a node template or group, not a list"),
    ("  node_templates:\n    vm: {type: tosca.nodes.indigo.Compute}\n  policies:\n"
     "    - p: {type: tosca.policies.Placement, targets: [{a: vm}]}\n",
     "t.yaml:8, field policies.p.targets: a policy target must be the name of a node template or group, not a mapping"),
    ("  inputs:\n    x: {type: string, default: a, constraints: a}\n  node_templates: {}\n",
     "t.yaml:6, field inputs.x.constraints: constraints must be a list"),
])
def test_malformed_shapes_name_file_line_node_and_field(tmp_path, body, expected):
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + "topology_template:\n" + body)
    output = run(compile_args(template, tmp_path), tmp_path)
    assert expected in output and "internal error" not in output
