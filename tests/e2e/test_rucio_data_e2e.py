"""End to end on the local site with a REAL Rucio server (rucio 41.5.1, SQLite; tests/fixtures/rucio_server.py):
a job node needs a Rucio dataset whose replicas are at ALPHA_DISK, and the site it is deployed on (``local``)
has BETA_DISK as its RSE (``data.rucio_rses`` in the catalogue). Both RSEs are real WebDAV servers listening
on the site's bridge, so the nodes read from them.

- `indigo deploy`: the compiled deploy.yml creates the rule to BETA_DISK while the node boots; Rucio's own
  conveyor daemons copy the files through the FTS3 stand-in (real HTTP GET + PUT between the two servers);
  the node is configured only once the rule is OK; the job downloads its inputs from BETA_DISK (PFNs Rucio
  computes) with their SHA-256 checked and uploads its outputs to a third WebDAV server and to S3 (a real
  moto_server on the bridge; its keys in the catalogue's ``data_services.endpoints`` as environment
  references, resolved by `indigo deploy` into the run's secret vars file), verified at both;
  the journal holds the rule (state, files OK) and `indigo status` shows it; `indigo undeploy` deletes it.
- A dataset whose source file is gone: the rule never gets OK, the deploy fails after the dataset's
  timeout (exit 4) with the file's error, `indigo status` shows it, the rule and the node are gone.
One Rucio server and its daemons serve both tests. slow + extended: ~6-10 min (Rucio's start, 2 nodes).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import boto3
import pytest
import requests
import yaml

from ansible_collections.indigo.paas.plugins.module_utils.data import rules
from tests.conftest import free_port, wait_http
from tests.fixtures.local_nodes import local_site  # noqa: F401
from tests.fixtures.webdav import WebDav
from tests.integration.test_rucio_real import Grid
from tosca2ansible.runtime.localsite import LocalSite, LocalSiteConfig
from tosca2ansible.runtime.localsite.site import DEPLOYMENT_TAG

pytestmark = [pytest.mark.slow, pytest.mark.extended]
ROOT = Path(__file__).resolve().parents[2]
INDIGO = ROOT / ".venv" / "bin" / "indigo"
RUCIO_PASSWORD = "jdoe-Rucio-pw-e2e"  # in the operator's environment only: never in output, journal or artifacts
RUCIO_LOGIN = "jdoe-e2e-login"  # credentials are masked whole, the user name too: not "jdoe", the account's name
S3_ACCESS, S3_SECRET = "AKIA-data-e2e-access", "S3-data-e2e-Secret-key"  # moto takes any keys; the node has none else
FILES = {"e2e%d" % i: os.urandom(200_000 + i) for i in range(3)}
TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_0
imports:
  - indigo_custom_types: https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml
topology_template:
  inputs:
    input_dataset: {type: string}
    rule_timeout: {type: integer, default: 600}
    input_urls: {type: list, entry_schema: {type: string}, default: []}
    webdav_endpoint: {type: string}
    output_filenames: {type: string, default: ""}
    s3_endpoint: {type: string}
  node_templates:
    dataset:
      type: tosca.nodes.indigo.RucioDataset
      properties:
        did: {get_input: input_dataset}
        timeout: {get_input: rule_timeout}
    job:
      type: tosca.nodes.indigo.DataStaging
      properties:
        input_urls: {get_input: input_urls}
        output_protocol: webdav
        output_endpoint: {get_input: webdav_endpoint}
        output_path: results
        output_filenames: {get_input: output_filenames}
      requirements:
        - host: job_node
        - dependency: dataset
    job_outputs_s3:
      type: tosca.nodes.indigo.DataStaging
      properties:
        output_protocol: s3
        output_endpoint: {get_input: s3_endpoint}
        output_path: job-outputs/results
        output_filenames: {get_input: output_filenames}
      requirements:
        - host: job_node
        - dependency: job
    job_node:
      type: tosca.nodes.indigo.Compute
      capabilities:
        host: {properties: {num_cpus: 1, mem_size: 1 GB}}
        os: {properties: {type: linux, distribution: debian, version: "13"}}
"""


# The site `local` of this test: its own bridge, subnet and nodes (the default base image shared, as the
# hybrid tests' second site does). On the default bridge another local-site state dir on this machine (CI,
# another checkout) may hold the address this one hands out: two runs here met another's node at theirs.
SITE_LOCAL = {"bridge": "indigo-data", "subnet": "10.79.0.0/24", "state_dir": "/var/lib/indigo-local-data",
              "image_root": "/var/lib/indigo-local"}


class MotoServer:
    """A real moto_server (S3) on ``host`` (the site's bridge: the nodes upload to it)."""

    def __init__(self, host):
        port = free_port()
        self.proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "moto_server"), "-H", host, "-p", str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = "http://%s:%d" % (host, port)
        wait_http(self.url + "/moto-api/")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def own_site(local_site):  # noqa: F811  (skips without root and the tools; builds the shared base image)
    site = yaml.safe_load((ROOT / "inventories" / "sites" / "local.yml").read_text())["sites"][0]
    site["local"] = dict(SITE_LOCAL)
    made = LocalSite(LocalSiteConfig.from_site(site))
    made.ensure_ready()
    yield site, made
    made.teardown(everything=True)  # this site's nodes, apt proxy and bridge; the shared image stays


@pytest.fixture(scope="module")
def world(own_site, tmp_path_factory):
    """The Rucio server, its two RSEs on the bridge, its daemons, a results WebDAV server, the catalogue."""
    tmp = tmp_path_factory.mktemp("rucio-e2e")
    site, local = own_site
    host = local.cfg.bridge_ip
    started = time.monotonic()
    grid = Grid(tmp, host=host, anonymous=True, jdoe_password=RUCIO_PASSWORD, jdoe_login=RUCIO_LOGIN)
    (tmp / "results").mkdir()
    results = s3 = None
    try:  # whatever started is stopped, also when a later server fails to start
        results = WebDav(tmp / "results", host=host, anonymous=True)
        s3 = MotoServer(host)
        boto3.client("s3", endpoint_url=s3.url, region_name="us-east-1", aws_access_key_id=S3_ACCESS,
                     aws_secret_access_key=S3_SECRET).create_bucket(Bucket="job-outputs")
        grid.jdoe.add_dataset("user.jdoe", "e2e")
        for name, data in FILES.items():
            grid.upload("ALPHA_DISK", name, data, dataset="e2e")
        grid.jdoe.add_dataset("user.jdoe", "e2e-broken")
        lost = grid.upload("ALPHA_DISK", "e2e-lost", b"gone before the copy", dataset="e2e-broken")
        assert requests.delete(lost, timeout=30).status_code in (200, 204)
        grid.server.start_daemons()
        site["data"] = {"rucio_rses": ["BETA_DISK"]}  # the site the job runs on does not hold the dataset
        catalogue = tmp / "sites.yml"
        catalogue.write_text(yaml.safe_dump({"sites": [site], "data_services": {"rucio": {
            "endpoint": grid.server.url, "account": "jdoe",
            "credentials": {"env": {"username": "T_RUCIO_USER", "password": "T_RUCIO_PASSWORD"}}},
            "endpoints": [{"url": s3.url, "credentials": {"env": {"access_key": "T_S3_ACCESS",
                                                                  "secret_key": "T_S3_SECRET"}}}]}}))
        (tmp / "job.yaml").write_text(TEMPLATE)
        print("set-up (Rucio server, RSEs, uploads, daemons): %.1f s" % (time.monotonic() - started))
        yield {"grid": grid, "results": results, "s3": s3, "catalogue": catalogue, "tmp": tmp, "site": local}
    finally:
        for server in (s3, results, grid):
            if server is not None:
                server.stop()


def indigo(world, *args, timeout=1500):
    env = dict(os.environ, INDIGO_HOME=str(world["tmp"] / "home"), T_RUCIO_USER=RUCIO_LOGIN,
               T_RUCIO_PASSWORD=RUCIO_PASSWORD, T_S3_ACCESS=S3_ACCESS, T_S3_SECRET=S3_SECRET)
    started = time.monotonic()
    proc = subprocess.run([str(INDIGO), *args], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=str(world["tmp"]))
    assert all(secret not in proc.stdout + proc.stderr for secret in (RUCIO_PASSWORD, S3_ACCESS, S3_SECRET))
    return proc, time.monotonic() - started


def leaked(world):
    """Files under $INDIGO_HOME (journal, run artifacts, deployment state, compiled project) holding a secret:
    the Rucio password or the S3 keys (the run's secret vars file is removed when the run closes)."""
    needles = [s.encode() for s in (RUCIO_PASSWORD, S3_ACCESS, S3_SECRET)]
    return [str(p) for p in (world["tmp"] / "home").rglob("*")
            if p.is_file() and any(needle in p.read_bytes() for needle in needles)]


def deploy(world, deployment, inputs):
    path = world["tmp"] / ("%s.inputs.yml" % deployment)
    path.write_text(yaml.safe_dump(inputs))
    return indigo(world, "deploy", str(world["tmp"] / "job.yaml"), "--inputs", str(path), "--sites",
                  str(world["catalogue"]), "--site", "local", "--deployment", deployment, "--json")


def beta_pfns(grid, names):
    dids = ["user.jdoe:" + n for n in names]
    pfns = grid.root.lfns2pfns("BETA_DISK", dids, operation="read", scheme="http")
    return {did.split(":")[1]: pfn for did, pfn in pfns.items()}


def nodes_of(world, deployment):
    return world["site"].nodes(**{DEPLOYMENT_TAG: deployment})


def test_the_rule_brings_the_data_before_the_job_which_reads_it_and_uploads_its_outputs(world):
    grid, results = world["grid"], world["results"]
    pfns = beta_pfns(grid, FILES)
    assert all(requests.get(u, timeout=30).status_code == 404 for u in pfns.values())  # not at BETA_DISK yet
    inputs = {"input_dataset": "user.jdoe:e2e", "rule_timeout": 600, "webdav_endpoint": results.url,
              "input_urls": ["%s#sha256=%s" % (pfns[n], hashlib.sha256(d).hexdigest()) for n, d in FILES.items()],
              "output_filenames": ",".join(sorted(FILES)), "s3_endpoint": world["s3"].url}
    proc, took = deploy(world, "data-rucio-e2e", inputs)
    print("deploy with a 3-file rule: %.1f s" % took)
    assert proc.returncode == 0, proc.stderr[-5000:]
    rule = rules.find_rule(grid.jdoe, "user.jdoe:e2e", "BETA_DISK")
    assert rule and rule["state"] == "OK" and rule["comments"] == "indigo deployment data-rucio-e2e", rule
    assert {j["job_state"] for j in grid.fts.state.jobs.values()} == {"FINISHED"}  # Rucio's conveyor copied them
    for name, data in FILES.items():  # the job's inputs (read at BETA_DISK, checked) are its outputs here
        got = requests.get("%s/results/%s" % (results.url, name), timeout=30)
        assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == hashlib.sha256(data).hexdigest()
    s3 = boto3.client("s3", endpoint_url=world["s3"].url, region_name="us-east-1", aws_access_key_id=S3_ACCESS,
                      aws_secret_access_key=S3_SECRET)
    for name, data in FILES.items():  # and the same outputs in S3, uploaded from the node with the catalogue's keys
        obj = s3.get_object(Bucket="job-outputs", Key="results/" + name)
        assert hashlib.sha256(obj["Body"].read()).hexdigest() == hashlib.sha256(data).hexdigest()
        assert obj["ETag"].strip('"') == hashlib.md5(data).hexdigest()
    proc, _ = indigo(world, "status", "data-rucio-e2e", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)["data"]
    made = [d for d in data if d.get("change") == "created"]
    assert made and made[0]["rule"] == rule["id"] and made[0]["site"] == "local", data
    assert made[0]["detail"]["state"] == "OK" and made[0]["detail"]["ok"] == len(FILES), data
    proc, _ = indigo(world, "status", "data-rucio-e2e")
    assert "data rule %s created user.jdoe:e2e -> BETA_DISK at local: OK, 3/3 files OK" % rule["id"] in proc.stdout

    assert leaked(world) == []
    proc, took = indigo(world, "undeploy", "data-rucio-e2e", "--json")
    print("undeploy: %.1f s" % took)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert rules.deleting(rules.find_rule(grid.jdoe, "user.jdoe:e2e", "BETA_DISK"))  # Rucio's soft deletion
    assert nodes_of(world, "data-rucio-e2e") == []


def test_a_failing_source_fails_the_deploy_after_the_timeout_with_the_files_error_and_leaks_nothing(world):
    grid = world["grid"]
    started = time.monotonic()
    proc, took = deploy(world, "data-rucio-fail", {"input_dataset": "user.jdoe:e2e-broken", "rule_timeout": 60,
                                                   "webdav_endpoint": world["results"].url,
                                                   "s3_endpoint": world["s3"].url})
    print("failing deploy (rule timeout 60 s): %.1f s" % took)
    assert proc.returncode == 4, (proc.returncode, proc.stderr[-5000:])
    assert "user.jdoe:e2e-lost at BETA_DISK" in proc.stderr and "404" in proc.stderr, proc.stderr[-5000:]
    assert time.monotonic() - started >= 60
    proc, _ = indigo(world, "status", "data-rucio-fail")
    assert proc.returncode == 0, proc.stderr[-3000:]
    failed = [line for line in proc.stdout.splitlines() if line.startswith("data rule failed")]
    assert failed and "user.jdoe:e2e-lost at BETA_DISK" in failed[0] and "404" in failed[0], proc.stdout
    rule = rules.find_rule(grid.jdoe, "user.jdoe:e2e-broken", "BETA_DISK")
    assert rule is None or rules.deleting(rule), rule  # released by the failed attempt's clean-up
    assert nodes_of(world, "data-rucio-fail") == []  # the attempt's node was torn down
    assert leaked(world) == []
    proc, _ = indigo(world, "undeploy", "data-rucio-fail")
    assert proc.returncode == 0, proc.stderr[-3000:]
