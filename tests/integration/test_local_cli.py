"""`indigo deploy|status|outputs|undeploy|ssh`: the errors a user meets before anything runs."""

from __future__ import annotations

import json

import pytest

from tosca2ansible.runtime.localsite import host
from tests import helpers

EXAMPLE = str(helpers.EXAMPLES / "slurm_cluster.yaml")


@pytest.fixture
def indigo(tmp_path, monkeypatch):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    return lambda *args: helpers.indigo(*args, catch_exceptions=False)


def test_deploy_when_not_root_says_so_with_exit_3(indigo, monkeypatch):
    monkeypatch.setattr(host.os, "geteuid", lambda: 1000)
    result = indigo("deploy", EXAMPLE, "-i", "wn_num=2")
    assert result.exit_code == 3
    assert "needs root" in result.output and "site local" in result.output


def test_deploy_without_systemd_nspawn_names_the_package(indigo, monkeypatch):
    monkeypatch.setattr(host, "which", lambda tool: None if tool == "systemd-nspawn" else "/usr/bin/" + tool)
    result = indigo("deploy", EXAMPLE)
    assert result.exit_code == 3
    assert "systemd-nspawn" in result.output and "systemd-container" in result.output


def test_malformed_input_is_a_usage_error(indigo, monkeypatch):
    monkeypatch.setattr(host, "check_host", lambda *a, **k: None)
    result = indigo("deploy", EXAMPLE, "-i", "wn_num")
    assert result.exit_code == 2 and "NAME=VALUE" in result.output


def test_unknown_site_is_a_usage_error(indigo):
    result = indigo("deploy", EXAMPLE, "--site", "nowhere")
    assert result.exit_code == 2 and "nowhere" in result.output


@pytest.mark.parametrize("command", ["status", "outputs", "undeploy"])
def test_unknown_deployment(indigo, command):
    result = indigo(command, "nosuch")
    assert result.exit_code == 2 and "no deployment 'nosuch'" in result.output


def test_invalid_deployment_id(indigo):
    result = indigo("outputs", "Bad_Id")
    assert result.exit_code == 2 and "must match" in result.output


def test_outputs_json_of_a_recorded_deployment(indigo, tmp_path):
    from tosca2ansible.runtime.state import DeploymentState

    state = DeploymentState("demo")
    state.write_record(site="local", status="deployed", changed=0)
    state.outputs_file.write_text(json.dumps({"cluster_ip": "10.77.0.2"}))
    result = indigo("outputs", "demo", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {"deployment": "demo", "outputs": {"cluster_ip": "10.77.0.2"}, "changed": 0}
