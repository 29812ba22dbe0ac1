"""Placement per node template: policies on nodes and groups, --site NODE=SITE, SLA ids resolved through the
catalogue, and the compiled project provisioning each Compute on its own site (and tearing every site down)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tosca2ansible import brokering
from tosca2ansible.compiler import build
from tosca2ansible.compiler import placement as compiler_placement
from tosca2ansible.errors import UserInputError
from tosca2ansible.runtime import placement
from tests.helpers import ROOT

EXAMPLE = str(ROOT / "examples" / "hybrid_slurm_cluster.yaml")
SLURM = str(ROOT / "examples" / "slurm_cluster.yaml")
CATALOGUE = str(ROOT / "inventories" / "hybrid" / "sites.yml")


class _Loader(yaml.SafeLoader):
    """The project's YAML, with Ansible's !unsafe read as plain text."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def load(text):
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def provision_sites(compiled):
    plays = load(compiled.files["deploy.yml"])
    return {t["indigo.paas.instance"]["node"]: t["indigo.paas.instance"]["site"]
            for t in plays[0]["tasks"] if "indigo.paas.instance" in t}


def test_policies_on_a_software_node_and_a_group_place_their_computes():
    compiled = build(EXAMPLE, deployment="hyb")
    # lrms_front_end is hosted on lrms_server; the group `workers` holds lrms_wn
    assert compiled.placement == {"lrms_server": "sla-local-a", "lrms_wn": "sla-local-b"}
    topology = load(compiled.files["group_vars/all/topology.yml"])
    assert topology["indigo_placement"] == compiled.placement
    sites = provision_sites(compiled)
    assert sites["lrms_wn"] == "{{ (indigo_sites | default({}))['lrms_wn'] | default(indigo_placement['lrms_wn']) }}"
    undeploy = load(compiled.files["undeploy.yml"])[0]["tasks"][-1]
    assert undeploy["indigo.paas.instance"]["site"] == "{{ item }}" and "indigo_placement.values()" in undeploy["loop"]


def test_command_line_placement_wins_and_names_software_nodes():
    compiled = build(EXAMPLE, deployment="hyb", sites={"wn_node": "local-a"})
    assert compiled.placement == {"lrms_server": "sla-local-a", "lrms_wn": "local-a"}


def test_unplaced_template_is_unchanged_single_site():
    compiled = build(SLURM, deployment="one")
    assert compiled.placement == {}
    assert set(provision_sites(compiled).values()) == {"{{ indigo_site | default('local') }}"}
    assert "indigo_placement" not in compiled.files["group_vars/all/topology.yml"]
    placed = build(SLURM, deployment="one", sites={"lrms_wn": "local-b"})
    assert placed.placement == {"lrms_wn": "local-b"}
    assert "indigo_placement" in provision_sites(placed)["lrms_wn"]
    assert provision_sites(placed)["lrms_server"] == "{{ indigo_site | default('local') }}"


def test_unknown_node_on_the_command_line_is_a_usage_error():
    with pytest.raises(UserInputError, match="--site nosuch=local-b: nosuch is not a node template"):
        build(SLURM, deployment="one", sites={"nosuch": "local-b"})


def test_sla_ids_resolve_to_the_sites_holding_them():
    ids = brokering.sla_site_ids(brokering.load_sites(CATALOGUE))
    assert {s: compiler_placement.site_of(s, ids) for s in ("sla-local-a", "sla-local-b", "cloud-z")} == {
        "sla-local-a": "local-a", "sla-local-b": "local-b", "cloud-z": "cloud-z"}
    assert build(EXAMPLE, deployment="one").placement == {"lrms_server": "sla-local-a", "lrms_wn": "sla-local-b"}
    assert build(EXAMPLE, deployment="one", sla_sites=ids).placement == {"lrms_server": "local-a", "lrms_wn": "local-b"}


def test_deploy_compiles_an_sla_placement_once(monkeypatch, tmp_path):
    """indigo deploy's compile: SLA ids reach the compiler as data (one compile, sites already named)."""
    from tosca2ansible import compiler
    from tosca2ansible.runtime import deploy

    calls = []
    real = compiler.compile_template

    def counted(*args, **kwargs):
        calls.append(kwargs.get("sla_sites"))
        return real(*args, **kwargs)

    monkeypatch.setattr(compiler, "compile_template", counted)
    compiled = deploy.compile_project(Path(EXAMPLE), tmp_path / "p", "one", {}, catalogue=CATALOGUE)
    assert compiled.placement == {"lrms_server": "local-a", "lrms_wn": "local-b"}
    assert calls == [{"sla-local-a": "local-a", "sla-local-b": "local-b"}]
    assert "local-b" in (tmp_path / "p" / "group_vars" / "all" / "topology.yml").read_text()


def test_site_options_split_and_every_spanned_site_listed():
    assert placement.split_site_options(["local-a", "lrms_wn=local-b", "auto"]) == (
        ["local-a", "auto"], {"lrms_wn": "local-b"})
    with pytest.raises(UserInputError):
        placement.split_site_options(["=local-b"])
    record = {"site": "local-a", "node_sites": {"lrms_server": "local-a", "lrms_wn": "local-b"}}
    assert placement.all_sites(record) == ["local-a", "local-b"]


def test_broker_request_carries_per_node_placement():
    topology, plan = brokering.analyse(EXAMPLE, {}, [])
    request = brokering.resolve_placement(brokering.request_from_topology(topology, plan),
                                          brokering.load_sites(CATALOGUE))
    assert request.node_sites == {"lrms_server": ["local-a"], "lrms_wn": ["local-b"]}
    assert request.pinned_sites == []


def test_failed_attempt_removes_only_the_nodes_that_follow_the_tried_site(monkeypatch):
    from types import SimpleNamespace

    from tosca2ansible.runtime import deploy

    instances = [SimpleNamespace(id="d-lrms_server-0", node="lrms_server"),
                 SimpleNamespace(id="d-lrms_wn-0", node="lrms_wn"), SimpleNamespace(id="d-lrms_wn-1", node="lrms_wn")]
    deleted = []
    provider = SimpleNamespace(find_instances=lambda deployment: list(instances), delete_instance=deleted.append)
    monkeypatch.setattr(deploy, "provider_for", lambda site: provider)
    gone = deploy._delete_unplaced("d", {"name": "local-a"}, {"lrms_server": "local-a"})  # pylint: disable=protected-access
    assert deleted == ["d-lrms_wn-0", "d-lrms_wn-1"] and [i.id for i in gone] == deleted
