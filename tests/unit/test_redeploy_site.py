"""Re-deploy and scale of an existing deployment: they converge on the site it lives on (never a second
copy on the default site), a different --site is a usage error, and a failed re-deploy says what failed
where and that the deployment was left in place.

The command line and runtime run for real (compiler, deployment state, journal, site catalogue); only
ansible-runner is replaced by a fake that records which site each run was for and returns a RunResult.
"""

import json

import pytest
import yaml

from tosca2ansible.runtime import deploy
from tosca2ansible.runtime.runner import RunResult
from tosca2ansible.runtime.state import DeploymentState
from tests.helpers import indigo, tosca

TEMPLATE = tosca("""\
      inputs:
        vm_num: {type: integer, default: 1}
      node_templates:
        vm:
          type: tosca.nodes.indigo.Compute
          capabilities:
            scalable: {properties: {count: {get_input: vm_num}}}
            os: {properties: {type: linux, distribution: debian, version: "13"}}
    """)
FAILED_TASK = {"host": "demo-vm-0", "task": "indigo.paas.os_users : Check every user has a valid name",
               "message": "user name must match ^[a-z_][a-z0-9_-]*$, got Bad Name"}


def _site(name):
    return {"name": name, "kind": "aws", "endpoint": "http://127.0.0.1:9", "region": "us-east-1",
            "credentials": {"env": {"access_key": "AWS_ACCESS_KEY_ID", "secret_key": "AWS_SECRET_ACCESS_KEY"}},
            "images": [{"name": "debian-13", "distribution": "debian", "version": "13", "id": "ami-1"}]}


class FakeRunner:
    """Stands in for ansible-runner: which site each run was for; the next outcome to return."""

    def __init__(self):
        self.sites = []
        self.fail_next = False

    def __call__(self, project_dir, playbook, *, deployment, action, extravars, **kwargs):
        self.sites.append(extravars["indigo_site"])
        run_id = "20250101T000000-%s-%s-%06d" % (deployment, action, len(self.sites))
        if self.fail_next:
            self.fail_next = False
            return RunResult(run_id=run_id, status="failed", rc=2, changed=0, stats={}, artifacts_dir="/runs/x",
                             failures=["%(host)s: %(task)s: %(message)s" % FAILED_TASK], failed_tasks=[FAILED_TASK])
        return RunResult(run_id=run_id, status="successful", rc=0, changed=1, failures=[], stats={},
                         artifacts_dir="/runs/x")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    catalogue = tmp_path / "sites.yml"
    catalogue.write_text(yaml.safe_dump({"sites": [_site("aws-a"), _site("aws-b")]}))
    monkeypatch.setenv("INDIGO_SITES", str(catalogue))  # no 'local' site in it at all
    template = tmp_path / "vms.yaml"
    template.write_text(TEMPLATE)
    fake = FakeRunner()
    monkeypatch.setattr(deploy, "run_playbook", fake)
    # nothing may be torn down in these tests: a teardown would need the provider
    monkeypatch.setattr(deploy, "provider_for", lambda site: pytest.fail("teardown on %s" % site["name"]))
    return {"template": template, "runner": fake}


def cli(*args):
    return indigo(*args, catch_exceptions=False)


def _deployed_on_b(env):
    result = cli("deploy", env["template"], "--deployment", "demo", "--site", "aws-b", "--json")
    assert result.exit_code == 0, result.output
    assert env["runner"].sites == ["aws-b"]
    return result


def test_redeploy_and_scale_converge_on_the_recorded_site(env):
    _deployed_on_b(env)
    result = cli("deploy", "--deployment", "demo", "--json")  # no --site
    assert result.exit_code == 0, result.output
    assert env["runner"].sites == ["aws-b", "aws-b"]
    assert cli("deploy", "--deployment", "demo", "--site", "aws-b").exit_code == 0  # its own site, said aloud
    assert cli("deploy", "--deployment", "demo", "--site", "auto").exit_code == 0  # auto: where it lives
    result = cli("scale", "demo", "--node", "vm", "--count", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["count"] == 2
    assert env["runner"].sites == ["aws-b"] * 5
    assert DeploymentState("demo").read_record()["site"] == "aws-b"


@pytest.mark.parametrize("sites", [["aws-a"], ["aws-b", "aws-a"], ["local"]])
def test_another_site_for_an_existing_deployment_is_a_usage_error(env, sites):
    _deployed_on_b(env)
    args = [a for name in sites for a in ("--site", name)]
    result = cli("deploy", "--deployment", "demo", *args)
    assert result.exit_code == 2, result.output
    moved = ", ".join(s for s in sites if s != "aws-b")
    assert "deployment demo lives on site aws-b; --site %s would deploy a second copy there" % moved in result.output
    assert "indigo undeploy demo" in result.output and "Traceback" not in result.output
    assert env["runner"].sites == ["aws-b"]  # nothing ran


class TeardownRecorder:
    def __init__(self, site):
        self.site = site

    def delete_deployment(self, deployment):
        TEARDOWNS.append(self.site["name"])
        return []


TEARDOWNS = []


def test_a_deployment_that_never_ran_retries_the_sites_it_asked_for(env, monkeypatch):
    env["runner"].fail_next = True
    monkeypatch.setattr(deploy, "provider_for", TeardownRecorder)
    TEARDOWNS.clear()
    result = cli("deploy", env["template"], "--deployment", "demo", "--site", "aws-a")
    assert result.exit_code == 4 and "no site could take the deployment: aws-a: failed (configuration)" in result.output
    assert TEARDOWNS == ["aws-a"]  # a new placement that failed is torn down
    result = cli("deploy", "--deployment", "demo")  # again, no --site: the site it was asked for
    assert result.exit_code == 0, result.output
    assert env["runner"].sites == ["aws-a", "aws-a"]
    result = cli("deploy", "--deployment", "demo", "--site", "aws-b")  # now it lives on aws-a
    assert result.exit_code == 2 and "lives on site aws-a" in result.output


def test_failed_redeploy_names_site_task_host_message_and_keeps_the_deployment(env):
    _deployed_on_b(env)
    env["runner"].fail_next = True
    result = cli("deploy", "--deployment", "demo", "-i", "vm_num=1")
    assert result.exit_code == 4, result.output  # the exit code of every failed run
    out = result.output
    assert "no site could take" not in out
    assert "re-deploy of demo failed on its site aws-b (configuration): host demo-vm-0, task " \
           "'indigo.paas.os_users : Check every user has a valid name': user name must match" in out
    assert "got Bad Name" in out
    assert "The existing deployment was left in place (not torn down)" in out
    assert "run 20250101T000000-demo-deploy-000002" in out and "Traceback" not in out
    record = DeploymentState("demo").read_record()
    assert record["site"] == "aws-b" and record["status"] == "failed"
    # still lives there: the next re-deploy converges on aws-b again
    assert cli("deploy", "--deployment", "demo").exit_code == 0
    assert env["runner"].sites == ["aws-b", "aws-b", "aws-b"]


def test_failed_scale_says_scale(env):
    _deployed_on_b(env)
    env["runner"].fail_next = True
    result = cli("scale", "demo", "--node", "vm", "--count", "3")
    assert result.exit_code == 4, result.output
    assert "scale of demo failed on its site aws-b (configuration): host demo-vm-0" in result.output
    assert "left in place" in result.output


def test_redeploy_and_scale_need_not_the_users_directory(env, tmp_path):
    """A template with a relative type import, a relative operation playbook and a file artifact: the
    deployment keeps them with its copy, so re-deploy and scale recompile after the user's folder is gone."""
    import shutil
    from pathlib import Path

    user_dir = tmp_path / "user"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "operations_template", user_dir)
    result = cli("deploy", user_dir / "small.yaml", "--deployment", "ops", "--site", "aws-a", "--json")
    assert result.exit_code == 0, result.output
    shutil.rmtree(user_dir)

    result = cli("deploy", "--deployment", "ops", "--json")
    assert result.exit_code == 0, result.output
    result = cli("scale", "ops", "--node", "vm_app", "--count", "2", "--json")
    assert result.exit_code == 0, result.output
    state = DeploymentState("ops")
    assert (state.source_dir / "types" / "step_types.yaml").is_file()
    assert (state.project_dir / "artifacts" / "scripts" / "step.yml").is_file()
    assert "vm_app" in state.template_file.read_text() and state.template_file.parent == state.source_dir
    assert env["runner"].sites == ["aws-a"] * 3
