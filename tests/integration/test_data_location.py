"""Data-aware ranking: `indigo rank` asks the data catalogues (Onezone, Dynafed, Rucio emulators speaking
the real wire protocols; Rucio through the unmodified rucio-clients) and ranks the site holding the data
first, saying why; a catalogue that does not answer is a reason, not a crash."""

import json
import os
import stat
import textwrap

import pytest
import yaml

from tests.emulators.dynafed.server import start as start_dynafed
from tests.emulators.onezone.server import start as start_onezone
from tests.emulators.rucio.server import start as start_rucio
from tests.helpers import indigo, tosca

pytestmark = pytest.mark.emulator

HEAD = tosca("""\
    """)
COMPUTE = textwrap.indent(textwrap.dedent("""\
        job:
          type: tosca.nodes.indigo.Compute
          capabilities:
            host: {properties: {num_cpus: 1, mem_size: 1 GB}}
            os: {properties: {type: linux}}
    """), "    ")


def site(name, priority, **data):
    # alpha is the better site by SLA: data locality must outweigh it for beta to win
    return {"name": name, "kind": "openstack", "endpoint": "https://%s.example:5000/v3" % name, "data": data,
            "sla": [{"group": "default", "priority": priority, "quota": {"instances": 10}}]}


def rank(tmp_path, template, services, sites, env=None):
    (tmp_path / "sites.yml").write_text(yaml.safe_dump({"sites": sites, "data_services": services}))
    (tmp_path / "t.yaml").write_text(HEAD + template)
    result = indigo("rank", str(tmp_path / "t.yaml"), "--sites", str(tmp_path / "sites.yml"),
                                      "--no-probe", "--json", env=env)
    assert result.exit_code == 0, result.output
    return {r["site"]: r for r in json.loads(result.stdout)}, [r["site"] for r in json.loads(result.stdout)]


@pytest.fixture
def rucio():
    server = start_rucio()
    state = server.state
    state.add_file("user.jdoe:f1", 1000, ["BETA_DISK", "ALPHA_DISK"])
    state.add_file("user.jdoe:f2", 3000, ["BETA_DISK"])
    state.add_dataset("user.jdoe:inputs", ["user.jdoe:f1", "user.jdoe:f2"])
    yield server
    server.stop()


RUCIO_TEMPLATE = """\
  inputs:
    input_dataset: {type: string, default: "user.jdoe:inputs"}
  node_templates:
""" + COMPUTE


def rucio_services(server, **extra):
    services = {"rucio": {"endpoint": server.url, "account": "jdoe",
                          "credentials": {"env": {"username": "T_RUCIO_USER", "password": "T_RUCIO_PASSWORD"}}}}
    services.update(extra)
    return services


RUCIO_ENV = {"T_RUCIO_USER": "jdoe", "T_RUCIO_PASSWORD": "secret"}
SITES = [site("alpha", 1, rucio_rses=["ALPHA_DISK"], storage_hosts=["storage.alpha.example"], onedata_providers=["p-alpha"]),
         site("beta", 2, rucio_rses=["BETA_DISK"], storage_hosts=["storage.beta.example"], onedata_providers=["p-beta"])]


def test_rucio_dataset_ranks_the_site_holding_its_replicas_first(tmp_path, rucio):
    by_site, order = rank(tmp_path, RUCIO_TEMPLATE, rucio_services(rucio), SITES, RUCIO_ENV)
    assert order == ["beta", "alpha"]
    assert by_site["beta"]["criteria"]["data_locality"] == 1.0
    assert by_site["alpha"]["criteria"]["data_locality"] == 0.25  # 1000 of 4000 bytes
    assert "data: holds all of rucio user.jdoe:inputs (4.0 kB)" in by_site["beta"]["reasons"]
    assert "data: holds 25% of rucio user.jdoe:inputs (1.0 kB)" in by_site["alpha"]["reasons"]
    assert ("POST", "/replicas/list") in rucio.state.requests


def test_a_rucio_dataset_node_required_by_the_job_ranks_its_replicas_site_first(tmp_path, rucio):
    template = "  node_templates:\n" + COMPUTE.replace(
        "          capabilities:", "          requirements:\n            - dependency: data\n          capabilities:") + (
        "    data:\n      type: tosca.nodes.indigo.RucioDataset\n      properties: {did: \"user.jdoe:inputs\"}\n")
    by_site, order = rank(tmp_path, template, rucio_services(rucio), SITES, RUCIO_ENV)
    assert order == ["beta", "alpha"]
    assert "data: holds all of rucio user.jdoe:inputs (4.0 kB)" in by_site["beta"]["reasons"]


def test_rucio_down_is_a_reason_and_ranking_goes_on(tmp_path, rucio):
    rucio.state.down = True
    by_site, order = rank(tmp_path, RUCIO_TEMPLATE, rucio_services(rucio), SITES, RUCIO_ENV)
    assert order == ["alpha", "beta"]  # by SLA priority alone
    assert all(r["kept"] for r in by_site.values())
    notes = [n for n in by_site["alpha"]["reasons"] if n.startswith("data location unknown: rucio user.jdoe:inputs")]
    assert notes and "http status code: 503" in notes[0], by_site["alpha"]["reasons"]


def test_slow_catalogue_is_cut_at_the_timeout(tmp_path, rucio):
    rucio.state.delay = 3.0
    by_site, _order = rank(tmp_path, RUCIO_TEMPLATE, rucio_services(rucio, timeout=1), SITES, RUCIO_ENV)
    assert "data location unknown: rucio user.jdoe:inputs: no answer within 1 s" in by_site["alpha"]["reasons"]


def test_onedata_space_ranks_the_supporting_provider_site_first(tmp_path):
    server = start_onezone()
    try:
        server.state.add_provider("p-alpha", "oneprovider.alpha.example")
        server.state.add_provider("p-beta", "oneprovider.beta.example")
        server.state.add_space("s-1", "input-data", {"p-beta": 10 ** 9})
        template = "  node_templates:\n" + COMPUTE + (
            "    space:\n      type: tosca.nodes.indigo.OnedataSpace\n"
            "      properties: {space: input-data, onezone: %s}\n" % server.url)
        services = {"onezone": {"credentials": {"env": {"token": "T_ONEDATA_TOKEN"}}}}
        by_site, order = rank(tmp_path, template, services, SITES, {"T_ONEDATA_TOKEN": "zone-token"})
        assert order == ["beta", "alpha"]
        assert "data: holds all of onedata input-data" in by_site["beta"]["reasons"]
        assert ("GET", "/api/v3/onezone/user/effective_providers/p-beta") in server.state.requests
        # a wrong token: Onezone says 401, the ranking says so and goes on
        by_site, order = rank(tmp_path, template, services, SITES, {"T_ONEDATA_TOKEN": "wrong"})
        assert order == ["alpha", "beta"]
        assert any(n.startswith("data location unknown: onedata input-data:") and "401" in n
                   for n in by_site["alpha"]["reasons"]), by_site["alpha"]["reasons"]
    finally:
        server.stop()


def test_dynafed_files_rank_the_site_of_their_replicas_first(tmp_path):
    server = start_dynafed()
    try:
        for index in range(3):
            server.state.add_file("/fed/data/f%d.root" % index, 2000,
                                  ["https://storage.beta.example/data/f%d.root" % index,
                                   "root://storage.gamma.example//data/f%d.root" % index])
        files = ["%s/fed/data/f%d.root" % (server.url, i) for i in range(3)]
        template = "  node_templates:\n" + COMPUTE + (
            "    fed:\n      type: tosca.nodes.indigo.Dynafed\n      properties:\n        files: %s\n" % json.dumps(files))
        by_site, order = rank(tmp_path, template, {}, SITES)
        assert order == ["beta", "alpha"]
        assert by_site["beta"]["criteria"]["data_locality"] == 1.0
        assert by_site["alpha"]["criteria"]["data_locality"] == 0.0
        assert "data: holds all of dynafed %s (2.0 kB)" % files[0] in by_site["beta"]["reasons"]
        assert sum(1 for m, p in server.state.requests if p.endswith("?metalink")) == 3
        server.state.down = True
        by_site, order = rank(tmp_path, template, {}, SITES)
        assert order == ["alpha", "beta"]
        assert "data location unknown: dynafed %s: Dynafed GET %s?metalink: HTTP 503" % (files[0], files[0]) \
            in by_site["beta"]["reasons"]
    finally:
        server.stop()


def test_lookups_are_cached_per_deployment_file_0600(tmp_path, rucio):
    from tosca2ansible import brokering

    (tmp_path / "sites.yml").write_text(yaml.safe_dump({"sites": SITES, "data_services": rucio_services(rucio)}))
    (tmp_path / "t.yaml").write_text(HEAD + RUCIO_TEMPLATE)
    topology, plan = brokering.analyse(str(tmp_path / "t.yaml"), {}, [])
    cache = tmp_path / "dep" / "data-locations.json"
    asked = []
    for _ in range(2):
        request = brokering.request_from_topology(topology, plan)
        brokering.locate_data(request, topology, plan, SITES, str(tmp_path / "sites.yml"), str(cache), RUCIO_ENV)
        assert request.data_locations[0]["sites"] == {"beta": 4000, "alpha": 1000}
        asked.append(rucio.state.requests.count(("POST", "/replicas/list")))
    assert asked[0] >= 1 and asked[1] == asked[0]  # the second lookup came from the deployment's cache
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    assert "secret" not in cache.read_text()
