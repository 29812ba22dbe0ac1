"""Fuzzed hostile templates: `indigo compile` answers exit 2 with one error line, no traceback, nothing
written, in bounded time; the worst shapes also under a 1 GiB address-space limit (prlimit --as)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import indigo

HEADER = ("tosca_definitions_version: tosca_simple_yaml_1_0\nimports:\n  - indigo_custom_types: "
          "https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml\n")
BOMB = "x-bomb:\n  b0: &b0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    "  b%d: &b%d [%s]\n" % (i, i, ", ".join(["*b%d" % (i - 1)] * 10)) for i in range(1, 10))
# fragments a hostile or careless template is made of; each makes the template wrong
BAD = [
    BOMB + "description: *b9\n",
    BOMB + "topology_template:\n  inputs:\n    i: {type: list, default: *b9}\n  node_templates: {}\n",
    "topology_template:\n  node_templates:\n    a: {type: tosca.nodes.indigo.Compute}\n    a: {type: x}\n",
    "topology_template:\n  inputs:\n    f: {type: boolean, default: !!bool maybe}\n",
    "topology_template:\n  node_templates:\n    vm: {type: tosca.nodes.indigo.Compute, interfaces: [a]}\n",
    "topology_template:\n  node_templates:\n    vm: {type: tosca.nodes.indigo.Compute}\n  policies:\n"
    "    - p: {type: tosca.policies.Placement, targets: [[vm]]}\n",
    "topology_template:\n  inputs:\n    s: {type: string, default: '%s!', constraints: [{pattern: '(a|aa)+$'}]}\n"
    % ("a" * 60),
    "topology_template:\n  inputs:\n    s: {type: string, default: a, constraints: a}\n",
    "topology_template: " + "[" * 3000 + "]" * 3000 + "\n",
    "topology_template:\n  node_templates:\n    vm: {type: tosca.nodes.indigo.Compute, properties: &p {x: *p}}\n",
    "imports: [/etc/passwd]\n",
    "imports: [../../missing.yaml]\n",
    "topology_template: {node_templates: {vm: {type: tosca.nodes.indigo.Compute, requirements: {a: b}}}}\n",
]
# The catastrophic pattern is stopped by the pattern check's timeout: a second of CPU per example, so it
# gets a few examples of its own and the others (a few ms each) a few hundred.
SLOW = [BAD[6]]
FAST = [fragment for fragment in BAD if fragment not in SLOW]
JUNK = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
PREFIX = JUNK.map(lambda t: "# " + t.replace("\n", " ") + "\n")
SUFFIX = st.sampled_from(["", "\n", "x-extra: 1\n", "description: ok\n"])


def _compile(tmp_path: Path, text: str):
    work = tmp_path / ("case-%d" % time.monotonic_ns())
    work.mkdir()
    template = work / "t.yaml"
    template.write_text(text)
    started = time.process_time()  # CPU time: the machine may be shared
    result = indigo("compile", str(template), "-o", str(work / "out"))
    return result, time.process_time() - started, work


def _assert_one_clean_error(tmp_path, text):
    result, took, work = _compile(tmp_path, text)
    try:
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and "internal error" not in result.output, result.output
        assert [line for line in result.output.splitlines() if line.startswith("error:")], result.output
        assert not (work / "out").exists()
        assert sorted(p.name for p in work.iterdir()) == ["t.yaml"], "nothing written next to the output"
        assert took < 15
    finally:
        shutil.rmtree(work, ignore_errors=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fragment=st.sampled_from(FAST), prefix=PREFIX, suffix=SUFFIX)
def test_hostile_template_is_one_clean_error(tmp_path, fragment, prefix, suffix):
    _assert_one_clean_error(tmp_path, prefix + HEADER + fragment + suffix)


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fragment=st.sampled_from(SLOW), prefix=PREFIX, suffix=SUFFIX)
def test_catastrophic_pattern_is_one_clean_error(tmp_path, fragment, prefix, suffix):
    _assert_one_clean_error(tmp_path, prefix + HEADER + fragment + suffix)


@pytest.mark.skipif(not shutil.which("prlimit"), reason="prlimit (util-linux) missing")
def test_worst_shapes_within_one_gib(tmp_path):
    indigo = str(Path(sys.executable).with_name("indigo"))
    for index, fragment in enumerate([BAD[1], BAD[8]]):  # alias bomb, deep nesting
        template = tmp_path / ("w%d.yaml" % index)
        template.write_text(HEADER + fragment)
        proc = subprocess.run(["prlimit", "--as=%d" % (1 << 30), "--", indigo, "compile", str(template), "-o",
                               str(tmp_path / "out")], capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, INDIGO_HOME=str(tmp_path / "home")), check=False)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
        assert not (tmp_path / "out").exists()
