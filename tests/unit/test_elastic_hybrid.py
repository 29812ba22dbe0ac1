"""An elastic hybrid pool (ElasticCluster burst_sites): what the compiler makes of it, the per-site scale-out
of burst.scale_out, and one reconcile pass of the controller bursting to the second site with fake sites and
a fake LRMS (no node is booted: the real-node run is tests/e2e/test_hybrid_elastic_e2e.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tosca2ansible.compiler import compile_template
from tosca2ansible.elastic import burst, controller, policy
from tosca2ansible.elastic.policy import Demand
from tosca2ansible.elastic.sources import NodeView
from tosca2ansible.errors import UserInputError
from tosca2ansible.runtime import placement
from tosca2ansible.runtime.state import DeploymentState

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hybrid_elastic_slurm_cluster.yaml"


class _Loader(yaml.SafeLoader):
    """The project's YAML, with Ansible's !unsafe read as plain text."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def load(text):
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


@pytest.fixture(name="compiled", scope="module")
def _compiled(tmp_path_factory):
    return compile_template(str(EXAMPLE), str(tmp_path_factory.mktemp("p") / "project"), {}, [], "hyb-el")


def test_the_pool_lists_its_sites_and_elastic_yml_runs_per_site_and_joins_the_overlay(compiled):
    pool = load(compiled.files["group_vars/all/elastic.yml"])["indigo_elastic"]
    assert pool["sites"] == [["local-a", 1], ["local-b", 2]] and pool["max_instances"] == 3
    assert compiled.pool_sites == ["local-a", "local-b"]
    plays = load(compiled.files["elastic.yml"])
    assert [p["hosts"] for p in plays] == ["localhost", "lrms_server", "lrms_wn"]
    instance_tasks = [t["indigo.paas.instance"] for t in plays[0]["tasks"] if "indigo.paas.instance" in t]
    assert [t["site"] for t in instance_tasks] == ["{{ indigo_elastic_site }}"] * 2
    lookup = [t for t in plays[0]["tasks"] if "indigo.paas.instance_info" in t]
    assert lookup[0]["register"] == "indigo_done_lrms_server" and lookup[0]["indigo.paas.instance_info"]["node"] == "lrms_server"
    # the central point's overlay step runs again for the new hosts (their addresses and client files)
    central = [t for t in plays[1]["tasks"] if "ansible.builtin.include_role" in t]
    assert central[0]["vars"]["overlay_node_role"] == "central_point"
    roles = [(t["ansible.builtin.include_role"]["name"], t["vars"].get("overlay_node_role"))
             for t in plays[2]["tasks"] if "ansible.builtin.include_role" in t]
    assert roles == [("indigo.paas.overlay", "client"), ("indigo.paas.slurm", None)]
    # undeploy visits every site the pool may have workers on
    loop = load(compiled.files["undeploy.yml"])[0]["tasks"][-1]["loop"]
    assert "indigo_elastic.sites | map('first')" in loop


def test_a_single_site_pool_has_no_sites_and_no_overlay_plays(tmp_path):
    compiled = compile_template(str(ROOT / "examples" / "elastic_slurm_cluster.yaml"), str(tmp_path / "p"), {}, [], "el")
    assert "sites" not in load(compiled.files["group_vars/all/elastic.yml"])["indigo_elastic"]
    assert [p["hosts"] for p in load(compiled.files["elastic.yml"])] == ["localhost", "lrms_wn"]
    assert compiled.pool_sites == []


@pytest.mark.parametrize("sites, field, message", [
    ("[{site: a, max_instances: 1}, {site: a, max_instances: 2}]", "burst_sites[1]", "site a is listed twice"),
    # the data type's own checks (tosca.datatypes.indigo.BurstSite)
    ("[{site: a, max_instances: -1}]", "burst_sites", 'must be greater than or equal to "0"'),
    ("[{max_instances: 1}]", "burst_sites", "site"),
])
def test_bad_burst_sites_name_the_entry(tmp_path, sites, field, message):
    text = EXAMPLE.read_text().replace(
        "        burst_sites:\n          - { site: local-a, max_instances: 1 }\n          - { site: local-b, max_instances: 2 }\n",
        "        burst_sites: %s\n" % sites)
    template = tmp_path / "t.yaml"
    template.write_text(text)
    with pytest.raises(UserInputError) as info:
        compile_template(str(template), str(tmp_path / "p"), {}, [], "bad")
    assert "properties.%s" % field in str(info.value) and message in str(info.value)


def test_scale_out_moves_a_failed_sites_slots_to_the_next_site_and_leaves_a_slot_up_where_it_is():
    maxima = [("local-a", 1), ("local-b", 2)]
    calls, exists = [], set()

    def run(site, slots):
        calls.append((site, slots))
        if site == "local-a":
            return False  # nothing made there
        exists.update(slots)
        return True

    placed, waits = burst.scale_out(["wn-0", "wn-1"], {}, maxima, run, lambda slots: [s for s in slots if s not in exists])
    assert calls == [("local-a", ["wn-0"]), ("local-b", ["wn-1"]), ("local-b", ["wn-0"])]
    assert placed == {"wn-0": "local-b", "wn-1": "local-b"} and waits == []

    # a slot created on the failing site (configuration failed) stays there; the site takes no more this pass
    calls.clear()
    placed, waits = burst.scale_out(["wn-0", "wn-1", "wn-2"], {}, [("a", 2), ("b", 1)],
                                    lambda site, slots: calls.append((site, slots)) or site == "b",
                                    lambda slots: [s for s in slots if s == "wn-1"])
    assert calls == [("a", ["wn-0", "wn-1"]), ("b", ["wn-2"])]
    assert placed == {"wn-0": "a", "wn-2": "b"} and "1 node(s) wait" in waits[0]


class FakeInst:
    def __init__(self, index, site, address="10.0.0.9", status="active"):
        self.index, self.site, self.address, self.status = index, site, address, status


class FakeSite:
    """Instances per site by tag, as controller.Site reports them."""

    made = {}  # (node, index) -> site

    def __init__(self, state, pool_sites=()):
        self.state, self.pool_sites = state, list(pool_sites)
        self.site = {"name": "local-a"}
        self.catalogue = "c.yml"
        self.known_hosts = []

    def instances(self, node):
        return {i: FakeInst(i, s) for (n, i), s in self.made.items() if n == node}

    def ssh(self, address, script):
        return ""


class FakeSource:
    lrms_decides_idle = True
    views = {}
    demand = Demand()

    def observe(self, outputs, names):
        return self.views, self.demand

    @staticmethod
    def before_remove(failed, leaving, slots):
        return []

    @staticmethod
    def reset_lost(slots, views):
        return []


def test_a_three_node_job_bursts_to_local_b_then_the_idle_workers_leave_from_their_sites(tmp_path, monkeypatch, compiled):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path))
    state = DeploymentState("hyb-el")
    state.write_record(site="local-a", catalogue="c.yml", node_sites={"lrms_server": "local-a"},
                       pool_sites=["local-a", "local-b"])
    pool = state.project_dir / "group_vars" / "all"
    pool.mkdir(parents=True)
    (pool / "elastic.yml").write_text(compiled.files["group_vars/all/elastic.yml"].replace("!unsafe ", ""))
    FakeSite.made = {("lrms_server", 0): "local-a"}
    monkeypatch.setattr(controller, "Site", FakeSite)
    monkeypatch.setattr(controller, "read_lrms", lambda site, address, source: {})
    monkeypatch.setattr(controller, "SOURCES", {"slurm": FakeSource})
    runs = []

    def scale_run(state, site, action, up, down, trigger, progress, on_site=None):
        runs.append((action, on_site, up or down))
        for index in up:
            FakeSite.made[("lrms_wn", index)] = on_site
        for index in down:
            assert FakeSite.made.pop(("lrms_wn", index)) == on_site  # removed on the site it is on
        return {"action": action, "ok": True, "run_id": "r", "trigger": trigger, "failures": [], "site": on_site}

    monkeypatch.setattr(controller, "_scale_run", scale_run)
    # Slurm asks for the three slots of a 3-node job
    FakeSource.views = {n: NodeView(policy.OFF, wanted=True) for n in ("lrms-wn-0", "lrms-wn-1", "lrms-wn-2")}
    report = controller.reconcile("hyb-el", now=100.0)
    assert runs == [("scale-out", "local-a", [0]), ("scale-out", "local-b", [1, 2])]
    assert {n: s["site"] for n, s in report["slots"].items()} == {
        "lrms-wn-0": "local-a", "lrms-wn-1": "local-b", "lrms-wn-2": "local-b"}
    # a 4th node would never be granted: the ceiling is 1 + 2 (max_instances is 3 here too)
    assert controller.limits_of(controller.pool_config(state), FakeSource, burst.ceiling([("a", 1), ("b", 2)])).ceiling() == 3
    # the job ended and Slurm released the idle nodes: each is removed on its own site
    runs.clear()
    FakeSource.views = {n: NodeView(policy.IDLE, released=True) for n in ("lrms-wn-0", "lrms-wn-1", "lrms-wn-2")}
    controller.reconcile("hyb-el", now=500.0)
    assert runs == [("scale-in", "local-a", [0]), ("scale-in", "local-b", [1, 2])]
    assert [k for k in FakeSite.made if k[0] == "lrms_wn"] == []


def test_every_site_of_the_pool_is_a_site_of_the_deployment():
    record = {"site": "local-a", "node_sites": {"lrms_server": "local-a"}, "pool_sites": ["local-a", "local-b"]}
    assert placement.all_sites(record) == ["local-a", "local-b"]


def test_a_signal_during_a_run_cancels_it_then_stops_the_process_and_the_handlers_are_put_back():
    """ansible-runner's own handler only cancels its run and stays installed: `indigo elastic run` could no
    longer be stopped by SIGTERM after its first scale run (seen in the hybrid elastic e2e)."""
    import os
    import signal

    from tosca2ansible.runtime import runner

    before = signal.getsignal(signal.SIGTERM)
    got = []
    signal.signal(signal.SIGTERM, lambda number, frame: got.append(number))
    try:
        with runner.stop_signals() as cancelled:
            assert not cancelled()
        assert got == []
        with runner.stop_signals() as cancelled:
            os.kill(os.getpid(), signal.SIGTERM)
            assert cancelled() and got == []  # the run is cancelled; the process is stopped once it closed
        assert got == [signal.SIGTERM]  # delivered again to the handler that was there before
        with runner.stop_signals(active=False) as cancelled:
            os.kill(os.getpid(), signal.SIGTERM)
            assert got == [signal.SIGTERM] * 2 and not cancelled()
    finally:
        signal.signal(signal.SIGTERM, before)
