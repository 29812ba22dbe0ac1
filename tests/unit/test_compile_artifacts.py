"""Files a template names by a relative path travel with the compiled project (artifacts/...), so the
project runs from anywhere; a path that is missing or leaves the template's directory is a clear error."""

from __future__ import annotations

import os
import shutil
import textwrap

import pytest

from tosca2ansible.compiler import compile_template
from tosca2ansible.errors import UserInputError

from test_compile import HEADER, TYPES, load, tasks_of
from tests.helpers import indigo

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "operations_template")

OPERATION_TEMPLATE = HEADER + """\
node_types:
  example.nodes.App:
    derived_from: tosca.nodes.SoftwareComponent
    interfaces:
      Standard:
        configure:
          implementation: %(implementation)s
topology_template:
  node_templates:
    app:
      type: example.nodes.App
      requirements:
        - host: vm
    vm:
      type: tosca.nodes.indigo.Compute
"""


@pytest.fixture(name="template_dir")
def fixture_template_dir(tmp_path):
    folder = tmp_path / "user" / "templates"
    shutil.copytree(FIXTURE, folder)
    return folder


def _files(folder):
    found = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, folder)] = handle.read()
    return found


def test_relative_playbooks_and_files_are_copied_into_the_project_and_referenced_there(template_dir, tmp_path):
    out = tmp_path / "elsewhere" / "project"
    compile_template(str(template_dir / "app.yaml"), str(out), {}, TYPES)
    files = _files(out)
    assert files["artifacts/scripts/step.yml"] == (template_dir / "scripts" / "step.yml").read_bytes()
    assert files["artifacts/scripts/notes.txt"] == (template_dir / "scripts" / "notes.txt").read_bytes()
    assert sorted(p for p in files if p.startswith("artifacts/")) == ["artifacts/scripts/notes.txt",
                                                                     "artifacts/scripts/step.yml"]
    assert files[".ansible-lint"] == b"---\nexclude_paths:\n  - template.yaml\n  - artifacts\n"  # user content
    # nothing in the project points back at the user's directory
    assert not [p for p, data in files.items() if str(template_dir).encode() in data]
    tasks = {t["name"]: t for t in tasks_of(load(out / "deploy.yml"))}
    configure = tasks["Run app configure"]["vars"]
    assert configure["tosca_operation_playbook"] == "{{ playbook_dir ~ '/artifacts/scripts/step.yml' }}"
    # get_artifact on the node: the copy the play puts there before the node's operations
    node_dir = "(indigo_artifacts_dir | default('/var/lib/indigo/artifacts'))"
    assert configure["tosca_operation_inputs"]["detail"] == "{{ (%s ~ '/scripts/notes.txt') }}" % node_dir
    copy = tasks["Copy the artifacts of app"]
    assert copy["loop"] == [{"src": ("UNSAFE", "artifacts/scripts/notes.txt"), "dir": ("UNSAFE", "scripts/")}]
    assert copy["ansible.builtin.copy"] == {"src": "{{ playbook_dir }}/{{ item.src }}",
                                            "dest": "{{ %s }}/{{ item.dir }}" % node_dir, "mode": "0700"}
    # the type's relationship operation (defined in the template, relative too)
    assert tasks["Run app dependency pre_configure_target"]["vars"]["tosca_operation_playbook"] == \
        "{{ playbook_dir ~ '/artifacts/scripts/step.yml' }}"


def test_recompiling_gives_byte_identical_projects_from_any_working_directory(template_dir, tmp_path, monkeypatch):
    compile_template(str(template_dir / "app.yaml"), str(tmp_path / "a"), {}, TYPES)
    monkeypatch.chdir(template_dir / "scripts")
    compile_template("../app.yaml", str(tmp_path / "b"), {}, TYPES)
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    first.pop("ansible.cfg"), second.pop("ansible.cfg")  # same framework path; compared above in spirit
    assert first == second


def test_type_file_paths_resolve_against_the_type_file(tmp_path):
    folder = tmp_path / "tpl"
    (folder / "types").mkdir(parents=True)
    (folder / "playbooks").mkdir()
    (folder / "playbooks" / "install.yml").write_text("- hosts: localhost\n")
    (folder / "types" / "app_types.yaml").write_text(textwrap.dedent("""\
        tosca_definitions_version: tosca_simple_yaml_1_0
        node_types:
          example.nodes.App:
            derived_from: tosca.nodes.SoftwareComponent
            interfaces:
              Standard:
                create: ../playbooks/install.yml
        """))
    template = folder / "t.yaml"
    template.write_text(HEADER + "  - types/app_types.yaml\ntopology_template:"
                        + OPERATION_TEMPLATE.split("topology_template:")[1])
    out = tmp_path / "out"
    compile_template(str(template), str(out), {}, TYPES)
    assert (out / "artifacts" / "playbooks" / "install.yml").read_text() == "- hosts: localhost\n"
    tasks = {t["name"]: t for t in tasks_of(load(out / "deploy.yml"))}
    assert tasks["Run app create"]["vars"]["tosca_operation_playbook"] == \
        "{{ playbook_dir ~ '/artifacts/playbooks/install.yml' }}"


@pytest.mark.parametrize("implementation, message", [
    ("scripts/missing.yml", "scripts/missing.yml: no such file (looked for {dir}/scripts/missing.yml)"),
    ("../outside.yml", "../outside.yml leads out of the template's directory {dir}"),
    ("{outside}", "{outside} is an absolute path outside the template's directory {dir}"),
])
def test_bad_local_paths_are_exit_2_naming_file_line_node_and_field(tmp_path, implementation, message):
    folder = tmp_path / "tpl"
    folder.mkdir()
    (tmp_path / "outside.yml").write_text("- hosts: localhost\n")
    implementation = implementation.format(outside=tmp_path / "outside.yml")
    template = folder / "t.yaml"
    template.write_text(OPERATION_TEMPLATE % {"implementation": implementation})
    out = tmp_path / "out"
    with pytest.raises(UserInputError) as caught:
        compile_template(str(template), str(out), {}, TYPES)
    expected = "%s:9, node app, field interfaces.Standard.configure.implementation: %s" % (
        template, message.format(dir=folder, outside=tmp_path / "outside.yml"))
    assert str(caught.value).startswith(expected), str(caught.value)
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".indigo")] == []
    result = indigo(*["compile", str(template), "-o", str(out)]
                                + ["--types-path=%s" % t for t in TYPES])
    assert result.exit_code == 2 and "Traceback" not in result.output and expected in " ".join(result.output.split())


def test_absolute_path_inside_the_template_directory_is_carried_too(tmp_path):
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "op.yml").write_text("- hosts: localhost\n")
    template = folder / "t.yaml"
    template.write_text(OPERATION_TEMPLATE % {"implementation": folder / "op.yml"})
    compile_template(str(template), str(tmp_path / "out"), {}, TYPES)
    tasks = {t["name"]: t for t in tasks_of(load(tmp_path / "out" / "deploy.yml"))}
    assert tasks["Run app configure"]["vars"]["tosca_operation_playbook"] == "{{ playbook_dir ~ '/artifacts/op.yml' }}"


def test_urls_galaxy_roles_and_images_stay_references(tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + textwrap.dedent("""\
        node_types:
          example.nodes.App:
            derived_from: tosca.nodes.SoftwareComponent
            artifacts:
              role: {file: indigo-dc.docker, type: tosca.artifacts.AnsibleGalaxy.role}
              image: {file: ubuntu:16.04, type: tosca.artifacts.Deployment.Image.Container.Docker}
              dump: {file: "https://example.org/db.sql", type: tosca.artifacts.File}
            interfaces:
              Standard:
                configure:
                  implementation: https://raw.githubusercontent.com/indigo-dc/tosca-types/master/artifacts/docker.yml
                  inputs: {dump: {get_artifact: [SELF, dump]}}
        topology_template:
          node_templates:
            app:
              type: example.nodes.App
              requirements:
                - host: vm
            vm:
              type: tosca.nodes.indigo.Compute
        """))
    out = tmp_path / "out"
    compile_template(str(template), str(out), {}, TYPES)
    assert not (out / "artifacts").exists()
    tasks = {t["name"]: t for t in tasks_of(load(out / "deploy.yml"))}
    assert "Copy the artifacts of app" not in tasks
    variables = tasks["Run app configure"]["vars"]
    assert variables["tosca_operation_playbook"] == (
        "UNSAFE", "https://raw.githubusercontent.com/indigo-dc/tosca-types/master/artifacts/docker.yml")
    assert variables["tosca_operation_galaxy_roles"] == [("UNSAFE", "indigo-dc.docker")]
    assert variables["tosca_operation_inputs"] == {"dump": ("UNSAFE", "https://example.org/db.sql")}
