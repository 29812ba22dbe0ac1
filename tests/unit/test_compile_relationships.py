"""Relationship Configure operations (pre_configure_*, post_configure_*, add_*) are emitted around the
source's own operations, each on the Compute of its end, with SELF/SOURCE/TARGET bound."""

from __future__ import annotations

import os
import textwrap

import pytest

from tests.fixtures.corpus import EXAMPLES, require_corpus
from tosca2ansible.compiler import compile_template
from tosca2ansible.errors import UnsupportedError

from test_compile import HEADER, TYPES, load

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "operations_template")


def _plays(project):
    return {play["name"]: play for play in load(project / "deploy.yml")}


def test_operations_follow_the_tosca_workflow_on_the_right_compute(tmp_path):
    compile_template(os.path.join(FIXTURE, "app.yaml"), str(tmp_path / "p"), {}, TYPES)
    plays = _plays(tmp_path / "p")
    assert [p for p in plays if p.startswith("Configure")] == ["Configure level 1: db", "Configure level 2: app"]
    app = plays["Configure level 2: app"]
    # the target's end runs on the target's Compute: the play covers both groups
    assert app["hosts"] == "vm_app:vm_db"
    steps = [(t["name"], t["when"]) for t in app["tasks"]]
    on_app, on_db = ["inventory_hostname in groups['vm_app']"], ["inventory_hostname in groups['vm_db']"]
    assert steps == [
        ("Copy the artifacts of app", on_app),
        ("Run app create", on_app),
        ("Run app dependency pre_configure_source", on_app),
        ("Run app dependency pre_configure_target", on_db),   # from the relationship type
        ("Run app configure", on_app),
        ("Run app dependency post_configure_source", on_app),
        ("Run app start", on_app),
        ("Run app dependency add_target", on_app),
        ("Run app dependency add_source", on_db),
    ]
    ops = {t["name"]: t["vars"] for t in app["tasks"] if "vars" in t}
    # SELF is the relationship (its property port), TARGET the db, SOURCE the app
    assert ops["Run app dependency pre_configure_source"]["tosca_operation_inputs"]["detail"] == \
        "{{ (('the-db' | string) ~ ':' ~ (5432 | string)) }}"
    assert ops["Run app dependency pre_configure_target"]["tosca_operation_inputs"]["detail"] == ("UNSAFE", "the-app")
    assert ops["Run app dependency add_source"]["tosca_operation_node"] == "db"
    assert ops["Run app dependency add_source"]["tosca_operation_name"] == "app_dependency_add_source"
    assert ops["Run app dependency pre_configure_source"]["tosca_operation_inputs"]["log_file"] == "{{ input_log_file }}"


def test_indigo_storage_mount_runs_on_the_compute_before_level_one(tmp_path):
    """onedata_client_on_aws.yaml: the Compute AttachesTo a OneData space with pre_configure_source."""
    require_corpus()
    compile_template(str(EXAMPLES / "onedata_client_on_aws.yaml"), str(tmp_path / "p"), {}, TYPES,
                     defer_inputs=True)
    names = [p["name"] for p in load(tmp_path / "p" / "deploy.yml")]
    assert names.index("Configure the relationships of the Compute nodes") == names.index(
        "Gather facts on every deployment node") + 1
    play = _plays(tmp_path / "p")["Configure the relationships of the Compute nodes"]
    assert play["hosts"] == "onedata_client_node" and play["become"] is True
    [task] = play["tasks"]
    assert task["name"] == "Run onedata_client_node local_storage pre_configure_source"
    assert task["vars"]["tosca_operation_playbook"] == (
        "UNSAFE", "https://raw.githubusercontent.com/indigo-dc/tosca-types/master/artifacts/onedata/oneclient_install.yml")
    inputs = task["vars"]["tosca_operation_inputs"]
    assert inputs["onedata_location"] == ("UNSAFE", "/tmp/onedataspace")          # SELF: the relationship
    assert inputs["onedata_token"] == ("UNSAFE", "some_token")                    # TARGET's credential
    assert inputs["oneprovider_host"] == [("UNSAFE", "oneprovider.com"), ("UNSAFE", "twoprovider.net")]


def test_an_end_without_a_compute_is_not_supported_yet(tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + textwrap.dedent("""\
        topology_template:
          node_templates:
            vm:
              type: tosca.nodes.indigo.Compute
              requirements:
                - local_storage:
                    node: space
                    relationship:
                      type: tosca.relationships.AttachesTo
                      properties: {location: /mnt/space}
                      interfaces:
                        Configure:
                          post_configure_target: https://example.org/target.yml
            space:
              type: tosca.nodes.indigo.OneDataStorage
              properties:
                oneprovider_host: [op.example.org]
                dataspace: [space]
                onezone_endpoint: https://oz.example.org
                credential: {token: t, token_type: token}
        """))
    with pytest.raises(UnsupportedError) as caught:
        compile_template(str(template), str(tmp_path / "out"), {}, TYPES)
    assert str(caught.value) == (
        "%s:9, node vm, field requirements.local_storage.relationship.interfaces.post_configure_target: not supported "
        "yet: relationship operation post_configure_target needs space (tosca.nodes.indigo.OneDataStorage) configured "
        "on a Compute node" % template)
    assert not (tmp_path / "out").exists()
