"""The inventory plugin indigo.paas.deployment: one deployment spread over an AWS site (moto_server)
and an OpenStack site (the OpenStack emulator), read by the real ansible-inventory."""

import json
import os
import subprocess

import boto3
import pytest
import yaml

from test_ec2_support import ROOT, VENV_BIN, run_playbook

from tests.fixtures.openstack import emulator_fixture, openstack_site

pytestmark = pytest.mark.emulator
DEP = "spread"


openstack = emulator_fixture(0.1, scope="module", name="openstack")


@pytest.fixture(scope="module")
def project(tmp_path_factory, moto_server, openstack):
    tmp_path = tmp_path_factory.mktemp("inventory")
    aws_env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="eu-west-1")
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name="eu-west-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    sites = [
        {"name": "aws-eu", "kind": "aws", "endpoint": moto_server, "region": "eu-west-1", "ssh_user": "admin",
         "credentials": {"env": {"access_key": "AWS_ACCESS_KEY_ID", "secret_key": "AWS_SECRET_ACCESS_KEY"}},
         "images": [{"name": "debian-13", "distribution": "debian", "version": "13", "id": image_id}],
         "flavors": [{"name": "t3.micro", "num_cpus": 2, "mem_mb": 1024}]},
        openstack_site("os-test", openstack, tmp_path, version="12", poll_interval=0.05),
    ]
    (tmp_path / "sites.yml").write_text(yaml.safe_dump({"sites": sites}))
    (tmp_path / "cache").mkdir()
    (tmp_path / ("%s.indigo_deployment.yml" % DEP)).write_text(yaml.safe_dump({
        "plugin": "indigo.paas.deployment", "deployment": DEP, "catalogue": str(tmp_path / "sites.yml"),
        "ssh_private_key_file": "~/.indigo/deployments/spread/ssh/id_ed25519",
        "keyed_groups": [{"key": "indigo_site", "prefix": "site"}],
        "compose": {"indigo_is_front": "indigo_node == 'front'"},
        "cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(tmp_path / "cache"),
    }))
    env = dict(aws_env, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
               ANSIBLE_INVENTORY_ENABLED="indigo.paas.deployment")
    results = run_playbook(tmp_path, [
        {"indigo.paas.instance": {"deployment": DEP, "node": "front", "count": 1, "site": "aws-eu", "public_ip": True,
                                  "os_distribution": "debian", "wait": False}},
        {"indigo.paas.instance": {"deployment": DEP, "node": "wn", "count": 2, "site": "os-test",
                                  "os_distribution": "debian", "os_version": "12", "mem_size": "2 GB", "wait": False}},
    ], dict(env, INDIGO_SITES=str(tmp_path / "sites.yml")), name="provision")
    assert all(r.get("failed") is not True for r in results), results
    yield tmp_path, env, ec2
    run_playbook(tmp_path, [
        {"indigo.paas.deployment_teardown": {"deployment": DEP, "site": "aws-eu"}},
        {"indigo.paas.deployment_teardown": {"deployment": DEP, "site": "os-test"}},
    ], dict(env, INDIGO_SITES=str(tmp_path / "sites.yml")), name="teardown")
    assert openstack.leftovers() == {}


def plain(value):
    """ansible-inventory --list marks inventory strings as unsafe: {"__ansible_unsafe": "x"} -> "x"."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def inventory(tmp_path, env, *args):
    cmd = [os.path.join(VENV_BIN, "ansible-inventory"), "-i", str(tmp_path / ("%s.indigo_deployment.yml" % DEP))] + list(args)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_graph_and_host_vars_follow_the_indigo_contract(project):
    tmp_path, env, _ = project
    graph = inventory(tmp_path, env, "--graph")
    lines = [line.strip(" |-@:") for line in graph.splitlines()]
    for expected in ("indigo_deployment", "front", "wn", "site_aws_eu", "site_os_test",
                     "spread-front-0", "spread-wn-0", "spread-wn-1"):
        assert expected in lines, graph
    data = plain(json.loads(inventory(tmp_path, env, "--list")))
    assert sorted(data["wn"]["hosts"]) == ["spread-wn-0", "spread-wn-1"]
    assert data["front"]["hosts"] == ["spread-front-0"]
    assert sorted(data["indigo_deployment"]["hosts"]) == ["spread-front-0", "spread-wn-0", "spread-wn-1"]
    hostvars = data["_meta"]["hostvars"]
    front, worker = hostvars["spread-front-0"], hostvars["spread-wn-1"]
    assert front["IM_NODE_PUBLIC_IP"] and front["ansible_host"] == front["IM_NODE_PUBLIC_IP"]
    assert front["ansible_user"] == "admin" and front["indigo_site"] == "aws-eu" and front["indigo_is_front"] is True
    assert worker["IM_NODE_PRIVATE_IP"] and worker["ansible_user"] == "root" and worker["indigo_index"] == 1
    assert worker["IM_INFRASTRUCTURE_ID"] == DEP and worker["indigo_site"] == "os-test" and worker["indigo_is_front"] is False
    assert worker["IM_NODE_NET_0_IP"] == worker["ansible_host"]
    assert worker["ansible_ssh_private_key_file"].endswith("/.indigo/deployments/spread/ssh/id_ed25519")


def without_aws_credentials(env):
    return {key: value for key, value in env.items() if key not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}


def test_warm_cache_asks_no_site(project):
    tmp_path, env, _ = project
    inventory(tmp_path, env, "--graph", "--flush-cache")  # fills the cache
    # without AWS credentials a listing would skip the AWS site; from the cache it needs no site at all
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-inventory"), "-i", str(tmp_path / ("%s.indigo_deployment.yml" % DEP)),
                           "--graph"], env=without_aws_credentials(env), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "spread-front-0" in proc.stdout and "skipped" not in proc.stderr, proc.stderr
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-inventory"), "-i", str(tmp_path / ("%s.indigo_deployment.yml" % DEP)),
                           "--graph", "--flush-cache"], env=without_aws_credentials(env), capture_output=True, text=True, timeout=120)
    assert "spread-front-0" not in proc.stdout and "site aws-eu skipped" in proc.stderr, (proc.stdout, proc.stderr)
    assert "spread-wn-1" in proc.stdout


def test_cache_of_another_configuration_or_format_is_not_used(project):
    tmp_path, env, _ = project
    config = tmp_path / ("%s.indigo_deployment.yml" % DEP)
    original = config.read_text()
    assert "spread-front-0" in inventory(tmp_path, env, "--graph", "--flush-cache")  # cache holds both sites
    try:
        config.write_text(yaml.safe_dump(dict(yaml.safe_load(original), sites=["os-test"])))
        graph = inventory(tmp_path, env, "--graph")
        assert "spread-front-0" not in graph and "spread-wn-0" in graph, graph
    finally:
        config.write_text(original)
    # a cache file written by an older plugin (a list of instance dicts) is refreshed, not misread
    [cache_file] = list((tmp_path / "cache").iterdir())
    write_cache_payload(cache_file, [{"name": "stale-host", "node": "old", "index": 0, "site": "aws-eu"}])
    graph = inventory(tmp_path, env, "--graph")
    assert "stale-host" not in graph and "spread-front-0" in graph, graph
    payload = read_cache_payload(cache_file)
    assert payload["format"] == 3 and len(json.loads(payload["rows"])) == 3


def read_cache_payload(cache_file):
    """The plugin's cache value; ansible-core 2.19 wraps it as JSON text under ``__payload__``."""
    stored = json.loads(cache_file.read_text())
    return json.loads(stored["__payload__"]) if "__payload__" in stored else stored


def write_cache_payload(cache_file, value):
    stored = json.loads(cache_file.read_text())
    cache_file.write_text(json.dumps({"__payload__": json.dumps(value)} if "__payload__" in stored else value))


def test_cache_is_used_until_flushed(project):
    tmp_path, env, ec2 = project
    assert "spread-front-0" in inventory(tmp_path, env, "--graph")  # fills the cache
    ids = [i["InstanceId"] for r in ec2.describe_instances(
        Filters=[{"Name": "tag:indigo_deployment", "Values": [DEP]}])["Reservations"] for i in r["Instances"]]
    ec2.terminate_instances(InstanceIds=ids)
    assert "spread-front-0" in inventory(tmp_path, env, "--graph")  # served from the cache
    assert "spread-front-0" not in inventory(tmp_path, env, "--graph", "--flush-cache")
