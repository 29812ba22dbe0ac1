"""Real-world template leniency (issue 15): what the INDIGO orchestrator and the IM accepted compiles here,
converted with a notice naming file:line and quoting the template's own text."""

from __future__ import annotations

import json
import textwrap

import pytest

from tosca2ansible.compiler import build, compile_template, validate_template
from tosca2ansible.errors import UserInputError
from tests.helpers import VENV_BIN, load_project_yaml as load, write_template

ANSIBLE_PLAYBOOK = str(VENV_BIN / "ansible-playbook")
HEADER = "tosca_definitions_version: tosca_simple_yaml_1_0\n"


def write(tmp_path, body, name="t.yaml"):
    return write_template(tmp_path, HEADER + textwrap.dedent(body), name)


def notes_of(compiled, kind="notice"):
    return [line for line in compiled.notices if line.startswith(kind + ":")]


APP_TYPES = """
node_types:
  my.App:
    derived_from: tosca.nodes.SoftwareComponent
    properties:
      cpus: {type: float, required: false}
      flag: {type: string, required: false}
      release: {type: version, required: false}
    interfaces:
      Standard:
        configure: app.yml
"""


@pytest.fixture(name="lenient")
def fixture_lenient(tmp_path):
    (tmp_path / "app.yml").write_text("---\n- hosts: localhost\n  tasks: []\n")
    path = write(tmp_path, APP_TYPES + """\
topology_template:
  inputs:
    use_gpu:
      type: string
      default: no
      constraints:
        - valid_values: [no, yes]
    ubuntu:
      type: version
      default: 20.10
      constraints:
        - valid_values: [18.04, '20.10']
  node_templates:
    app:
      type: my.App
      properties:
        cpus: 2
        flag: { get_input: use_gpu }
        release: 20.10
      requirements:
        - host: vm
    vm:
      type: tosca.nodes.Compute
""")
    out = tmp_path / "p"
    return path, out, compile_template(path, str(out), {}, [])


def test_scalars_are_converted_with_notices_quoting_the_template(lenient):
    path, _, compiled = lenient
    notices = notes_of(compiled)
    assert ("notice: %s:17, field inputs.use_gpu.default: default of input use_gpu: no is a YAML boolean where a "
            "string is declared; read as the string 'no'" % path) in notices
    assert any(line.startswith("notice: %s:19, field inputs.use_gpu.constraints:" % path)
               and "valid_values [no, yes]" in line for line in notices)
    assert ("notice: %s:22, field inputs.ubuntu.default: default of input ubuntu: 20.10 is a YAML float where a "
            "version is declared; read as the version 20.10" % path) in notices
    assert ("notice: %s:29, node app, field properties.cpus: property cpus: 2 is a YAML integer where a float is "
            "declared; read as 2.0" % path) in notices
    assert not any("False" in line or "20.1 " in line for line in compiled.notices)


def test_converted_values_reach_the_project_as_the_template_wrote_them(lenient):
    _, out, _ = lenient
    text = (out / "group_vars" / "all" / "inputs.yml").read_text()
    # quoted plain text: under ansible-core 2.19 `!unsafe` would re-type it (docs/trust.md); it holds no `{`
    assert 'input_use_gpu: "no"' in text
    inputs = load(out / "group_vars" / "all" / "inputs.yml")
    assert inputs == {"input_use_gpu": "no", "input_ubuntu": "20.10"}
    props = load(out / "group_vars" / "all" / "topology.yml")["indigo_node_properties"]["app"]
    assert props["cpus"] == 2.0 and isinstance(props["cpus"], float)
    assert props["release"] == "20.10"
    assert props["flag"] == "{{ input_use_gpu }}"
    survey = {q["variable"]: q for q in json.loads((out / "awx" / "survey.json").read_text())["spec"]}
    assert survey["input_use_gpu"]["choices"] == ["no", "yes"] and survey["input_use_gpu"]["default"] == "no"
    assert survey["input_ubuntu"]["choices"] == ["18.04", "20.10"] and survey["input_ubuntu"]["default"] == "20.10"


def test_version_constraints_compare_versions(tmp_path):
    path = write(tmp_path, """\
topology_template:
  inputs:
    release: {type: version, default: 2.0.1, constraints: [{greater_or_equal: 2.0}, {less_than: '2.1.0.beta-1'}]}
    old: {type: version, default: 1.10, constraints: [{greater_than: 1.9}]}
""")
    compiled = validate_template(path, {}, [])
    assert compiled.deployment == "t"
    with pytest.raises(UserInputError, match=r"t.yaml:4, field inputs.release: input release: 2.2 is not less than "
                                             r"2.1.0.beta-1"):
        build(path, {"release": "2.2"}, [])


def test_string_property_given_a_boolean_keeps_its_text(tmp_path):
    (tmp_path / "app.yml").write_text("---\n- hosts: localhost\n  tasks: []\n")
    path = write(tmp_path, APP_TYPES + """\
topology_template:
  node_templates:
    app:
      type: my.App
      properties: {flag: off}
      requirements: [{host: vm}]
    vm: {type: tosca.nodes.Compute}
""")
    compile_template(path, str(tmp_path / "p"), {}, [])
    props = load(tmp_path / "p" / "group_vars" / "all" / "topology.yml")["indigo_node_properties"]["app"]
    assert props["flag"] == "off"


# -- defaults that break their own constraints ---------------------------------------------------------------
BAD_DEFAULT = """\
topology_template:
  inputs:
    mem:
      type: scalar-unit.size
      default: 1 GB
      constraints:
        - valid_values: [2 GB, 4 GB]
  node_templates:
    vm:
      type: tosca.nodes.Compute
      capabilities:
        host:
          properties: {mem_size: {get_input: mem}}
"""


def test_invalid_default_is_a_warning_and_never_offered(tmp_path):
    path = write(tmp_path, BAD_DEFAULT)
    compiled = compile_template(path, str(tmp_path / "p"), {}, [], defer_inputs=True)
    assert notes_of(compiled, "warning") == [
        "warning: %s:6, field inputs.mem.default: default of input mem: 1 GB is not one of the valid values "
        "[2 GB, 4 GB]; not offered as the default: a valid value must be given at compile or launch time" % path]
    survey = json.loads((tmp_path / "p" / "awx" / "survey.json").read_text())["spec"][0]
    assert survey["choices"] == ["2 GB", "4 GB"] and "default" not in survey and survey["required"] is True
    assert "input_mem" not in (load(tmp_path / "p" / "group_vars" / "all" / "inputs.yml") or {})
    deploy = load(tmp_path / "p" / "deploy.yml")
    assert deploy[0]["tasks"][0]["ansible.builtin.assert"]["that"] == ["input_mem is defined"]


def test_invalid_default_is_an_error_only_when_deployed(tmp_path):
    path = write(tmp_path, BAD_DEFAULT)
    with pytest.raises(UserInputError, match=r"t.yaml:4, field inputs.mem: default of input mem: 1 GB is not one of "
                                             r"the valid values \[2 GB, 4 GB\], and no other value was given"):
        compile_template(path, str(tmp_path / "p"), {}, [])
    assert not (tmp_path / "p").exists()
    compile_template(path, str(tmp_path / "p"), {"mem": "4 GB"}, [])
    assert load(tmp_path / "p" / "group_vars" / "all" / "inputs.yml") == {"input_mem": ("UNSAFE", "4 GB")}
