"""`indigo scale`: where the new count goes (input or template copy), its bounds, and clear errors.
The run itself on real nodes is in tests/integration/test_journal_local_site.py (slow)."""

import json

import pytest
import yaml

from tosca2ansible.errors import UserInputError
from tosca2ansible.runtime import deploy, runner
from tosca2ansible.runtime.scale import plan_scale
from tosca2ansible.runtime.state import DeploymentState
from tests.helpers import indigo, tosca

TEMPLATE = tosca("""\
      inputs:
        wn_num: {type: integer, default: 1}
        wn_max: {type: integer, default: 4}
      node_templates:
        front:
          type: tosca.nodes.indigo.Compute
          capabilities:
            os: {properties: {type: linux}}
        wn:
          type: tosca.nodes.indigo.Compute
          capabilities:
            scalable: {properties: {count: {get_input: wn_num}, max_instances: {get_input: wn_max}}}
            os: {properties: {type: linux}}
        fixed:
          type: tosca.nodes.indigo.Compute
          capabilities:
            scalable: {properties: {count: 2, min_instances: 1}}
            os: {properties: {type: linux}}
    """)
COMPUTES = ["fixed", "front", "wn"]


def test_count_from_an_input_sets_that_input():
    inputs, text, previous = plan_scale(TEMPLATE, COMPUTES, {"wn_num": "2"}, "wn", 3, "d1")
    assert (inputs, text, previous) == ({"wn_num": "3"}, None, "2")


def test_literal_count_is_written_into_the_template_copy():
    inputs, text, previous = plan_scale(TEMPLATE, COMPUTES, {}, "fixed", 5, "d1")
    assert inputs == {} and previous == 2
    doc = yaml.safe_load(text)
    nodes = doc["topology_template"]["node_templates"]
    assert nodes["fixed"]["capabilities"]["scalable"]["properties"] == {"count": 5, "min_instances": 1}
    assert nodes["wn"] == yaml.safe_load(TEMPLATE)["topology_template"]["node_templates"]["wn"]  # others untouched


def test_node_without_scalable_gets_one():
    _, text, previous = plan_scale(TEMPLATE, COMPUTES, {}, "front", 2, "d1")
    assert previous == 1
    caps = yaml.safe_load(text)["topology_template"]["node_templates"]["front"]["capabilities"]
    assert caps["scalable"] == {"properties": {"count": 2}} and caps["os"] == {"properties": {"type": "linux"}}


@pytest.mark.parametrize("node, count, inputs, message", [
    ("wn", 5, {}, "--count 5 is above its max_instances 4"),
    ("wn", 7, {"wn_max": "6"}, "--count 7 is above its max_instances 6"),
    ("fixed", 0, {}, "--count 0 is below its min_instances 1"),
    ("front", -1, {}, "--count must be 0 or more"),
    ("nosuch", 1, {}, "has no Compute node template 'nosuch' (its Compute nodes: fixed, front, wn)"),
])
def test_bad_requests_are_user_errors(node, count, inputs, message):
    with pytest.raises(UserInputError) as err:
        plan_scale(TEMPLATE, COMPUTES, inputs, node, count, "d1")
    assert message in str(err.value)


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    state = DeploymentState("demo")
    state.write_record(site="local", status="deployed", inputs={"wn_num": "1"}, catalogue="/cat", group="physics")
    (state.dir / "template.yaml").write_text(TEMPLATE)
    return state


def _scale(*args):
    return indigo("scale", *args, catch_exceptions=False)


def test_scale_converges_through_deploy_as_action_scale(recorded, monkeypatch):
    calls = []

    def fake_deploy(template, inputs, deployment, sites, catalogue, **kwargs):
        calls.append((template, inputs, deployment, sites, catalogue, kwargs["action"], kwargs["note"]))
        return {"deployment": deployment, "outputs": {}, "changed": 1, "status": "deployed", "run_id": "r1"}

    monkeypatch.setattr(deploy, "deploy", fake_deploy)
    result = _scale("demo", "--node", "fixed", "--count", "3", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["count"] == 3
    assert calls == [(None, {}, "demo", None, "/cat", "scale", "scale fixed: 2 -> 3")]  # site, group: the recorded ones
    fixed = yaml.safe_load((recorded.dir / "template.yaml").read_text())["topology_template"]["node_templates"]["fixed"]
    assert fixed["capabilities"]["scalable"]["properties"]["count"] == 3
    result = _scale("demo", "--node", "wn", "--count", "2")
    assert result.exit_code == 0 and "scaled: wn 1 -> 2" in result.output
    assert calls[-1][1] == {"wn_num": "2"}


def test_scale_errors_exit_2_without_running(recorded, monkeypatch):
    monkeypatch.setattr(deploy, "deploy", lambda *a, **k: pytest.fail("must not run"))
    result = _scale("demo", "--node", "nosuch", "--count", "2")
    assert result.exit_code == 2 and "has no Compute node template 'nosuch'" in result.output
    result = _scale("other", "--node", "wn", "--count", "2")
    assert result.exit_code == 2 and "no deployment 'other'" in result.output


def test_keep_artifacts_setting(monkeypatch):
    monkeypatch.delenv("INDIGO_KEEP_ARTIFACTS", raising=False)
    assert runner.keep_artifacts() == runner.DEFAULT_KEEP_ARTIFACTS
    for text, keep in (("3", 3), ("0", None), ("all", None)):
        monkeypatch.setenv("INDIGO_KEEP_ARTIFACTS", text)
        assert runner.keep_artifacts() == keep
    monkeypatch.setenv("INDIGO_KEEP_ARTIFACTS", "-2")
    with pytest.raises(UserInputError, match="INDIGO_KEEP_ARTIFACTS must be a number"):
        runner.keep_artifacts()


def test_prune_keeps_the_newest_runs_of_that_deployment_only(tmp_path):
    names = ["20250101T00000%d-demo-deploy-abcde%d" % (i, i) for i in range(4)]
    names += ["20250101T000000-demo-x-deploy-123456", "20250101T000001-demo-undeploy-654321", "not-a-run"]
    for name in names:
        (tmp_path / name).mkdir()
    removed = runner.prune_artifacts(tmp_path, "demo", 2, current=names[3])
    assert removed == [names[0], names[1], "20250101T000001-demo-undeploy-654321"]  # same second: older dir first
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names[2], names[3], "20250101T000000-demo-x-deploy-123456",
                                                                 "not-a-run"])
    assert runner.prune_artifacts(tmp_path, "demo", None) == []
