"""Issue 15 item 7: `imports: [base.yml]` resolves next to the template (as the IM resolves it against the
URL it fetched the template from); an importing template may re-declare an input with only a new default;
a missing relative import names the file and the folder searched."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from tosca2ansible.compiler import build, compile_template
from tosca2ansible.errors import UserInputError

TYPES = "  - indigo_custom_types: https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml\n"
BASE = "tosca_definitions_version: tosca_simple_yaml_1_0\nimports:\n" + TYPES + textwrap.dedent("""\
    topology_template:
      inputs:
        num_cpus: {type: integer, default: 1, description: CPUs of the VM}
    """)
APP = "tosca_definitions_version: tosca_simple_yaml_1_0\nimports:\n" + TYPES + textwrap.dedent("""\
      - %s
    topology_template:
      inputs:
        num_cpus: {default: 4}
      node_templates:
        vm:
          type: tosca.nodes.indigo.Compute
          capabilities:
            host: {properties: {num_cpus: {get_input: num_cpus}}}
    """)


def _tree(tmp_path, import_name="common/base.yml"):
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "base.yml").write_text(BASE)
    (tmp_path / "app.yaml").write_text(APP % import_name)
    return tmp_path / "app.yaml"


def test_relative_import_and_redeclared_default(tmp_path):
    template = _tree(tmp_path)
    compiled = compile_template(str(template), str(tmp_path / "out"), {}, [])
    inputs = yaml.safe_load((tmp_path / "out" / "group_vars" / "all" / "inputs.yml").read_text())
    assert inputs["input_num_cpus"] == 4
    assert "common/base.yml" in compiled.sources  # kept with a deployment's copy for re-deploy and scale


def test_redeclared_input_keeps_the_imported_type(tmp_path):
    template = _tree(tmp_path)
    assert build(str(template), {"num_cpus": 8}, []).files["group_vars/all/inputs.yml"].count("8") == 1
    with pytest.raises(UserInputError, match="inputs.num_cpus"):
        build(str(template), {"num_cpus": "many"}, [])


def test_missing_relative_import_names_file_and_folder(tmp_path):
    template = _tree(tmp_path, "lib/missing.yml")
    with pytest.raises(UserInputError) as caught:
        build(str(template), {}, [])
    message = str(caught.value)
    assert "import lib/missing.yml not found: no file missing.yml in %s" % (tmp_path / "lib") in message
    assert "--types-path" not in message
