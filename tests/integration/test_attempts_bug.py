"""A bug is a bug, end to end: `indigo deploy --site openstack-bug --site openstack-next` where the first
site's provider raises a KeyError from its own code (injected by tests/integration/bug_injection on
PYTHONPATH, into the unmodified module as Ansible runs it). The module must report `error_class: bug`
with the traceback, the journal must record the attempt as `bug`, what the attempt made is torn down,
the next site is never tried, and `indigo deploy` exits 4 without a traceback of its own."""

import glob
import json
import os
import uuid

import pytest

from test_attempts_support import indigo, journal_attempts, openstack_site, write_catalogue
from tests.fixtures.openstack import emulator_fixture
from tests.helpers import compute, tosca

pytestmark = pytest.mark.emulator

TEMPLATE = tosca("node_templates:\n" + compute("vm"))
INJECTION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bug_injection")


emulator = emulator_fixture(0.1)


def _module_results(home, run_id):
    results = []
    for path in glob.glob(os.path.join(str(home), "runs", run_id, "artifacts", "run", "job_events", "*.json")):
        with open(path) as handle:
            event = json.load(handle)
        res = (event.get("event_data") or {}).get("res") or {}
        if event.get("event") == "runner_on_failed" and res.get("error_class"):
            results.append(res)
    return results


def test_a_provider_bug_stops_the_deployment_and_is_reported_as_a_bug(tmp_path, emulator):
    catalogue = write_catalogue(tmp_path, [openstack_site("openstack-bug", emulator, tmp_path),
                                           openstack_site("openstack-next", emulator, tmp_path)])
    (tmp_path / "vm.yaml").write_text(TEMPLATE)
    deployment = "bug-" + uuid.uuid4().hex[:6]
    home = tmp_path / "home"
    env = dict(os.environ, INDIGO_HOME=str(home), INDIGO_SITES=str(catalogue), INDIGO_TEST_BUG_SITE="openstack-bug",
               PYTHONPATH=os.pathsep.join(filter(None, [INJECTION, os.environ.get("PYTHONPATH")])))

    result = indigo(env, "deploy", tmp_path / "vm.yaml", "--deployment", deployment, "--site", "openstack-bug",
                    "--site", "openstack-next", timeout=600)

    assert result.returncode == 4, result.stdout[-3000:] + result.stderr[-3000:]
    assert "a bug stopped the deployment on site openstack-bug (no other site tried" in result.stderr
    assert "KeyError" in result.stderr
    assert "Traceback" not in result.stderr.split("error: ", 1)[-1]  # the CLI's own answer is one line
    attempts = journal_attempts(dict(env, PYTHONPATH=""), deployment)
    assert [(a["attempt"], a["site"], a["outcome"], a["error_class"]) for a in attempts] == [
        (1, "openstack-bug", "failed", "bug")]
    results = _module_results(home, attempts[0]["run_id"])
    assert [r["error_class"] for r in results] == ["bug"]
    assert results[0]["msg"] == "bug: KeyError: 'flavor_id'"
    assert "Traceback (most recent call last)" in results[0]["traceback"] and "create_instance" in results[0]["traceback"]
    # no server was asked for on any site, and what the attempt prepared (network, key, group) is gone
    assert emulator.state()["request_counts"].get("POST /compute/v2.1/servers", 0) == 0
    assert emulator.leftovers() == {}
