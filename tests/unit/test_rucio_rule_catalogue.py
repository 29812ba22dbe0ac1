"""indigo.paas.rucio_rule with site/catalogue: the RSE expression is the site's data.rucio_rses, the server,
account and credentials the catalogue's data_services.rucio (references resolved from the environment), so a
compiled project names neither an RSE nor a secret. The module itself runs against a real Rucio server in
tests/integration/test_rucio_real.py and test_rucio_deploy.py."""

import pytest
import yaml

from ansible_collections.indigo.paas.plugins.module_utils.data.base import DataLocationError
from ansible_collections.indigo.paas.plugins.modules import rucio_rule

CATALOGUE = {
    "data_services": {"rucio": {"endpoint": "http://rucio.example:8080", "account": "jdoe",
                                "credentials": {"env": {"username": "T_RUCIO_USER", "password": "T_RUCIO_PW"}}}},
    "sites": [{"name": "beta", "kind": "local", "data": {"rucio_rses": ["BETA_DISK", "BETA_SCRATCH"]}},
              {"name": "plain", "kind": "local"}],
}


def params(**given):
    base = {k: None for k in ("endpoint", "auth_endpoint", "account", "username", "password", "token", "vo",
                              "ca_path", "rse_expression", "site", "catalogue")}
    base["auth_type"] = "userpass"
    base.update(given)
    return base


@pytest.fixture
def catalogue(tmp_path, monkeypatch):
    path = tmp_path / "sites.yml"
    path.write_text(yaml.safe_dump(CATALOGUE))
    monkeypatch.setenv("T_RUCIO_USER", "jdoe")
    monkeypatch.setenv("T_RUCIO_PW", "s3cret")
    return str(path)


def test_the_site_names_the_rse_and_the_catalogue_the_server(catalogue):
    got = params(site="beta", catalogue=catalogue, did="user.jdoe:inputs")
    assert rucio_rule.from_catalogue(got) == "beta"
    assert got["rse_expression"] == "BETA_DISK|BETA_SCRATCH"
    assert (got["endpoint"], got["account"], got["username"], got["password"]) == (
        "http://rucio.example:8080", "jdoe", "jdoe", "s3cret")


def test_given_options_win_over_the_catalogue(catalogue):
    got = params(site="beta", catalogue=catalogue, rse_expression="TAPE", endpoint="http://other", account="ops",
                 username="ops", password="pw")
    rucio_rule.from_catalogue(got)
    assert (got["rse_expression"], got["endpoint"], got["account"], got["password"]) == ("TAPE", "http://other",
                                                                                         "ops", "pw")


def test_a_site_without_rses_and_a_missing_credential_are_errors(catalogue, monkeypatch):
    with pytest.raises(DataLocationError, match="site plain has no data.rucio_rses"):
        rucio_rule.from_catalogue(params(site="plain", catalogue=catalogue))
    monkeypatch.delenv("T_RUCIO_PW")
    with pytest.raises(DataLocationError, match="T_RUCIO_PW"):
        rucio_rule.from_catalogue(params(site="beta", catalogue=catalogue))


def test_the_journal_row_of_a_rule_carries_its_outcome_and_its_deletion():
    from ansible_collections.indigo.paas.plugins.plugin_utils.journal import rows
    from ansible_collections.indigo.paas.plugins.plugin_utils.journal.redact import Redactor

    made = {"changed": True, "created": True, "created_resources": [rucio_rule.resource(
        {"did": "user.jdoe:inputs", "rse_expression": "BETA_DISK"}, {"id": "r1"}, "beta",
        {"state": "OK", "ok": 3, "total": 3, "files": []})]}
    assert rows.resource_rows(made, "indigo.paas.rucio_rule", {}, "dep-1", Redactor()) == [
        ("created", "beta", "rucio_rule", "r1", {"name": "user.jdoe:inputs -> BETA_DISK",
                                                 "detail_json": {"state": "OK", "ok": 3, "total": 3, "files": []}})]
    gone = {"changed": True, "deleted_resources": [rucio_rule.resource({"did": "user.jdoe:inputs",
                                                                        "rse_expression": "BETA_DISK"}, {"id": "r1"}, "beta")]}
    assert rows.resource_rows(gone, "indigo.paas.rucio_rule", {}, "dep-1", Redactor()) == [
        ("deleted", "beta", "rucio_rule", "r1", {"name": "user.jdoe:inputs -> BETA_DISK"})]


def test_a_password_resolved_from_the_catalogue_never_reaches_the_result(catalogue, tmp_path):
    """The credentials are resolved after Ansible parsed the options: the module masks them itself (the
    result's invocation echoes the options)."""
    import json
    import os
    import subprocess
    import sys

    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "rule", "indigo.paas.rucio_rule": {"did": "user.jdoe:inputs", "site": "beta", "catalogue": catalogue},
         "register": "got", "ignore_errors": True},
        {"name": "dump", "ansible.builtin.copy": {"content": "{{ got | to_json }}", "dest": str(tmp_path / "got.json")}}]}]))
    with open(catalogue) as handle:
        data = yaml.safe_load(handle)
    data["data_services"]["rucio"]["endpoint"] = "http://127.0.0.1:9"  # nothing listens: the call fails
    with open(catalogue, "w") as handle:
        yaml.safe_dump(data, handle)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(repo, "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    ran = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c",
                          "local", "-vvv", "-e", "ansible_python_interpreter=" + sys.executable, str(tmp_path / "play.yml")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    result = json.loads((tmp_path / "got.json").read_text())
    assert result.get("failed") and "Rucio" in result["msg"], result
    assert '"username": "jdoe"' in ran.stdout  # -vvv prints the invocation: the options as resolved
    assert "s3cret" not in ran.stdout + ran.stderr + (tmp_path / "got.json").read_text()
