"""The overall deployment timeout, end to end: `indigo deploy --site aws --site openstack --site spare
--overall-timeout N`. The AWS site (moto behind the fault proxy) refuses with InstanceLimitExceeded;
the OpenStack emulator accepts the servers but never finishes building them, so that attempt is still
provisioning when the overall timeout fires. It must be torn down (detached provisioning job stopped,
servers, network, router, key pair and security group deleted), journaled as timed out, and the spare
site never tried. Checked on moto's and the emulator's own state."""

import json
import time
import uuid

import boto3
import pytest

from test_attempts_support import (aws_site, indigo, jobs_alive, journal_attempts, moto_left,
                                   openstack_site, proxy, write_catalogue)  # noqa: F401  (fixture)
from tests.fixtures.openstack import emulator_fixture
from tests.helpers import compute, tosca

pytestmark = pytest.mark.emulator

TEMPLATE = tosca("node_templates:\n" + compute("vm", count=2), "Two plain Debian machines.")
OVERALL_TIMEOUT = 60


emulator = emulator_fixture(3600)  # servers stay in BUILD: the attempt cannot finish


def test_overall_timeout_tears_down_the_attempt_in_progress(tmp_path, moto_server, aws_env, proxy, emulator):
    image_id = boto3.client("ec2", endpoint_url=moto_server, region_name="us-east-1").describe_images(
        Owners=["amazon"])["Images"][0]["ImageId"]
    catalogue = write_catalogue(tmp_path, [
        aws_site("aws-full", proxy.url, image_id),
        openstack_site("openstack-stuck", emulator, tmp_path),
        aws_site("aws-spare", moto_server, image_id),
    ])
    proxy.inject("RunInstances", "InstanceLimitExceeded", status=400)
    (tmp_path / "vms.yaml").write_text(TEMPLATE)
    deployment = "timeout-" + uuid.uuid4().hex[:6]
    env = dict(aws_env, INDIGO_HOME=str(tmp_path / "home"), INDIGO_SITES=str(catalogue))

    started = time.monotonic()
    result = indigo(env, "deploy", tmp_path / "vms.yaml", "--deployment", deployment, "--site", "aws-full",
                    "--site", "openstack-stuck", "--site", "aws-spare", "--attempt-timeout", 600,
                    "--overall-timeout", OVERALL_TIMEOUT)
    elapsed = time.monotonic() - started

    assert result.returncode == 4, result.stdout + result.stderr
    assert "overall timeout of %ds reached after 2 attempt(s)" % OVERALL_TIMEOUT in result.stderr
    assert "aws-full: failed (quota); openstack-stuck: timeout (transient)" in result.stderr
    assert "Traceback" not in result.stderr
    # the run was cut at the deadline, not at the 600 s attempt timeout (the rest is teardown and start-up)
    assert elapsed < OVERALL_TIMEOUT + 60, elapsed

    attempts = journal_attempts(env, deployment)
    assert [(a["attempt"], a["site"], a["outcome"], a["error_class"]) for a in attempts] == [
        (1, "aws-full", "failed", "quota"), (2, "openstack-stuck", "timeout", "transient")]
    assert "InstanceLimitExceeded" in attempts[0]["message"]
    assert attempts[1]["message"].startswith("overall timeout of %ds reached" % OVERALL_TIMEOUT)
    assert attempts[1]["run_status"] == "timeout"

    # the stuck attempt had really provisioned something, and its teardown removed it
    state = emulator.state()
    assert state["request_counts"].get("POST /compute/v2.1/servers", 0) >= 1
    assert "; cleaned: " in attempts[1]["message"]
    cleaned = attempts[1]["message"].split("; cleaned: ", 1)[1]
    assert "%s-vm-0" % deployment in cleaned
    # nothing leaks: no server, network, router, port, key pair or security group of the deployment
    assert emulator.leftovers() == {}  # this emulator served this test only: nothing at all is left
    assert moto_left(moto_server, deployment) == []
    assert jobs_alive([a["run_id"] for a in attempts]) == []
    assert proxy.calls.get("RunInstances", 0) >= 1  # the quota error came from the EC2 API, not before it
    print("attempt runs (s):", [(a["site"], round(a["run_ended"] - a["run_started"], 1)) for a in attempts],
          "whole deploy %.1f s" % elapsed)

    record = json.loads((tmp_path / "home" / "deployments" / deployment / "deployment.json").read_text())
    assert record["status"] == "failed"
    assert [(a["site"], a["outcome"]) for a in record["attempts"]] == [("aws-full", "failed"), ("openstack-stuck", "timeout")]
