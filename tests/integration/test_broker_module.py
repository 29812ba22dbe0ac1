"""indigo.paas.broker and indigo.paas.site_info run through real ansible-playbook."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from tests.helpers import ROOT

ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))


def run_play(tmp_path, tasks, module_defaults=None):
    """Run ``tasks`` on localhost; every result is registered and written to results.json."""
    tasks = [dict(t, register="result_%d" % i, ignore_errors=True) for i, t in enumerate(tasks)]
    names = ", ".join("result_%d" % i for i in range(len(tasks)))
    tasks.append({"name": "Save results", "ansible.builtin.copy": {
        "content": "{{ [%s] | to_json }}" % names, "dest": str(tmp_path / "results.json"), "mode": "0600"}})
    play = [{"name": "broker test", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]
    if module_defaults:
        play[0]["module_defaults"] = module_defaults
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
               ANSIBLE_INVENTORY_UNPARSED_WARNING="False", ANSIBLE_LOCALHOST_WARNING="False")
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
                           str(tmp_path / "play.yml")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((tmp_path / "results.json").read_text())


CATALOGUE = {"sites": [
    {"name": "small-cloud", "kind": "openstack", "endpoint": "https://small.example:5000/v3",
     "flavors": [{"name": "m1.small", "num_cpus": 1, "mem_mb": 2048, "disk_gb": 20}],
     "sla": [{"group": "biology", "priority": 1, "quota": {"cores": 8}}]},
    {"name": "big-cloud", "kind": "opennebula", "endpoint": "https://big.example:2633/RPC2",
     "flavors": [{"name": "large", "num_cpus": 8, "mem_mb": 16384, "disk_gb": 80}],
     "sla": [{"group": "biology", "priority": 2, "quota": {"cores": 200}}]},
    {"name": "gpu-cloud", "kind": "aws", "region": "eu-west-1",
     "flavors": [{"name": "p3.2xlarge", "num_cpus": 8, "mem_mb": 61440, "gpus": 1}],
     "sla": [{"group": "physics", "priority": 1, "quota": {"gpus": 4}}]},
]}


def test_broker_ranks_with_reasons(tmp_path):
    (tmp_path / "sites.yml").write_text(yaml.safe_dump(CATALOGUE))
    results = run_play(tmp_path, [{
        "name": "Rank", "indigo.paas.broker": {
            "catalogue": str(tmp_path / "sites.yml"), "group": "biology",
            "request": {"nodes": [{"name": "fe", "num_cpus": 2, "mem_mb": 4096},
                                  {"name": "wn", "count": 4, "num_cpus": 2, "mem_mb": 4096}]},
            "health": {"big-cloud": {"reachable": True, "latency_ms": 40}}}}])
    result = results[0]
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["best"] == "big-cloud"
    by_site = {r["site"]: r for r in result["ranking"]}
    assert by_site["big-cloud"]["kept"] and by_site["big-cloud"]["flavors"] == {"fe": "large", "wn": "large"}
    assert "dropped: quota 8 cores, in use 0, request 10" in by_site["small-cloud"]["reasons"]
    assert any("no flavor with >= 2 CPU, 4096 MB for node fe" in r for r in by_site["small-cloud"]["reasons"])
    assert "dropped: no SLA for group biology" in by_site["gpu-cloud"]["reasons"]
    assert [r["site"] for r in result["ranking"]][0] == "big-cloud"


def test_broker_unknown_site_is_a_clear_failure(tmp_path):
    (tmp_path / "sites.yml").write_text(yaml.safe_dump(CATALOGUE))
    results = run_play(tmp_path, [{
        "name": "Rank", "indigo.paas.broker": {"catalogue": str(tmp_path / "sites.yml"), "sites": ["nowhere"],
                                               "request": {"nodes": [{"name": "fe"}]}}}])
    assert results[0]["failed"] and "unknown site(s) nowhere" in results[0]["msg"]
    assert results[0]["error_class"] == "user"


def test_broker_takes_a_site_default_of_its_action_group(tmp_path):
    """`site` set for the whole action group (as a playbook does for instance, instance_info, ...) must not
    make the broker fail with an unknown option."""
    (tmp_path / "sites.yml").write_text(yaml.safe_dump(CATALOGUE))
    results = run_play(tmp_path, [{"name": "Rank", "indigo.paas.broker": {
        "request": {"nodes": [{"name": "fe", "num_cpus": 2, "mem_mb": 4096}]}, "group": "biology"}}],
        module_defaults={"group/indigo.paas.site": {"site": "big-cloud", "catalogue": str(tmp_path / "sites.yml")}})
    assert not results[0].get("failed"), results[0]
    assert results[0]["best"] == "big-cloud"
