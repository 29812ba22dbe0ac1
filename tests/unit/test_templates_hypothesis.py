"""Property tests of the scalar leniency (issue 15): integers for floats, any YAML scalar for a string
input, and TOSCA version semantics."""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tosca2ansible import brokering
from tosca2ansible.compiler.scalars import IncomparableVersions, Version
from tosca2ansible.errors import UserInputError

HEADER = "tosca_definitions_version: tosca_simple_yaml_1_0\n"
SETTINGS = settings(max_examples=60, deadline=None)


def topology_of(body: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.yaml"
        path.write_text(HEADER + body)
        topology, _ = brokering.analyse(str(path), {}, [])
        return topology, str(path)


YAML_INTEGERS = st.one_of(st.integers(min_value=-10**12, max_value=10**12).map(str),
                          st.integers(min_value=0, max_value=4095).map(hex),
                          st.integers(min_value=0, max_value=10**6).map(lambda n: "+%d" % n))


@SETTINGS
@given(YAML_INTEGERS)
def test_any_yaml_integer_is_accepted_where_a_float_is_declared(text):
    number = yaml.safe_load(text)
    assert isinstance(number, int)
    topology, _ = topology_of("""\
node_types:
  my.Node:
    derived_from: tosca.nodes.Root
    properties: {share: {type: float}}
topology_template:
  node_templates:
    n: {type: my.Node, properties: {share: %s}}
""" % text)
    value = topology.nodes["n"].properties["share"]
    assert isinstance(value, float) and value == float(number)


BOOL_WORDS = ["yes", "no", "Yes", "No", "YES", "NO", "true", "false", "True", "False", "on", "off", "On", "Off", "y", "n"]
YAML_SCALARS = st.one_of(
    st.sampled_from(BOOL_WORDS),
    st.integers(min_value=-10**15, max_value=10**15).map(str),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9).map(lambda f: "%.3f" % f),
    st.sampled_from(["20.04", "20.10", "1.0", "0.5", "3.14159", "1_000", "0o17", "0x1F", ".inf", "-.inf"]),
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2999, 12, 31)).map(lambda d: d.isoformat()),
    st.from_regex(r"\A[a-z][a-z0-9_-]{0,12}\Z"),
)


@SETTINGS
@given(YAML_SCALARS)
def test_any_yaml_scalar_is_accepted_for_a_string_input_as_its_text(text):
    parsed = yaml.safe_load("v: %s" % text)["v"]
    if parsed is None:
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.yaml"
        path.write_text(HEADER + "topology_template:\n  inputs:\n    word:\n      type: string\n      default: %s\n"
                                 "      constraints: [{valid_values: [%s, other]}]\n" % (text, text))
        from tosca2ansible.compiler import validate_template  # pylint: disable=import-outside-toplevel

        compiled = validate_template(str(path), {}, [])
        topology, _ = brokering.analyse(str(path), {}, [])
    assert topology.inputs["word"].value == text  # the template's own text, never Python's spelling
    assert topology.inputs["word"].constraints == [{"valid_values": [text, "other"]}]
    said = [line for line in compiled.notices if "field inputs.word.default" in line]
    if isinstance(parsed, str):
        assert said == []
    else:
        assert said == ["notice: %s:6, field inputs.word.default: default of input word: %s is a YAML %s where a "
                        "string is declared; read as the string '%s'"
                        % (path, text, {bool: "boolean", int: "integer", float: "float"}.get(type(parsed), "timestamp"),
                           text)]


def reference_compare(a: tuple, b: tuple):
    """TOSCA 1.3 3.3.2 spelled out: -1, 0, 1, or None when only the qualifiers differ."""
    if a[:3] != b[:3]:
        return -1 if a[:3] < b[:3] else 1
    if a[3] is None and b[3] is None:
        return 0
    if a[3] is None or b[3] is None:
        return 1 if a[3] is None else -1
    if a[3] != b[3]:
        return None
    return (a[4] > b[4]) - (a[4] < b[4])


VERSION_PARTS = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30),
                          st.one_of(st.none(), st.sampled_from(["alpha", "beta", "rc1", "GA"])), st.integers(0, 5))


def spelled(parts: tuple, zeros: int, short: bool) -> str:
    major, minor, fix, qualifier, build = parts
    text = "%d.%s" % (major, str(minor).zfill(zeros + len(str(minor))))
    if qualifier is None and fix == 0 and short:
        return text  # 2.0 is 2.0.0
    text += ".%d" % fix
    if qualifier is not None:
        text += "." + qualifier + ("-%d" % build if build or not short else "")
    return text


@SETTINGS
@given(VERSION_PARTS, VERSION_PARTS, st.integers(0, 2), st.booleans())
def test_version_comparisons_follow_tosca(a, b, zeros, short):
    a = a if a[3] is not None else a[:4] + (0,)
    b = b if b[3] is not None else b[:4] + (0,)
    left, right = Version.parse(spelled(a, zeros, short)), Version.parse(spelled(b, 0, not short))
    expected = reference_compare(a, b)
    assert (left == right) is (expected == 0)
    if expected is None:
        with pytest.raises(IncomparableVersions):
            _ = left < right
    else:
        assert (left < right) is (expected < 0) and (left > right) is (expected > 0)


@SETTINGS
@given(VERSION_PARTS.filter(lambda p: p[3] is None), VERSION_PARTS.filter(lambda p: p[3] is None))
def test_version_inputs_are_constrained_as_versions(low, given_version):
    low, given_version = low[:3] + (None, 0), given_version[:3] + (None, 0)
    body = ("topology_template:\n  inputs:\n    release:\n      type: version\n      constraints:\n"
            "        - greater_or_equal: '%s'\n" % spelled(low, 1, False))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.yaml"
        path.write_text(HEADER + body)
        from tosca2ansible.compiler import validate_template  # pylint: disable=import-outside-toplevel

        accepted = True
        try:
            validate_template(str(path), {"release": spelled(given_version, 0, True)}, [])
        except UserInputError as exc:
            assert "is not at least" in exc.message
            accepted = False
    assert accepted is (reference_compare(given_version, low) >= 0)


@SETTINGS
@given(st.integers(0, 99), st.integers(0, 99), st.integers(0, 2), st.integers(0, 99), st.integers(0, 99))
def test_a_version_written_as_a_yaml_float_is_read_from_its_text(major, minor, zeros, other_major, other_minor):
    """`default: 20.10` (YAML reads the float 20.1) with unquoted `valid_values`: each is the version written."""
    text = "%d.%s" % (major, str(minor).zfill(zeros + len(str(minor))) + "0" * zeros)
    other = "%d.%d" % (other_major, other_minor)
    topology, path = topology_of("topology_template:\n  inputs:\n    release:\n      type: version\n"
                                 "      default: %s\n      constraints:\n        - valid_values: [%s, %s]\n"
                                 % (text, other, text))
    release = topology.inputs["release"]
    assert release.value == text
    assert release.constraints == [{"valid_values": [other, text]}]
    read_by_yaml = yaml.safe_load(text)
    if isinstance(read_by_yaml, float) and Version.parse(repr(read_by_yaml)) != Version.parse(text):
        assert release.value != repr(read_by_yaml)  # 20.10 is not 20.1: the float would have been wrong
