"""Provider and credential errors met by `indigo status` and `undeploy` outside the playbooks end in the
README's exit codes with one line, never a traceback: credentials missing → 3, a site failing → 4."""

import pytest
from click.testing import CliRunner

from tosca2ansible.cli import IndigoGroup, deploy_cmd
from tosca2ansible.runtime.state import DeploymentState


def _cli():
    group = IndigoGroup("indigo")
    deploy_cmd.register(group)
    return group


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    sites = tmp_path / "sites.yml"
    sites.write_text("sites:\n  - {name: cloud, kind: aws, region: us-east-1, endpoint: 'http://127.0.0.1:9',\n"
                     "     credentials: {env: {access_key: T_NO_SUCH_KEY, secret_key: T_NO_SUCH_SECRET}},\n"
                     "     api_retries: 1, api_retry_delay: 0.01}\n")
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INDIGO_SITES", str(sites))
    state = DeploymentState("demo")
    state.dir.mkdir(parents=True)
    state.write_record(site="cloud", catalogue=str(sites), status="deployed", inputs={})
    return monkeypatch


def test_missing_credentials_exit_3(deployment):
    deployment.delenv("T_NO_SUCH_KEY", raising=False)
    result = CliRunner().invoke(_cli(), ["status", "demo"])
    assert result.exit_code == 3, result.output
    assert "site cloud: environment variable T_NO_SUCH_KEY (for access_key) is not set" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_site_that_fails_exit_4(deployment):
    deployment.setenv("T_NO_SUCH_KEY", "x")
    deployment.setenv("T_NO_SUCH_SECRET", "y")
    result = CliRunner().invoke(_cli(), ["status", "demo"])  # nothing listens on 127.0.0.1:9
    assert result.exit_code == 4, result.output
    assert "site cloud (transient error)" in result.output
    assert isinstance(result.exception, SystemExit)
