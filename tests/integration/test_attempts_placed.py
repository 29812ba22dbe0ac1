"""A site that fails for the worker group moves that group to the next site; the placed front-end stays.

`indigo deploy two_groups.yaml --site front=local-a --site openstack-faulty --site local-b`: the front-end is
placed on local-a (real systemd-nspawn node); the workers follow the attempts. The OpenStack emulator builds
the worker's server into ERROR (an injected Nova fault: fatal), so attempt 1 fails for the worker group
only. Its teardown removes what it made on openstack-faulty and leaves the front-end; attempt 2 sends the
workers to local-b (the second local site, its own bridge) and adopts the front-end node made by attempt 1
(the same node: created before attempt 2 began, never in a cleaned list). Nothing leaks: the emulator holds
nothing of the deployment after the deploy, and after `indigo undeploy` neither local site holds anything.
Real nodes are needed for the attempt that succeeds (its play gathers facts over SSH).
"""

import json
import os
import uuid

import pytest
import yaml

from test_attempts_support import indigo, journal_attempts, openstack_site, write_catalogue
from tests.fixtures.openstack import emulator_fixture
from tests.fixtures.local_nodes import leftovers
from tosca2ansible.runtime.localsite import LocalSite, LocalSiteConfig
from tosca2ansible.runtime.localsite.errors import HostNotReady
from tosca2ansible.runtime.localsite.host import check_host
from tests.helpers import ROOT, compute, tosca

pytestmark = [pytest.mark.slow, pytest.mark.emulator]

TEMPLATE = tosca("node_templates:\n" + compute("front", host="{num_cpus: 1, mem_size: 512 MB}")
             + compute("wn", host="{num_cpus: 1, mem_size: 512 MB}", count=1) + """\
outputs:
  front_address: {value: {get_attribute: [front, private_address, 0]}}
""", "A front-end and a worker group, plain Debian machines.")


emulator = emulator_fixture(0.2)


def test_worker_group_moves_to_the_next_site_and_the_front_end_stays(tmp_path, emulator):
    try:
        check_host()
    except HostNotReady as exc:
        pytest.skip("local site unavailable: %s" % exc)
    local = {s["name"]: s for s in yaml.safe_load((ROOT / "inventories" / "hybrid" / "sites.yml").read_text())["sites"]}
    catalogue = write_catalogue(tmp_path, [local["local-a"], openstack_site("openstack-faulty", emulator, tmp_path),
                                           local["local-b"]])
    site_a, site_b = (LocalSite(LocalSiteConfig.from_site(local[n])) for n in ("local-a", "local-b"))
    emulator.inject({"kind": "server_error", "count": 1})
    template = tmp_path / "two_groups.yaml"
    template.write_text(TEMPLATE)
    deployment = "placed-" + uuid.uuid4().hex[:6]
    env = dict(os.environ, INDIGO_HOME=str(tmp_path / "home"), INDIGO_SITES=str(catalogue))
    names = ["%s-front-0" % deployment, "%s-wn-0" % deployment]
    try:
        result = indigo(env, "deploy", template, "--deployment", deployment, "--site", "front=local-a",
                        "--site", "openstack-faulty", "--site", "local-b", "--json", timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        deployed = json.loads(result.stdout)

        attempts = journal_attempts(env, deployment)
        assert [(a["attempt"], a["site"], a["outcome"], a["error_class"]) for a in attempts] == [
            (1, "openstack-faulty", "failed", "fatal"), (2, "local-b", "ok", None)]
        assert "ERROR" in attempts[0]["message"]
        # the worker's server in ERROR is gone from that site (removed by the instance module or the attempt's
        # teardown, which looks only at the groups that follow the attempts): the front-end was never cleaned
        assert "front" not in attempts[0]["message"].partition("; cleaned: ")[2], attempts[0]["message"]
        assert emulator.state()["request_counts"].get("POST /compute/v2.1/servers", 0) == 1
        assert emulator.leftovers() == {}  # nothing of the failed attempt is left on that site

        # the front-end stayed where it was placed: the node attempt 1 made, adopted by attempt 2
        front = site_a.nodes(indigo_deployment=deployment)
        assert [n.name for n in front] == [names[0]]
        assert front[0].created < attempts[1]["run_started"], (front[0].created, attempts)
        assert deployed["outputs"]["front_address"] == front[0].address
        assert [n.name for n in site_b.nodes(indigo_deployment=deployment)] == [names[1]]

        status = indigo(env, "status", deployment, "--json", timeout=120)
        assert status.returncode == 0, status.stderr
        assert sorted((n["node"], n["site"]) for n in json.loads(status.stdout)["nodes"]) == [
            ("front", "local-a"), ("wn", "local-b")]
        record = json.loads((tmp_path / "home" / "deployments" / deployment / "deployment.json").read_text())
        assert record["site"] == "local-b" and record["node_sites"] == {"front": "local-a"}
    finally:
        undeployed = indigo(env, "undeploy", deployment, timeout=600)
    assert undeployed.returncode == 0, undeployed.stderr
    for site in (site_a, site_b):
        assert site.nodes(indigo_deployment=deployment) == []
        assert leftovers(site, names) == {}
    assert emulator.leftovers() == {}
    print("attempt runs (s):", [(a["site"], round(a["run_ended"] - a["run_started"], 1)) for a in attempts])
