"""The journal records every resource indigo.paas.instance creates, not only instances: a deployment's
network, subnet, router, security groups, key pair and floating IP appear as created when the run that
created them ends, and as deleted after the teardown, each once.

Real ansible-playbook runs with the callback indigo.paas.journal enabled, provisioning two node templates
concurrently as a compiled deploy.yml does (async + async_status), against the OpenStack emulator process
(openstacksdk unmodified); the journal is compared with the emulator's own state."""

import os
import subprocess
import sys

import pytest
import yaml

from tosca2ansible.runtime.journal import Journal
from tosca2ansible.runtime.journal.query import deployment_detail, list_runs
from tests.helpers import ROOT, VENV_BIN


from tests.fixtures.openstack import emulator_fixture, openstack_site  # noqa: E402

pytestmark = pytest.mark.emulator
SITE = "os-journal"
DEPLOYMENT = "jres"


def _provision(node, count, public_ip):
    return {"name": "Provision %s" % node,
            "indigo.paas.instance": {"deployment": DEPLOYMENT, "node": node, "count": "{{ %s_count }}" % node,
                                     "site": SITE, "os_distribution": "debian", "os_version": "12", "mem_size": "2 GB",
                                     "public_ip": public_ip, "ports": [{"port": 8080}], "wait": False,
                                     "ssh_public_key": "ssh-ed25519 AAAAjournaltest op@x"},
            "async": 600, "poll": 0, "register": "job_%s" % node, "changed_when": False}


def _wait(node):
    return {"name": "Wait for %s" % node, "ansible.builtin.async_status": {"jid": "{{ job_%s.ansible_job_id }}" % node},
            "register": "done_%s" % node, "until": "done_%s.finished" % node, "retries": 120, "delay": 1}


DEPLOY = [{"name": "Provision", "hosts": "localhost", "connection": "local", "gather_facts": False,
           "tasks": [_provision("front", 1, True), _provision("wn", 2, False), _wait("front"), _wait("wn")]}]
UNDEPLOY = [{"name": "Teardown", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [
    {"name": "Delete everything", "indigo.paas.deployment_teardown": {"deployment": DEPLOYMENT, "site": SITE}}]}]


emulator = emulator_fixture(0.2, scope="module")


@pytest.fixture
def env(tmp_path, emulator):
    site = openstack_site(SITE, emulator, tmp_path, version="12", poll_interval=0.05)
    (tmp_path / "sites.yml").write_text(yaml.safe_dump({"sites": [site]}))
    yield dict(os.environ, INDIGO_SITES=str(tmp_path / "sites.yml"), INDIGO_HOME=str(tmp_path / "home"),
               INDIGO_DEPLOYMENT=DEPLOYMENT, ANSIBLE_CALLBACKS_ENABLED="indigo.paas.journal",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "atmp"), ANSIBLE_ASYNC_DIR=str(tmp_path / "async"))
    assert emulator.leftovers() == {}, "a test left resources behind"


def _play(tmp_path, env, name, plays, action, **extra_vars):
    path = tmp_path / ("%s.yml" % name)
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    extra = ["-e", " ".join("%s=%s" % kv for kv in extra_vars.items())] if extra_vars else []
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", str(path)] + extra,
                          env=dict(env, INDIGO_ACTION=action), capture_output=True, text=True, timeout=300,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "indigo.paas.journal disabled" not in proc.stderr


def _emulator_resources(emulator):
    """(kind, id) of everything the emulator holds tagged with the deployment, by its own state."""
    state = emulator.state()
    tagged = []
    for kind, key in (("network", "networks"), ("subnet", "subnets"), ("router", "routers"),
                      ("security_group", "security_groups"), ("floating_ip", "floatingips")):
        tagged += [(kind, item["id"]) for item in state.get(key, [])
                   if "indigo_deployment=%s" % DEPLOYMENT in (item.get("tags") or [])]
    keypairs = [k if isinstance(k, str) else k["name"] for k in state.get("keypairs", [])]
    tagged += [("keypair", name) for name in keypairs if name == "indigo-%s" % DEPLOYMENT]
    return sorted(tagged)


def test_networks_groups_keys_and_ips_are_journaled_created_then_deleted(tmp_path, env, emulator):
    _play(tmp_path, env, "deploy", DEPLOY, "deploy", front_count=1, wn_count=2)
    on_site = _emulator_resources(emulator)
    # what the emulator holds: the per-deployment network and its subnet and router, a security group per
    # node template, the key pair and the front-end's floating IP
    assert sorted({kind for kind, _ in on_site}) == ["floating_ip", "keypair", "network", "router", "security_group",
                                                    "subnet"]
    assert sum(kind == "security_group" for kind, _ in on_site) == 2

    _play(tmp_path, env, "scale", DEPLOY, "scale", front_count=0, wn_count=2)  # the front-end goes, with its IP
    after_scale = _emulator_resources(emulator)
    (floating_ip,) = [rid for kind, rid in on_site if kind == "floating_ip"]
    assert ("floating_ip", floating_ip) not in after_scale

    _play(tmp_path, env, "undeploy", UNDEPLOY, "undeploy")
    assert _emulator_resources(emulator) == []

    with Journal(str(tmp_path / "home" / "journal.sqlite")) as journal:
        deploy_run, scale_run, undeploy_run = [r["run_id"] for r in list_runs(journal.store, DEPLOYMENT)]
        rows = [r for r in journal.store.rows("resources") if r["kind"] != "instance"]
        created = sorted((r["kind"], r["resource_id"]) for r in rows if r["change"] == "created")
        assert created == on_site  # each once, though two concurrent tasks saw the shared network appear
        assert {r["run_id"] for r in rows if r["change"] == "created"} == {deploy_run}
        assert all(r["site"] == SITE and r["deployment"] == DEPLOYMENT and r["name"] for r in rows)
        deleted = [(r["run_id"], r["kind"], r["resource_id"]) for r in rows if r["change"] == "deleted"]
        assert [d for d in deleted if d[0] == scale_run] == [(scale_run, "floating_ip", floating_ip)]
        assert sorted((kind, rid) for run, kind, rid in deleted if run == undeploy_run) == after_scale
        instances = [(r["change"], r["run_id"]) for r in journal.store.rows("resources") if r["kind"] == "instance"]
        assert sorted(instances) == sorted([("created", deploy_run)] * 3 + [("deleted", scale_run)]
                                           + [("deleted", undeploy_run)] * 2)
        detail = deployment_detail(journal.store, DEPLOYMENT, str(tmp_path / "home"))
        assert detail["resources"] == []  # every created resource has its deletion
        assert journal.store.verify()["ok"]
