"""Issue 11: imports are confined like artifacts. A template's imports are read only from its own tree or a
--types-path folder: an absolute path or a `../` escaping them is exit 2 naming file:line and the import.
A deployment whose template imports `../common/types.yaml` (a --types-path folder) keeps that file with
its copy: `indigo deploy --deployment D` and `indigo scale` work after the user's folders are gone.

The runtime runs for real (compiler, state, journal, catalogue); ansible-runner is the fake of
test_redeploy_site.py, which records the site of each run.
"""

from __future__ import annotations

import os
import shutil
import textwrap

import pytest
import yaml

from tosca2ansible.compiler import build
from tosca2ansible.errors import UserInputError
from tosca2ansible.runtime.state import DeploymentState
from tests.unit.test_redeploy_site import env  # noqa: F401  # pylint: disable=unused-import
from tests.helpers import indigo

TYPES = textwrap.dedent("""\
    tosca_definitions_version: tosca_simple_yaml_1_0
    node_types:
      example.nodes.Step:
        derived_from: tosca.nodes.SoftwareComponent
        properties:
          greeting: {type: string, default: hello}
    """)
APP = textwrap.dedent("""\
    tosca_definitions_version: tosca_simple_yaml_1_0
    imports:
      - indigo_custom_types: https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml
      - %s
    topology_template:
      inputs:
        vm_num: {type: integer, default: 1}
      node_templates:
        step:
          type: example.nodes.Step
          requirements: [{host: vm}]
        vm:
          type: tosca.nodes.indigo.Compute
          capabilities:
            scalable: {properties: {count: {get_input: vm_num}}}
            os: {properties: {type: linux, distribution: debian, version: "13"}}
    """)


def _tree(tmp_path, import_line="../common/types.yaml"):
    """user/app/app.yaml importing ``import_line``; user/common/types.yaml beside the app folder."""
    (tmp_path / "user" / "app").mkdir(parents=True)
    (tmp_path / "user" / "common").mkdir()
    (tmp_path / "user" / "common" / "types.yaml").write_text(TYPES)
    app = tmp_path / "user" / "app" / "app.yaml"
    app.write_text(APP % import_line)
    return app


def _compile(*args):
    return indigo(*args)


@pytest.mark.parametrize("import_line", ["../common/types.yaml", "{common}", "sub/../../common/types.yaml",
                                         "/etc/passwd", "../../../../../../../etc/hostname"])
def test_import_escaping_the_tree_is_exit_2_naming_file_line_and_import(tmp_path, import_line):
    common = str(tmp_path / "user" / "common" / "types.yaml")
    app = _tree(tmp_path, import_line.format(common=common))
    result = _compile("compile", app, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    shown = import_line.format(common=common)
    assert "%s:4" % app in result.output and "import %s is " % shown in result.output, result.output
    assert "--types-path" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_symlink_out_of_the_tree_is_an_escape(tmp_path):
    app = _tree(tmp_path, "lib/types.yaml")
    (app.parent / "lib").mkdir()
    os.symlink(tmp_path / "user" / "common" / "types.yaml", app.parent / "lib" / "types.yaml")
    with pytest.raises(UserInputError, match="import lib/types.yaml is a path that leads out of"):
        build(str(app), {}, [])


def test_types_path_folder_allows_relative_absolute_and_mapped_imports(tmp_path):
    common = tmp_path / "user" / "common"
    for line in ("../common/types.yaml", str(common / "types.yaml"), "https://example.org/types/types.yaml"):
        shutil.rmtree(tmp_path / "user", ignore_errors=True)
        app = _tree(tmp_path, line)
        compiled = build(str(app), {}, ["https://example.org/types/=%s" % common])
        assert os.path.join("..", "common", "types.yaml") in compiled.sources, line
        assert compiled.types_roots == [("https://example.org/types/", str(common))]


def test_mapped_import_cannot_leave_its_folder(tmp_path):
    app = _tree(tmp_path, "https://example.org/types/../app/app.yaml")
    with pytest.raises(UserInputError, match="leads out of its --types-path folder"):
        build(str(app), {}, ["https://example.org/types/=%s" % (tmp_path / "user" / "common")])


def test_nested_import_of_a_types_file_is_confined_too(tmp_path):
    app = _tree(tmp_path, "../common/types.yaml")
    (tmp_path / "secret.yaml").write_text("tosca_definitions_version: tosca_simple_yaml_1_0\n")
    (tmp_path / "user" / "common" / "types.yaml").write_text(TYPES + "imports: [../../secret.yaml]\n")
    with pytest.raises(UserInputError) as caught:
        build(str(app), {}, ["x=%s" % (tmp_path / "user" / "common")])
    assert "types.yaml" in str(caught.value.location) and "import ../../secret.yaml is" in str(caught.value)


def test_imports_inside_the_tree_and_bundled_types_still_work(tmp_path):
    app = _tree(tmp_path, "lib/types.yaml")
    (app.parent / "lib").mkdir()
    shutil.copy(tmp_path / "user" / "common" / "types.yaml", app.parent / "lib" / "types.yaml")
    compiled = build(str(app), {}, [])
    assert list(compiled.sources) == [os.path.join("lib", "types.yaml")]


def test_redeploy_and_scale_of_a_template_importing_from_a_types_path_folder(env, tmp_path):  # noqa: F811
    app = _tree(tmp_path)
    types_path = "x=%s" % (tmp_path / "user" / "common")
    result = indigo("deploy", app, "--deployment", "common", "--site", "aws-a", "--types-path", types_path, "--json")
    assert result.exit_code == 0, result.output
    state = DeploymentState("common")
    assert state.template_file == state.source_dir / "app" / "template.yaml"
    assert (state.source_dir / "common" / "types.yaml").read_text() == TYPES
    shutil.rmtree(tmp_path / "user")  # re-deploy and scale need neither the template's nor the types' folder

    result = indigo("deploy", "--deployment", "common", "--json")
    assert result.exit_code == 0, result.output
    result = indigo("scale", "common", "--node", "vm", "--count", "2", "--json")
    assert result.exit_code == 0, result.output
    assert state.read_record()["inputs"]["vm_num"] == "2"
    assert env["runner"].sites == ["aws-a"] * 3
    inventory = (state.project_dir / "group_vars" / "all" / "inputs.yml").read_text()
    assert yaml.safe_load(inventory)["input_vm_num"] == 2


def test_without_its_types_path_the_same_template_is_refused(env, tmp_path):  # noqa: F811
    app = _tree(tmp_path)
    result = indigo("deploy", str(app), "--deployment", "nocommon", "--site", "aws-a")
    assert result.exit_code == 2, result.output
    assert "import ../common/types.yaml is a path that leads out of" in result.output
    assert env["runner"].sites == []


@pytest.mark.parametrize("command", [["deploy", "--deployment", ""], ["compile", "T", "--deployment", ""],
                                     ["scale", "", "--node", "vm", "--count", "1"], ["undeploy", ""]])
def test_empty_deployment_id_is_refused(env, tmp_path, command):  # noqa: F811
    command = [str(env["template"]) if word == "T" else word for word in command]
    result = indigo(*command + (["-o", str(tmp_path / "o")] if command[0] == "compile" else []))
    assert result.exit_code == 2, result.output
    assert "deployment id '' must match" in result.output or "--deployment must not be empty" in result.output
    assert env["runner"].sites == []
