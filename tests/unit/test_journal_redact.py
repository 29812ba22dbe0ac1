"""Redaction: secret-named values, known secret values, site credentials, artifact trees."""

import json
import os
import stat

from tosca2ansible.runtime.journal.api import Journal
from tosca2ansible.runtime.journal.redact import (MASK, Redactor, redact_inputs, redact_tree, secret_values_from_vars,
                                                  site_secret_values)


def test_secret_named_values_are_masked_at_any_depth_and_public_keys_kept():
    inputs = {"db_password": "hunter22", "nodes": 3, "ssh_public_key": "ssh-ed25519 AAAA",
              "auth": {"api_token": "tok-123456", "user": "bob"}, "aws_secret_key": "SeCrEt99"}
    assert redact_inputs(inputs) == {"db_password": MASK, "nodes": 3, "ssh_public_key": "ssh-ed25519 AAAA",
                                     "auth": {"api_token": MASK, "user": "bob"}, "aws_secret_key": MASK}
    assert secret_values_from_vars(inputs) == {"hunter22", "tok-123456", "SeCrEt99"}


def test_known_values_are_masked_inside_longer_strings_longest_first():
    redactor = Redactor(["pass1234", "pass1234-extended", "abc"])  # "abc" is too short to mask
    assert redactor.text("x pass1234-extended y pass1234 abc") == "x %s y %s abc" % (MASK, MASK)
    assert redactor.data({"msg": ["login pass1234 failed"], "port": 22}) == {"msg": ["login %s failed" % MASK], "port": 22}


def test_site_credentials_resolved_from_the_catalogue(tmp_path):
    creds = tmp_path / "creds.yml"
    creds.write_text("password: FilePassw0rd\n")
    (tmp_path / "sites.yml").write_text(
        "sites:\n"
        "  - {name: os1, kind: openstack, endpoint: 'https://keystone:5000/v3',\n"
        "     credentials: {env: {application_credential_secret: OS_APP_SECRET}, file: %s}}\n"
        "  - {name: os2, kind: openstack, endpoint: 'https://k2:5000/v3', credentials: {env: {token: MISSING_VAR}}}\n"
        "  - {name: os3, kind: openstack, endpoint: 'https://k3:5000/v3', credentials: {clouds_yaml: mycloud}}\n" % creds)
    found = site_secret_values(str(tmp_path / "sites.yml"), {"OS_APP_SECRET": "EnvSecret42"})
    assert found == {"EnvSecret42", "FilePassw0rd"}  # unresolvable site adds nothing; a clouds.yaml name is no secret
    assert site_secret_values(str(tmp_path / "nowhere"), {}) == set()


def test_data_service_credentials_of_the_catalogue_are_secrets_too(tmp_path):
    # the data modules (rucio_rule) resolve them in the run's environment: ansible-runner writes it to artifacts
    (tmp_path / "sites.yml").write_text(
        "sites: [{name: local, kind: local}]\n"
        "data_services:\n"
        "  rucio: {endpoint: 'http://rucio', credentials: {env: {username: T_USER, password: T_RUCIO_PW}}}\n"
        "  onezone: {endpoint: 'https://zone', credentials: {env: {token: T_MISSING}}}\n")
    found = site_secret_values(str(tmp_path / "sites.yml"), {"T_USER": "jdoe-user", "T_RUCIO_PW": "RucioPw-42"})
    assert "RucioPw-42" in found and "jdoe-user" in found  # usernames are masked too, as for sites


def test_redact_tree_scrubs_raw_and_json_escaped_values_and_keeps_modes(tmp_path):
    secret = 'pa"ss\\word9'
    (tmp_path / "artifacts" / "job_events").mkdir(parents=True)
    event = tmp_path / "artifacts" / "job_events" / "1-x.json"
    event.write_text(json.dumps({"stdout": "value=" + secret}))
    stdout = tmp_path / "artifacts" / "stdout"
    stdout.write_text("msg: %s\n" % secret)
    os.chmod(stdout, 0o640)
    clean = tmp_path / "artifacts" / "status"
    clean.write_text("successful")
    assert redact_tree(tmp_path, [secret, "xy"]) == 2
    assert secret not in stdout.read_text() and MASK in stdout.read_text()
    assert json.loads(event.read_text()) == {"stdout": "value=" + MASK}
    assert stat.S_IMODE(os.stat(stdout).st_mode) == 0o640
    assert clean.read_text() == "successful"
    assert not [p for p in tmp_path.rglob(".redact-*")]


def test_journal_api_never_stores_secret_inputs_or_messages(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(str(path), secrets=["SiteCredXYZ"]) as journal:
        journal.record_deployment("demo", "deploying", inputs={"admin_token": "TokenABC123", "size": "2 GB"},
                                  template="tosca_definitions_version: tosca_simple_yaml_1_0\n", group="g1")
        journal.record_attempt("r1", "demo", 1, "os1", "failed", "auth", "login with SiteCredXYZ refused")
        journal.record_resource("r1", "demo", "os1", "instance", "i-1", "created",
                                detail={"user_data": "#cloud-config token TokenABC123", "password": "x1234"})
        row = journal.store.rows("deployments")[0]
        assert row["inputs"] == {"admin_token": MASK, "size": "2 GB"}
        assert row["template_digest"].startswith("sha256:") and len(row["template_digest"]) == 71
        assert journal.store.rows("attempts")[0]["message"] == "login with %s refused" % MASK
        assert journal.store.rows("resources")[0]["detail"] == {"user_data": "#cloud-config token %s" % MASK, "password": MASK}
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"TokenABC123" not in data and b"SiteCredXYZ" not in data
