"""Each shared rule has one implementation, and every caller reaches it: sizes, image and flavor matching,
deployment ids, the catalogue location, the -i parser, and the broker's instance_type rule (issue 15)."""

import os
import re


import pytest

from ansible_collections.indigo.paas.plugins.module_utils import broker, matching, naming, units
from ansible_collections.indigo.paas.plugins.module_utils.apps import rest
from ansible_collections.indigo.paas.plugins.module_utils.module_common import failure_result
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import InstanceSpec
from ansible_collections.indigo.paas.plugins.module_utils.providers.ec2 import EC2Provider
from ansible_collections.indigo.paas.plugins.module_utils.providers.opennebula import OpenNebulaProvider
from ansible_collections.indigo.paas.plugins.module_utils.sites import default_catalogue_path
from tosca2ansible import brokering
from tosca2ansible.cli import cli, options
from tosca2ansible.compiler import build, default_deployment_id
from tosca2ansible.errors import UserInputError
from tosca2ansible.runtime import deploy
from tosca2ansible.runtime.state import check_deployment_id
from tests.helpers import EXAMPLES, ROOT, broker_request, compute, indigo, tosca

TEMPLATE = tosca("node_templates:\n" + compute("vm", host="{num_cpus: 2, mem_size: 4 GiB%s}",
                                          os='{distribution: ubuntu, version: "22.04", type: linux}'))


def _request(tmp_path, extra=""):
    return broker_request(tmp_path, TEMPLATE % extra)


def _site(name, flavors, images=None, **extra):
    return dict({"name": name, "kind": "openstack", "flavors": flavors, "sla": [{"group": "default"}],
                 "images": images or [{"name": "ubuntu-22.04", "distribution": "Ubuntu", "version": "22.04"}]}, **extra)


# -- sizes ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, mb", [("4 GiB", 4096), ("4 GB", 4096), ("512 MiB", 512), ("1.5 GB", 1536), (2048, 2048)])
def test_one_size_rule_for_broker_module_cli_and_apps(tmp_path, text, mb):
    assert units.size_mb(text, "mem_size") == mb
    assert rest.parse_size_mb(text) == float(mb)  # Marathon/Chronos: the same rule, in float MB
    request = _request(tmp_path) if text == "4 GiB" else None
    if request is not None:  # the CLI's broker request reads the template through the same rule
        assert request.nodes[0].mem_mb == 4096


def test_a_4_gib_node_fits_a_4096_mb_flavor_in_the_broker_and_the_instance_module(tmp_path):
    request = _request(tmp_path)
    sites = [_site("exact", [{"name": "m1.medium", "num_cpus": 2, "mem_mb": 4096}])]
    ranked = broker.rank(request, sites)
    assert ranked[0].kept and ranked[0].flavors == {"vm": "m1.medium"}
    # the provider side: the EC2 provider's choice among the same catalogue flavors, from the module's MB
    provider = EC2Provider({"name": "exact", "kind": "aws", "region": "us-east-1",
                            "flavors": sites[0]["flavors"]}, {})
    spec = InstanceSpec("d1", "vm", 0, num_cpus=2, mem_mb=units.size_mb("4 GiB", "mem_size"))
    assert provider._instance_type(spec) == "m1.medium"


def test_bad_sizes_are_user_errors():
    with pytest.raises(naming.UserError, match="mem_size: 'lots' is not a size"):
        units.size_mb("lots", "mem_size")
    assert failure_result(naming.UserError("x"))[1] == {"error_class": "user"}


# -- images and flavors -------------------------------------------------------------------------------------
def test_one_image_rule_for_broker_and_providers():
    images = [{"name": "ubuntu-22.04", "distribution": "Ubuntu", "version": "22.04", "id": "ami-1"}]
    spec = InstanceSpec("d1", "vm", 0, os_distribution="ubuntu", os_version="22.04")
    assert [i["name"] for i in matching.catalogue_images(images, "UBUNTU", 22.04)] == ["ubuntu-22.04"]
    assert broker._image_ok({"images": images}, {}, broker.NodeRequest("vm", os_distribution="ubuntu",
                                                                        os_version="22.04")) is None
    # EC2 and OpenNebula used to compare distributions case-sensitively: now the same rule
    assert EC2Provider({"name": "a", "kind": "aws", "region": "us-east-1", "images": images}, {})._image_id(spec) == "ami-1"
    one = OpenNebulaProvider.__new__(OpenNebulaProvider)
    one.site, one.site_name = {"images": [dict(images[0], id=None, name="7")]}, "one"
    assert one._resolve_image(spec) == 7


def test_one_flavor_rule_gpu_vendor_and_model_case_insensitive():
    flavors = [{"name": "cpu", "num_cpus": 8, "mem_mb": 8192},
               {"name": "amd", "num_cpus": 8, "mem_mb": 8192, "gpus": 1, "gpu_vendor": "AMD", "gpu_model": "MI100"},
               {"name": "nv", "num_cpus": 8, "mem_mb": 8192, "gpus": 1, "gpu_vendor": "NVIDIA", "gpu_model": "Tesla V100"}]
    needs = matching.needs_key(2, 1024, 0, 1, "nvidia", "v100")
    assert matching.smallest_flavor(flavors, needs)["name"] == "nv"
    assert matching.smallest_flavor(flavors, matching.needs_key(2, 1024))["name"] == "cpu"  # CPU-only: no GPU flavor
    node = broker.NodeRequest("vm", num_cpus=2, mem_mb=1024, gpus=1, gpu_vendor="Nvidia", gpu_model="V100")
    assert broker.rank(broker.Request([node]), [_site("s", flavors)])[0].flavors == {"vm": "nv"}
    provider = EC2Provider({"name": "a", "kind": "aws", "region": "us-east-1", "flavors": flavors}, {})
    spec = InstanceSpec("d1", "vm", 0, num_cpus=2, mem_mb=1024, gpus=1, gpu_vendor="Nvidia", gpu_model="V100")
    assert provider._instance_type(spec) == "nv"


# -- issue 15: instance_type -----------------------------------------------------------------------------------
def test_instance_type_keeps_only_the_site_holding_it(tmp_path):
    request = _request(tmp_path, ", instance_type: g5.large")
    assert request.nodes[0].instance_type == "g5.large"
    sites = [
        _site("no-gpu", [{"name": "m1.large", "num_cpus": 4, "mem_mb": 8192}]),
        _site("gpu", [{"name": "g1.gpu", "num_cpus": 8, "mem_mb": 16384, "gpus": 1, "gpu_vendor": "NVIDIA"}]),
        _site("g5", [{"name": "m1.large", "num_cpus": 4, "mem_mb": 8192},
                     {"name": "g5.large", "num_cpus": 2, "mem_mb": 8192, "gpus": 1, "gpu_vendor": "NVIDIA"}]),
    ]
    ranked = {r.site: r for r in broker.rank(request, sites)}
    assert [name for name, r in ranked.items() if r.kept] == ["g5"]
    assert ranked["g5"].flavors == {"vm": "g5.large"}  # the named flavor, not the smaller m1.large
    for name in ("no-gpu", "gpu"):
        assert ranked[name].dropped == ["no flavor g5.large (the node's instance_type) for node vm"]
        assert "dropped: no flavor g5.large (the node's instance_type) for node vm" in ranked[name].reasons
    # a site that sizes freely has no flavor of that name either
    assert broker.rank(request, [dict(_site("free", []), kind="local")])[0].dropped


def test_a_gpu_bearing_instance_type_is_a_gpu_request():
    node = broker.NodeRequest("vm", count=2, instance_type="g5.large", cuda_version="12.0")
    site = _site("g5", [{"name": "g5.large", "num_cpus": 2, "mem_mb": 8192, "gpus": 1}],
                 capabilities={"gpu": {"cuda_version": "11.8"}})
    site["sla"] = [{"group": "default", "quota": {"gpus": 1}}]
    ranking = broker.rank(broker.Request([node]), [site])[0]
    assert "quota 1 GPUs, in use 0, request 2" in ranking.dropped
    assert "node vm needs CUDA >= 12.0 (site has 11.8)" in ranking.dropped


# -- names ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("deployment, ok", [("slurm-1", True), ("1slurm", False), ("Slurm", False), ("a" * 41, True),
                                            ("a" * 42, False), ("", False)])
def test_one_deployment_id_rule(tmp_path, deployment, ok):
    assert naming.is_deployment_id(deployment) is ok
    if ok:
        assert check_deployment_id(deployment) == deployment
    else:
        with pytest.raises(UserInputError):
            check_deployment_id(deployment)
        with pytest.raises(naming.UserError):
            naming.check_deployment(deployment)


def test_one_deployment_id_generator(tmp_path):
    assert default_deployment_id("/x/My Template_v2.yaml") == naming.deployment_slug("My Template_v2") == "my-template-v2"
    fresh = deploy.new_deployment_id(tmp_path / "My Template_v2.yaml")
    assert re.match(r"^my-template-v2-[0-9a-f]{6}$", fresh) and naming.is_deployment_id(fresh)
    assert naming.is_deployment_id(deploy.new_deployment_id(tmp_path / ("9" * 80 + ".yaml")))


def test_one_sla_id_rule_for_the_broker_and_the_compiled_placement():
    """An SLA id (indigo.SlaPlacement) names the catalogue site holding it, alike in the broker request of
    `--site auto` and in the placement `indigo deploy` compiles (compiler/placement.site_of, once)."""
    template = str(EXAMPLES / "hybrid_slurm_cluster.yaml")
    sites = brokering.load_sites(str(ROOT / "inventories" / "hybrid" / "sites.yml"))
    topology, plan = brokering.analyse(template, {}, [])
    request = brokering.resolve_placement(brokering.request_from_topology(topology, plan), sites)
    compiled = build(template, deployment="one", sla_sites=brokering.sla_site_ids(sites))
    assert {node: ids[0] for node, ids in request.node_sites.items()} == compiled.placement == {
        "lrms_server": "local-a", "lrms_wn": "local-b"}


def test_one_default_catalogue(monkeypatch, tmp_path):
    monkeypatch.delenv("INDIGO_SITES", raising=False)
    # without $INDIGO_SITES: the framework's own catalogue, shipped as package data (tosca2ansible/sites)
    assert deploy.default_catalogue() == brokering.catalogue_path() == brokering.FRAMEWORK_SITES
    assert os.path.samefile(brokering.FRAMEWORK_SITES, os.path.join(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))), "inventories", "sites"))
    monkeypatch.setenv("INDIGO_SITES", str(tmp_path))
    assert deploy.default_catalogue() == brokering.catalogue_path() == default_catalogue_path() == str(tmp_path)


def test_one_input_parser_for_every_command(tmp_path):
    from tosca2ansible.cli import _register

    if "validate" not in cli.commands:
        _register()
    assert options.collect_inputs(None, ["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    (tmp_path / "t.yaml").write_text(TEMPLATE % "")
    for command in (["validate"], ["compile", "-o", str(tmp_path / "out")], ["rank", "--no-probe"], ["deploy"]):
        result = indigo(*command + [str(tmp_path / "t.yaml"), "-i", "novalue"])
        assert result.exit_code == 2 and "-i expects NAME=VALUE, got 'novalue'" in result.output, (command, result.output)


def test_every_command_names_shared_concepts_alike():
    from tosca2ansible.cli import _register

    if "validate" not in cli.commands:
        _register()
    names = {}
    for name, command in cli.commands.items():
        for param in command.params:
            names.setdefault(param.name, set()).update(param.opts)
    assert names["sites_path"] == {"--sites"}
    assert names["types_paths"] == {"--types-path"}
    assert names["input_pairs"] == {"-i", "--input"} and names["inputs_file"] == {"--inputs"}
    assert names["as_json"] == {"--json"} and names["group"] == {"--group"}
    assert "types_paths" in {p.name for p in cli.commands["deploy"].params}


