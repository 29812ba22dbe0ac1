"""Data endpoint credentials through the site catalogue: ``data_services.endpoints`` (references, never
values) resolved by `indigo deploy` into ``indigo_data_endpoints`` in the run's secret vars file, picked by
the role indigo.paas.data_staging for its output endpoint; S3 on a real moto_server, no AWS credentials in
the environment (without the catalogue's keys boto3 has none and the upload fails); the values masked by the
journal's catalogue scrubbing and never in the play's output."""

import hashlib
import os
import subprocess
import sys

import boto3
import pytest
import yaml

from ansible_collections.indigo.paas.plugins.plugin_utils.journal.redact import data_service_secret_values
from tosca2ansible.runtime.deploy import data_endpoint_vars
from tosca2ansible.runtime.runner import unsafe_vars_yaml

pytestmark = pytest.mark.emulator
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
ACCESS, SECRET = "AKIA-endpoint-test", "S3-secret-{{ lookup('env','HOME') }}-key"  # Jinja in a secret stays text
AWS_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


def catalogue(tmp_path, url):
    path = tmp_path / "sites.yml"
    path.write_text(yaml.safe_dump({"sites": [{"name": "local", "provider": "local"}], "data_services": {"endpoints": [
        {"url": url + "/", "credentials": {"env": {"access_key": "T_S3_ACCESS", "secret_key": "T_S3_SECRET"}}},
        {"url": "https://dav.example.org", "credentials": {"env": {"password": "T_UNSET_DAV_PASSWORD"}}}]}}))
    return str(path)


def test_endpoints_resolve_from_the_environment_an_unresolvable_one_is_reported_and_left_out(tmp_path, monkeypatch):
    monkeypatch.setenv("T_S3_ACCESS", ACCESS)
    monkeypatch.setenv("T_S3_SECRET", SECRET)
    monkeypatch.delenv("T_UNSET_DAV_PASSWORD", raising=False)
    said = []
    found = data_endpoint_vars(catalogue(tmp_path, "http://s3.example.org:9000"), said.append)
    assert found == {"indigo_data_endpoints": {"http://s3.example.org:9000": {"access_key": ACCESS, "secret_key": SECRET}}}
    assert len(said) == 1 and "https://dav.example.org" in said[0] and "T_UNSET_DAV_PASSWORD" in said[0], said
    assert {ACCESS, SECRET} <= data_service_secret_values(catalogue(tmp_path, "http://x"))  # scrubbed from artifacts
    assert data_endpoint_vars(str(tmp_path / "none.yml")) == {}


def run_role(tmp_path, role_vars, vars_file=None):
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False,
                                         "roles": [{"role": "indigo.paas.data_staging", **role_vars}]}]))
    env = {k: v for k, v in os.environ.items() if k not in AWS_VARS}
    env.update(ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true",
               PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    extra = ["-e", "@" + str(vars_file)] if vars_file else []
    return subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", "-v",
                           "-e", "ansible_python_interpreter=" + sys.executable, *extra, str(playbook)],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=240)


def test_the_role_uploads_to_s3_with_the_catalogues_keys_for_its_endpoint(tmp_path, moto_server, monkeypatch):
    monkeypatch.setenv("T_S3_ACCESS", ACCESS)
    monkeypatch.setenv("T_S3_SECRET", SECRET)
    payload = os.urandom(200_000)
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (sandbox / "out.bin").write_bytes(payload)
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="x",
                      aws_secret_access_key="y")
    s3.create_bucket(Bucket="outs")
    role = {"data_staging_dir": str(sandbox), "data_staging_outputs": "out.bin", "data_staging_install_clients": False,
            "data_staging_output_protocol": "s3", "data_staging_output_endpoint": moto_server,
            "data_staging_output_path": "outs/run-1"}
    without = run_role(tmp_path, role)
    assert without.returncode != 0 and "redential" in without.stdout, without.stdout[-3000:]  # no keys: boto3 has none

    secrets = tmp_path / "secrets.yml"  # what `indigo deploy` writes (runner.run_playbook: the lease's 0600 file)
    secrets.write_text(unsafe_vars_yaml(data_endpoint_vars(catalogue(tmp_path, moto_server))))
    result = run_role(tmp_path, role, secrets)
    assert result.returncode == 0, result.stdout[-3000:]
    body = s3.get_object(Bucket="outs", Key="run-1/out.bin")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert SECRET not in result.stdout + result.stderr and ACCESS not in result.stdout + result.stderr
