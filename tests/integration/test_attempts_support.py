"""Helpers for the deployment-attempt tests: a site catalogue over moto (behind the fault proxy), the
OpenStack emulator and local sites; `indigo` run as a user runs it; the journal and every site's state
read back through their own interfaces (the CLI's JSON, boto3, the emulator's state endpoint, the local
site's node list)."""

import json
import os
import subprocess

import boto3
import yaml

from test_ec2_support import proxy_fixture
from tests.fixtures.openstack import openstack_site  # noqa: F401  (the attempt tests' OpenStack site)
from tests.helpers import ROOT, VENV_BIN

INDIGO = str(VENV_BIN / "indigo")


proxy = proxy_fixture()  # one per test: each injects its own faults


def aws_site(name, endpoint, image_id):
    return {
        "name": name, "kind": "aws", "endpoint": endpoint, "region": "us-east-1",
        "credentials": {"env": {"access_key": "AWS_ACCESS_KEY_ID", "secret_key": "AWS_SECRET_ACCESS_KEY"}},
        "images": [{"name": "debian-13", "distribution": "debian", "version": "13", "id": image_id}],
        "flavors": [{"name": "t3.micro", "num_cpus": 2, "mem_mb": 1024}],
        "api_retry_delay": 0.01,
    }


def local_site_entry(name):
    return {"name": name, "kind": "local", "images": [{"name": "debian-13", "distribution": "debian", "version": "13"}]}


def write_catalogue(tmp_path, sites):
    path = tmp_path / "sites.yml"
    path.write_text(yaml.safe_dump({"sites": sites}, sort_keys=False))
    return path


def indigo(env, *args, timeout=900):
    return subprocess.run([INDIGO] + [str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


def journal_attempts(env, deployment):
    """Every attempt the journal holds for ``deployment``, in order, read through `indigo runs --json`."""
    runs = indigo(env, "runs", "--deployment", deployment, "--json", timeout=60)
    assert runs.returncode == 0, runs.stderr
    attempts = []
    for run in json.loads(runs.stdout):
        shown = indigo(env, "runs", "show", run["run_id"], "--json", timeout=60)
        assert shown.returncode == 0, shown.stderr
        detail = json.loads(shown.stdout)
        attempts += [dict(a, run_status=detail["run"]["status"], run_started=detail["run"]["started"],
                          run_ended=detail["run"]["ended"]) for a in detail["attempts"]]
    return sorted(attempts, key=lambda a: a["attempt"])


def moto_left(endpoint, deployment):
    """Everything moto holds tagged with ``deployment``: live instances and other resources."""
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")
    tagged = [{"Name": "tag:indigo_deployment", "Values": [deployment]}]
    left = [i["InstanceId"] for r in ec2.describe_instances(
        Filters=tagged + [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])["Reservations"]
        for i in r["Instances"]]
    left += [v["VpcId"] for v in ec2.describe_vpcs(Filters=tagged)["Vpcs"]]
    left += [s["SubnetId"] for s in ec2.describe_subnets(Filters=tagged)["Subnets"]]
    left += [g["GroupId"] for g in ec2.describe_security_groups(Filters=tagged)["SecurityGroups"]]
    left += [a["AllocationId"] for a in ec2.describe_addresses(Filters=tagged)["Addresses"]]
    left += [g["InternetGatewayId"] for g in ec2.describe_internet_gateways(Filters=tagged)["InternetGateways"]]
    left += [k["KeyName"] for k in ec2.describe_key_pairs(Filters=tagged)["KeyPairs"]]
    return left


def jobs_alive(run_ids):
    """Processes still carrying the environment of one of ``run_ids`` (detached provisioning jobs)."""
    markers = {("INDIGO_RUN_ID=%s" % r).encode() for r in run_ids if r and r != "-"}
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = open("/proc/%s/environ" % entry, "rb").read().split(b"\0")
        except OSError:
            continue
        if markers & set(environ):
            alive.append(int(entry))
    return alive
