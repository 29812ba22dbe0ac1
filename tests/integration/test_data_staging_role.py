"""The role indigo.paas.data_staging on localhost against real servers: inputs downloaded from a real
WebDAV server (wsgidav) with their checksums verified, outputs uploaded to WebDAV and to S3 (moto_server)
and read back there; a wrong checksum fails the play; secrets never reach the output."""

import hashlib
import os
import subprocess
import sys

import boto3
import pytest
import requests
import yaml

from tests.fixtures.webdav import WebDav

pytestmark = pytest.mark.emulator
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV_BIN = os.path.join(REPO, ".venv", "bin")


def run_role(tmp_path, role_vars):
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False,
                                         "roles": [{"role": "indigo.paas.data_staging", **role_vars}]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    return subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(playbook)],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=240)


@pytest.fixture
def dav(tmp_path):
    root = tmp_path / "dav"
    (root / "inputs").mkdir(parents=True)
    server = WebDav(root)
    yield server
    server.stop()


def test_inputs_checked_outputs_uploaded_to_webdav_and_s3(tmp_path, dav, moto_server, aws_env):
    payload = os.urandom(300_000)
    (dav.root / "inputs" / "events.bin").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (sandbox / "result.csv").write_text("a,b\n1,2\n")  # what the job wrote
    common = {"data_staging_dir": str(sandbox), "data_staging_outputs": "result.csv,events.bin",  # INDIGO's csv list
              "data_staging_install_clients": False}  # this host's venv has them; no apt here
    webdav = {**common,
              "data_staging_inputs": [{"url": dav.url + "/inputs/events.bin", "checksum": "sha256:" + digest}],
              "data_staging_input_username": dav.user, "data_staging_input_password": dav.password,
              "data_staging_output_protocol": "webdav", "data_staging_output_endpoint": dav.url,
              "data_staging_output_path": "results/run-1",
              "data_staging_output_username": dav.user, "data_staging_output_password": dav.password}
    result = run_role(tmp_path, webdav)
    assert result.returncode == 0, result.stdout[-3000:]
    assert hashlib.sha256((sandbox / "events.bin").read_bytes()).hexdigest() == digest
    got = requests.get(dav.url + "/results/run-1/result.csv", auth=(dav.user, dav.password), timeout=10)
    assert got.status_code == 200 and got.text == "a,b\n1,2\n"
    assert hashlib.sha256((dav.root / "results" / "run-1" / "events.bin").read_bytes()).hexdigest() == digest
    assert dav.password not in result.stdout
    again = run_role(tmp_path, webdav)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-2000:]

    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket="job-outputs")
    result = run_role(tmp_path, {**common, "data_staging_output_protocol": "s3", "data_staging_output_endpoint": moto_server,
                                 "data_staging_output_path": "job-outputs/run-1",
                                 "data_staging_output_access_key": "testing", "data_staging_output_secret_key": "testing"})
    assert result.returncode == 0, result.stdout[-3000:]
    body = s3.get_object(Bucket="job-outputs", Key="run-1/events.bin")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == digest


def test_a_wrong_checksum_fails_the_download(tmp_path, dav):
    (dav.root / "inputs" / "x.dat").write_bytes(b"not what was promised")
    result = run_role(tmp_path, {
        "data_staging_dir": str(tmp_path / "sandbox"),
        "data_staging_inputs": [dav.url + "/inputs/x.dat#sha256=" + "0" * 64],  # as a TOSCA input_urls entry
        "data_staging_input_username": dav.user, "data_staging_input_password": dav.password,
    })
    assert result.returncode != 0
    assert "checksum" in result.stdout.lower(), result.stdout[-2000:]
    assert not (tmp_path / "sandbox" / "x.dat").exists()
