"""What the reference systems kept silently (issue 15): a duplicate mapping key (PyYAML under the IM, SnakeYAML
under the orchestrator: the last one wins) and a node property its type does not declare (dropped). Both
compile with a warning naming file:line, and are errors under --strict, so typos stay visible."""

from __future__ import annotations

import os


from tosca2ansible.compiler import compile_template, validate_template
from tests.unit.test_templates_leniency import load, notes_of, write
from tests.helpers import indigo

INDIGO = """\
imports:
  - indigo_custom_types: https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml
"""

# Two `ports` maps under one endpoint, as a hand-edited template ends up with them.
DUPLICATE_PORTS = INDIGO + """\
topology_template:
  node_templates:
    server:
      type: tosca.nodes.indigo.Compute
      capabilities:
        endpoint:
          properties:
            network_name: PUBLIC
            ports:
              web_port:
                protocol: tcp
                source: 8088
            ports:
              admin_port:
                protocol: tcp
                source: 50070
        host:
          properties:
            num_cpus: 1
            mem_size: 1 GB
"""

# A property name a little off the one the type declares (`web_pass` for `web_password`).
TYPO = """\
node_types:
  my.WebApp:
    derived_from: tosca.nodes.SoftwareComponent
    properties:
      web_user: {type: string, required: false}
      web_password: {type: string, required: false}
    interfaces:
      Standard:
        configure: web.yml
topology_template:
  inputs:
    web_password:
      type: string
      default: s3cret-in-the-template
  node_templates:
    web:
      type: my.WebApp
      properties:
        web_user: admin
        web_pass: { get_input: web_password }
      requirements:
        - host: vm
    vm:
      type: tosca.nodes.Compute
"""


def _tree_text(root):
    texts = []
    for folder, _, names in os.walk(root):
        for name in names:
            if name != "template.yaml":  # the template itself is kept verbatim in the project
                with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as handle:
                    texts.append(handle.read())
    return "\n".join(texts)


def _typo(tmp_path, body=TYPO):
    (tmp_path / "web.yml").write_text("---\n- name: Configure the web app\n  hosts: all\n  tasks: []\n")
    return write(tmp_path, body)


def test_duplicate_key_is_a_warning_naming_both_lines_and_the_last_wins(tmp_path):
    path = write(tmp_path, DUPLICATE_PORTS)
    compiled = compile_template(path, str(tmp_path / "p"), {}, [], defer_inputs=True)
    assert notes_of(compiled, "warning") == [
        "warning: %s:16: duplicate key 'ports' on lines 12 and 16: the one on line 16 is used, line 12 is ignored "
        "(--strict makes this an error)" % path]
    text = _tree_text(tmp_path / "p")
    assert "port: 50070" in text and "8088" not in text


def test_duplicate_key_is_an_error_under_strict(tmp_path):
    path = write(tmp_path, DUPLICATE_PORTS)
    for command in (["validate", path, "--strict"], ["compile", path, "-o", str(tmp_path / "p"), "--strict"]):
        result = indigo(*command)
        assert result.exit_code == 2, result.output
        assert ("error: %s:16: duplicate key 'ports' on lines 12 and 16 (YAML keeps only the last one) (--strict)"
                % path) in result.output
    assert not (tmp_path / "p").exists()
    # without --strict the CLI compiles and prints the warning once
    result = indigo("compile", path, "-o", str(tmp_path / "q"))
    assert result.exit_code == 0, result.output
    assert result.output.count("duplicate key 'ports' on lines 12 and 16") == 1


def test_duplicate_key_in_an_imported_type_file_stays_a_notice(tmp_path):
    (tmp_path / "types.yaml").write_text(
        "tosca_definitions_version: tosca_simple_yaml_1_0\nnode_types:\n  my.Thing:\n"
        "    derived_from: tosca.nodes.Root\n    description: first\n    description: second\n")
    path = write(tmp_path, "imports:\n  - types.yaml\ntopology_template:\n  node_templates:\n"
                           "    thing: {type: my.Thing}\n")
    compiled = validate_template(path, {}, [], strict=True)  # upstream's file is not the user's to fix
    assert any(line.startswith("notice: %s:6: duplicate key 'description'" % (tmp_path / "types.yaml"))
               for line in compiled.notices)


def test_unknown_node_property_is_dropped_with_a_suggestion(tmp_path):
    path = _typo(tmp_path)
    compiled = compile_template(path, str(tmp_path / "p"), {}, [], defer_inputs=True)
    assert notes_of(compiled, "warning") == [
        "warning: %s:21, node web, field properties.web_pass: unknown property web_pass, did you mean web_password? "
        "(my.WebApp defines: admin_credential, component_version, web_password, web_user): its value is dropped "
        "(--strict makes this an error)" % path]
    properties = load(str(tmp_path / "p" / "group_vars" / "all" / "topology.yml"))["indigo_node_properties"]["web"]
    assert "web_pass" not in properties and "web_password" not in properties
    assert properties["web_user"] == ("UNSAFE", "admin")


def test_unknown_node_property_is_an_error_under_strict(tmp_path):
    path = _typo(tmp_path)
    result = indigo("validate", path, "--strict")
    assert result.exit_code == 2, result.output
    assert ("error: %s:21, node web, field properties.web_pass: unknown property web_pass, did you mean "
            "web_password? (my.WebApp defines: admin_credential, component_version, web_password, web_user) "
            "(--strict)" % path) in result.output


def test_unknown_node_property_far_from_any_name_has_no_suggestion(tmp_path):
    path = _typo(tmp_path, TYPO.replace("web_pass:", "colour:"))
    compiled = validate_template(path, {}, [])
    assert notes_of(compiled, "warning") == [
        "warning: %s:21, node web, field properties.colour: unknown property colour (my.WebApp defines: "
        "admin_credential, component_version, web_password, web_user): its value is dropped (--strict makes this "
        "an error)" % path]


PLAIN_COMPUTE = INDIGO + """\
topology_template:
  node_templates:
    vm:
      type: tosca.nodes.Compute
      capabilities:
        host:
          properties:
            num_cpus: 2
            mem_sise: 4 GB
        os:
          properties:
            image: ubuntu-22.04-vmi
"""


def test_capability_properties_a_derived_type_declares_are_read_others_dropped(tmp_path):
    path = write(tmp_path, PLAIN_COMPUTE)
    compiled = compile_template(path, str(tmp_path / "p"), {}, [], defer_inputs=True)
    assert ("notice: %s:15, node vm, field capabilities.os.properties.image: property image is not declared by "
            "tosca.capabilities.OperatingSystem but by tosca.capabilities.indigo.OperatingSystem, derived from it: "
            "read with that definition" % path) in compiled.notices
    [warning] = notes_of(compiled, "warning")
    assert warning.startswith("warning: %s:12, node vm, field capabilities.host.properties.mem_sise: unknown property "
                              "mem_sise, did you mean mem_size? (capability host (" % path)
    assert warning.endswith("): its value is dropped (--strict makes this an error)")
    topology = (tmp_path / "p" / "group_vars" / "all" / "topology.yml").read_text()
    assert "image: !unsafe ubuntu-22.04-vmi" in topology and "mem_sise" not in topology
    result = indigo("validate", path, "--strict")
    assert result.exit_code == 2 and "unknown property mem_sise, did you mean mem_size?" in result.output
