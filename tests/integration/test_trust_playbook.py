"""A template is data, end to end: a compiled project run with ansible-runner on localhost standing in for a
Compute node (as tests/integration/test_journal_playbook.py does: the local site creates nothing for count 0).

What the control machine sees is read from outputs.json (the outputs play, fed by group_vars and the
compiled expressions); what the node-side operation sees is the JSON its own playbook writes of its inputs.
Both must be byte-equal to what the template or the inputs gave, with the TOSCA type declared; and nothing in
a template (requirement names, inputs given or defaulted, in lists or maps) ever runs.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tosca2ansible.compiler import compile_template
from tosca2ansible.runtime.runner import run_playbook
from tests.helpers import VENV_BIN


# The node-side operation: writes what it was given, by name, as JSON (types kept).
RECORD = """\
- name: Record what the operation was given
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the inputs as JSON
      ansible.builtin.copy:
        dest: "{{ record_file }}"
        content: "{{ dict(record_names | zip(q('ansible.builtin.vars', *record_names))) | to_json }}"
        mode: "0600"
"""


def _template(inputs: dict, op_inputs: dict, outputs: dict, requirement: str) -> str:
    """A Compute of count 0 whose own requirement `requirement` (declared by the template's node type) has a
    relationship operation that runs on it: one operation playbook run carries every value."""
    doc = {
        "tosca_definitions_version": "tosca_simple_yaml_1_0",
        "node_types": {"trust.Compute": {
            "derived_from": "tosca.nodes.Compute",
            "requirements": [{requirement: {"capability": "tosca.capabilities.Node",
                                            "relationship": "tosca.relationships.DependsOn"}}]}},
        "topology_template": {
            "inputs": inputs,
            "node_templates": {
                "vm": {"type": "trust.Compute",
                       "capabilities": {"scalable": {"properties": {"default_instances": 0, "min_instances": 0}}},
                       "requirements": [{requirement: {"node": "other", "relationship": {
                           "type": "tosca.relationships.DependsOn", "interfaces": {"Configure": {"add_target": {
                               "implementation": "record.yml", "inputs": op_inputs}}}}}}]},
                "other": {"type": "tosca.nodes.Compute",
                          "capabilities": {"scalable": {"properties": {"default_instances": 0, "min_instances": 0}}}}},
            "outputs": outputs}}
    return yaml.safe_dump(doc, sort_keys=False)


def _deploy(tmp_path: Path, template: str, given: dict) -> dict:
    """Compile and run deploy.yml; returns {"node": what the operation saw, "outputs": outputs.json}."""
    user = tmp_path / "user"
    user.mkdir()
    (user / "t.yaml").write_text(template)
    (user / "record.yml").write_text(RECORD)
    project = tmp_path / "project"
    compile_template(str(user / "t.yaml"), str(project), given, [])
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "local.yml").write_text(yaml.safe_dump({"sites": [{"name": "local", "kind": "local",
                                                                "local": {"state_dir": str(tmp_path / "localsite")}}]}))
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(yaml.safe_dump({"all": {
        "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
        "children": {"vm": {"hosts": {"localhost": {}}}, "other": {"hosts": {}},
                     "indigo_deployment": {"hosts": {"localhost": {}}}}}}))
    outputs_file = tmp_path / "outputs.json"
    extravars = {"ansible_become": False, "tosca_operation_install_ansible": False,
                 "tosca_operation_ansible_playbook": str(VENV_BIN / "ansible-playbook"),
                 "tosca_operation_python_interpreter": sys.executable, "tosca_operation_work_dir": str(tmp_path / "work"),
                 "indigo_artifacts_dir": str(tmp_path / "node"), "indigo_outputs_file": str(outputs_file)}
    saved = {k: os.environ.get(k) for k in ("INDIGO_HOME", "INDIGO_SITES", "ANSIBLE_LOCAL_TEMP", "PATH")}
    os.environ.update(INDIGO_HOME=str(tmp_path / "home"), INDIGO_SITES=str(sites),
                      ANSIBLE_LOCAL_TEMP=str(tmp_path / "atmp"), PATH="%s:%s" % (VENV_BIN, os.environ.get("PATH", "")))
    try:
        result = run_playbook(project, "deploy.yml", deployment="trust", action="deploy", inventory=[str(hosts)],
                              extravars=extravars, progress=lambda line: None, timeout=300)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert result.ok, result.failures
    return {"node": json.loads((tmp_path / "recorded.json").read_text()),
            "outputs": json.loads(outputs_file.read_text())}


def _same(given, seen, where):
    """Equal and of the same JSON type (bool is not int, str is not a number, containers keep structure)."""
    if isinstance(given, float) and isinstance(seen, float) and math.isinf(given):
        assert given == seen, where
        return
    assert type(seen) is type(given) and seen == given, (where, given, seen)
    if isinstance(given, dict):
        for key in given:
            _same(given[key], seen[key], "%s[%r]" % (where, key))
    elif isinstance(given, list):
        for index, item in enumerate(given):
            _same(item, seen[index], "%s[%d]" % (where, index))


# -- generated values (hypothesis) ------------------------------------------------------------------------
ATOMS = st.sampled_from(["{{", "}}", "{%", "%}", "{#", "#}", "#jinja2:", "{{ lookup('pipe', 'id') }}", "{% raw %}",
                         "0755", "0123", "yes", "no", "on", "off", "null", "~", "", "1.10", ".inf", "1e3", "=", "<<",
                         "!", "- ", ": ", "'", '"', "\\", "\\n", "\n", "\r\n", "\t", " ", "\x85", "\u2028", "é"])
TEXT = st.lists(st.one_of(ATOMS, st.text(st.characters(blacklist_categories=("Cs",)), max_size=5)),
                max_size=5).map("".join)
TYPED = st.one_of(
    st.tuples(st.just({"type": "string"}), TEXT),
    st.tuples(st.just({"type": "integer"}), st.integers(-2 ** 62, 2 ** 62)),
    st.tuples(st.just({"type": "float"}), st.floats(allow_nan=False, allow_infinity=True)),
    st.tuples(st.just({"type": "boolean"}), st.booleans()),
    st.tuples(st.just({"type": "list", "entry_schema": {"type": "string"}}), st.lists(TEXT, max_size=3)),
    st.tuples(st.just({"type": "map", "entry_schema": {"type": "string"}}),
              st.dictionaries(TEXT, TEXT, max_size=3)),
)


# One playbook run (each costs ~20 s) for the reproductions of issue 11 and a batch of generated values.
@settings(max_examples=1, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.data_too_large,
                                 HealthCheck.too_slow, HealthCheck.large_base_example])
@given(values=st.lists(TYPED, min_size=150, max_size=150), given_half=st.booleans(),
       output_names=st.lists(TEXT.filter(bool), min_size=8, max_size=8, unique=True))
def test_template_data_never_runs_and_reaches_control_machine_and_node_byte_equal(tmp_path_factory, values, given_half,
                                                                                  output_names):
    tmp_path = tmp_path_factory.mktemp("trust")
    marks = {name: tmp_path / ("PWNED-" + name) for name in ("requirement", "given", "default", "list", "map")}

    def touch(name):
        return "{{ lookup('pipe', 'touch %s') }}" % marks[name]

    # the reproductions
    strings = ["0755", "0123", "yes", "", "null", "1.10", "off", "it's", "a\nb", "~", ".inf", "1e3"]
    inputs = {
        "given": {"type": "string"},
        "defaulted": {"type": "string", "default": touch("default")},
        "listed": {"type": "list", "entry_schema": {"type": "string"}, "default": ["x", touch("list")]},
        "mapped": {"type": "map", "entry_schema": {"type": "string"}, "default": {"k": touch("map"), touch("map"): "v"}},
        "strings": {"type": "list", "entry_schema": {"type": "string"}, "default": strings},
        "pin": {"type": "string", "default": "0123"},
        "port": {"type": "integer", "default": 493},
    }
    given = {"given": touch("given")}
    outputs = {"off": {"value": {"get_input": "pin"}}, "yes": {"value": "0755"},
               "joined": {"value": {"concat": ["it's", "\n", {"get_input": "port"}]}},
               "strings": {"value": {"get_input": "strings"}}, "mapped": {"value": {"get_input": "mapped"}}}
    # the generated values: half given (as `-i` gives them), half as defaults; some become outputs
    for index, (spec, value) in enumerate(values):
        name = "v%d" % index
        inputs[name] = dict(spec) if index % 2 == given_half else dict(spec, default=value)
        if index % 2 == given_half:
            given[name] = value
    for index, name in enumerate(output_names):
        outputs.setdefault(name, {"value": {"get_input": "v%d" % index}})
    op_inputs = {name: {"get_input": name} for name in inputs}
    op_inputs.update({"joined": {"concat": ["it's", "\n", {"get_input": "pin"}, "\\n"]},
                      "record_file": str(tmp_path / "recorded.json"), "record_names": list(op_inputs) + ["joined"]})

    seen = _deploy(tmp_path, _template(inputs, op_inputs, outputs, requirement="x" + touch("requirement")), given)

    assert [name for name, path in marks.items() if path.exists()] == []
    node = seen["node"]
    _same(touch("given"), node["given"], "given")
    _same(touch("default"), node["defaulted"], "defaulted")
    _same(["x", touch("list")], node["listed"], "listed")
    _same({"k": touch("map"), touch("map"): "v"}, node["mapped"], "mapped")
    _same(strings, node["strings"], "strings")
    _same("0123", node["pin"], "pin")  # a password 0123 reached the node as 83
    _same(493, node["port"], "port")
    _same("it's\n0123\\n", node["joined"], "joined")  # concat gave it\'s and a literal \\n
    for index, (_, value) in enumerate(values):
        _same(value, node["v%d" % index], "node v%d" % index)
    expected_outputs = {"off": "0123", "yes": "0755", "joined": "it's\n493", "strings": strings,
                        "mapped": {"k": touch("map"), touch("map"): "v"}}
    for index, name in enumerate(output_names):
        expected_outputs.setdefault(name, values[index][1])
    assert sorted(seen["outputs"]) == sorted(expected_outputs)  # every name kept as written
    _same(expected_outputs, seen["outputs"], "outputs")
