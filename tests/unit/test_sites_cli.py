"""`indigo sites` and `indigo rank`: the catalogue listed, a template ranked with reasons."""

import json
import textwrap

import yaml
from tests.helpers import indigo, tosca


CATALOGUE = {"sites": [
    {"name": "alpha", "kind": "openstack", "endpoint": "https://alpha.example:5000/v3",
     "flavors": [{"name": "m1.small", "num_cpus": 1, "mem_mb": 2048}, {"name": "m1.large", "num_cpus": 4, "mem_mb": 8192}],
     "sla": [{"group": "default", "priority": 1, "id": "sla-alpha", "quota": {"instances": 10, "cores": 16}}]},
    {"name": "beta", "kind": "opennebula", "endpoint": "https://beta.example:2633/RPC2",
     "flavors": [{"name": "small", "num_cpus": 1, "mem_mb": 1024}],
     "sla": [{"group": "default", "priority": 2, "quota": {"instances": 10}}]},
]}

TEMPLATE = tosca("""\
      inputs:
        wn_num: {type: integer, default: 2}
      node_templates:
        server:
          type: tosca.nodes.indigo.Compute
          capabilities:
            scalable: {properties: {count: {get_input: wn_num}}}
            host: {properties: {num_cpus: 2, mem_size: 4 GB}}
            os: {properties: {type: linux}}
    """)


def write(tmp_path, policies=""):
    (tmp_path / "sites.yml").write_text(yaml.safe_dump(CATALOGUE))
    (tmp_path / "t.yaml").write_text(TEMPLATE + policies)
    return str(tmp_path / "sites.yml"), str(tmp_path / "t.yaml")


def test_sites_lists_the_catalogue_as_json(tmp_path):
    sites, _ = write(tmp_path)
    result = indigo("sites", "--sites", sites, "--no-probe", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["name"], r["kind"], r["groups"]) for r in rows] == [("alpha", "openstack", ["default"]), ("beta", "opennebula", ["default"])]


def test_rank_json_has_site_kept_score_reasons(tmp_path):
    sites, template = write(tmp_path)
    result = indigo("rank", template, "--sites", sites, "--no-probe", "--json", "-i", "wn_num=3")
    assert result.exit_code == 0, result.output
    ranking = json.loads(result.stdout)
    assert [(r["site"], r["kept"]) for r in ranking] == [("alpha", True), ("beta", False)]
    assert all(isinstance(r["score"], float) and isinstance(r["reasons"], list) for r in ranking)
    assert ranking[0]["flavors"] == {"server": "m1.large"}
    assert "dropped: no flavor with >= 2 CPU, 4096 MB for node server" in ranking[1]["reasons"]


def test_rank_quota_uses_the_input_count(tmp_path):
    sites, template = write(tmp_path)
    result = indigo("rank", template, "--sites", sites, "--no-probe", "--json", "-i", "wn_num=9")
    alpha = json.loads(result.stdout)[0]
    assert not alpha["kept"] and "dropped: quota 16 cores, in use 0, request 18" in alpha["reasons"]


def test_rank_follows_sla_placement_policy(tmp_path):
    policies = textwrap.indent(textwrap.dedent("""\
        policies:
          - pin:
              type: tosca.policies.indigo.SlaPlacement
              properties: {sla_id: sla-alpha}
        """), "  ")
    sites, template = write(tmp_path, policies)
    CATALOGUE["sites"][1]["flavors"].append({"name": "big", "num_cpus": 8, "mem_mb": 16384})
    try:
        sites, template = write(tmp_path, policies)
        ranking = json.loads(indigo("rank", template, "--sites", sites, "--no-probe", "--json").stdout)
    finally:
        CATALOGUE["sites"][1]["flavors"].pop()
    beta = next(r for r in ranking if r["site"] == "beta")
    assert not beta["kept"] and "dropped: placement policy pins alpha" in beta["reasons"]


def test_rank_bad_catalogue_is_exit_2(tmp_path):
    (tmp_path / "sites.yml").write_text("sites: [{name: x, kind: mainframe}]\n")
    _, template = write(tmp_path)
    (tmp_path / "sites.yml").write_text("sites: [{name: x, kind: mainframe}]\n")
    result = indigo("rank", template, "--sites", str(tmp_path / "sites.yml"), "--no-probe")
    assert result.exit_code == 2 and "mainframe" in result.output and "Traceback" not in result.output
