"""Real-world template shapes (issue 15): the IM dialect, groups, templates and nodes with nothing to do,
drift (warnings, --strict errors), types not supported yet, and the journal/CLI on a fresh home."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.indigo.paas.plugins.module_utils import broker
from tosca2ansible import brokering
from tosca2ansible.compiler import compile_template, validate_template
from tosca2ansible.compiler.support import NOT_SUPPORTED
from tosca2ansible.errors import UnsupportedError, UserInputError
from tests.unit.test_templates_leniency import ANSIBLE_PLAYBOOK, load, notes_of, write
from tests.helpers import indigo

IM_NODE = """\
topology_template:
  node_templates:
    vm:
      type: tosca.nodes.Compute
      capabilities:
        host:
          properties:
            num_cpus: {in_range: [2, 4]}
            mem_size: {greater_or_equal: 4 GB}
        os:
          properties:
            architecture: {equal: x86_64}
"""


def test_constraint_maps_are_broker_requirements(tmp_path):
    path = write(tmp_path, IM_NODE)
    compiled = compile_template(path, str(tmp_path / "p"), {}, [])
    assert ("notice: %s:9, node vm, field capabilities.host.properties.num_cpus: property num_cpus: in_range [2, 4] "
            "is a requirement (IM dialect), not a value: the broker keeps sites that meet it and the site picks the "
            "flavor/image" % path) in compiled.notices
    args = load(tmp_path / "p" / "group_vars" / "all" / "topology.yml")["indigo_nodes"]["vm"]
    assert args["num_cpus"] == 2 and args["mem_size"] == ("UNSAFE", "4 GB")  # sized for the lower bounds
    topology, plan = brokering.analyse(path, {}, [])
    request = brokering.request_from_topology(topology, plan)
    node = request.nodes[0]
    assert (node.num_cpus, node.max_cpus, node.mem_mb) == (2, 4, 4096)  # 4 GB: MB means MiB (module_utils/units.py)
    sites = [{"name": "big-only", "kind": "openstack", "flavors": [{"name": "xl", "num_cpus": 16, "mem_mb": 65536}],
              "sla": [{"group": "default", "priority": 1}]},
             {"name": "fits", "kind": "openstack", "flavors": [{"name": "m", "num_cpus": 4, "mem_mb": 8192},
                                                              {"name": "xl", "num_cpus": 16, "mem_mb": 65536}],
              "sla": [{"group": "default", "priority": 1}]}]
    ranking = {r.site: r for r in broker.rank(request, sites)}
    assert not ranking["big-only"].kept and ranking["fits"].kept and ranking["fits"].flavors == {"vm": "m"}


def test_groups_are_modelled_and_policy_targets_expanded(tmp_path):
    path = write(tmp_path, """\
topology_template:
  node_templates:
    fe: {type: tosca.nodes.Compute}
    wn: {type: tosca.nodes.Compute}
  groups:
    cluster:
      type: tosca.groups.Root
      members: [fe, wn]
  policies:
    - place:
        type: tosca.policies.Placement
        targets: [cluster, fe]
""")
    topology, _ = brokering.analyse(path, {}, [])
    assert topology.groups["cluster"].members == ["fe", "wn"]
    assert topology.policies[0].targets == ["fe", "wn"]
    bad = write(tmp_path, """\
topology_template:
  node_templates:
    fe: {type: tosca.nodes.Compute}
  groups:
    cluster: {type: tosca.groups.Root, members: [fe, ghost]}
""", "bad.yaml")
    with pytest.raises(UserInputError, match=r"bad.yaml:6, field groups.cluster.members: group member ghost is not a "
                                             r"node template"):
        validate_template(bad, {}, [])


@pytest.mark.parametrize("body", ["topology_template: {}\n", "description: a catalogue link\n",
                                  "topology_template:\n  inputs:\n    x: {type: string, default: a}\n"])
def test_nothing_to_deploy_compiles_to_a_project_that_does_nothing(tmp_path, body):
    path = write(tmp_path, body)
    compiled = compile_template(path, str(tmp_path / "p"), {}, [])
    assert any("the template has no node_templates: nothing to deploy, the project does nothing" in line
               for line in notes_of(compiled))
    deploy = load(tmp_path / "p" / "deploy.yml")
    assert [t for play in deploy for t in play.get("tasks", []) if "indigo.paas.instance" in t] == []
    if os.path.exists(ANSIBLE_PLAYBOOK):
        done = subprocess.run([ANSIBLE_PLAYBOOK, "--syntax-check", "deploy.yml", "undeploy.yml"], cwd=tmp_path / "p",
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_nodes_with_nothing_to_run_are_no_ops_whose_properties_stay(tmp_path):
    (tmp_path / "app.yml").write_text("---\n- hosts: localhost\n  tasks: []\n")
    path = write(tmp_path, """\
node_types:
  tosca.nodes.StorageSystem:
    derived_from: tosca.nodes.Root
    properties:
      endpoint: {type: string}
      credentials: {type: map, required: false}
topology_template:
  node_templates:
    store:
      type: tosca.nodes.StorageSystem
      properties:
        endpoint: https://s3.example.org
        credentials: {user: alice}
    marker: {type: tosca.nodes.SoftwareComponent, requirements: [{host: vm}]}
    root: {type: tosca.nodes.Root}
    app:
      type: tosca.nodes.SoftwareComponent
      requirements: [{host: vm}]
      interfaces:
        Standard:
          configure:
            implementation: app.yml
            inputs:
              url: {get_property: [store, endpoint]}
              user: {get_property: [store, credentials, user]}
    vm: {type: tosca.nodes.Compute}
""")
    compile_template(path, str(tmp_path / "p"), {}, [])
    props = load(tmp_path / "p" / "group_vars" / "all" / "topology.yml")["indigo_node_properties"]
    assert props["store"]["endpoint"] == ("UNSAFE", "https://s3.example.org")
    tasks = [t for play in load(tmp_path / "p" / "deploy.yml") for t in play.get("tasks", [])]
    run = [t for t in tasks if t["name"] == "Run app configure"][0]
    assert run["vars"]["tosca_operation_inputs"] == {"url": ("UNSAFE", "https://s3.example.org"),
                                                     "user": ("UNSAFE", "alice")}
    assert not any("store" in t["name"] or "marker" in t["name"] or "root" in t["name"] for t in tasks)


DRIFT = """\
node_types:
  my.App:
    derived_from: tosca.nodes.SoftwareComponent
topology_template:
  node_templates:
    db: {type: tosca.nodes.SoftwareComponent, requirements: [{host: vm}]}
    app:
      type: my.App
      requirements:
        - host: vm
        - database: {node: db, relationship: tosca.relationships.ConnectsTo}
    vm: {type: tosca.nodes.Compute}
  policies:
    - place:
        type: tosca.policies.Placement
        properties: {availability_zone: z1}
        targets: [vm]
"""


def test_drift_is_a_warning_naming_it(tmp_path):
    path = write(tmp_path, DRIFT)
    compiled = validate_template(path, {}, [])
    assert notes_of(compiled, "warning") == [
        "warning: %s:12, node app, field requirements.database: unknown requirement database (type my.App defines: "
        "dependency, host): ignored (--strict makes this an error)" % path,
        "warning: %s:17, field policies.place.properties.availability_zone: unknown property availability_zone "
        "(tosca.policies.Placement defines: none): ignored (--strict makes this an error)" % path]
    topology, plan = brokering.analyse(path, {}, [])
    assert topology.policies[0].properties == {}
    assert plan.depends_on["app"] == ["db", "vm"]  # the long-form requirement still orders the nodes


def test_strict_makes_drift_an_error(tmp_path, monkeypatch):
    path = write(tmp_path, DRIFT)
    for command in (["validate", path, "--strict"], ["compile", path, "-o", str(tmp_path / "p"), "--strict"]):
        result = indigo(*command)
        assert result.exit_code == 2
        assert ("error: %s:12, node app, field requirements.database: unknown requirement database (type my.App "
                "defines: dependency, host) (--strict)" % path) in result.output
    assert not (tmp_path / "p").exists()
    # indigo deploy compiles through compile_project: the flag reaches the compiler
    from tosca2ansible.runtime import deploy as runtime_deploy  # pylint: disable=import-outside-toplevel

    with pytest.raises(UserInputError, match=r"\(--strict\)"):
        runtime_deploy.compile_project(path, tmp_path / "q", "t", {}, strict=True)
    seen = {}
    monkeypatch.setattr(runtime_deploy, "deploy", lambda *args, **kwargs: seen.update(kwargs) or {"deployment": "t"})
    assert indigo("deploy", path, "--strict").exit_code == 0 and seen["strict"] is True
    short = write(tmp_path, DRIFT.replace("- database: {node: db, relationship: tosca.relationships.ConnectsTo}",
                                          "- database: db"), "short.yaml")
    with pytest.raises(UserInputError, match=r"short.yaml:12, node app, field requirements.database: unknown "
                                             r"requirement database"):
        validate_template(short, {}, [])


UNSUPPORTED_NODES = {
    "tosca.nodes.indigo.Qcg.Job": "{executable: /bin/true, environment: {}}",
    "tosca.nodes.indigo.Grid.Job": "{executable: /bin/true, environment: {}, ce_urls: [], outputsandbox: [], "
                                   "inputsandbox: []}",
    "tosca.nodes.im.AnsibleHost": "{host: 192.0.2.1}",
    "tosca.nodes.aisprint.FaaS.Function": "{name: plants}",
    "tosca.nodes.Container.Application.Docker": "{}",
}


@pytest.mark.parametrize("node_type", sorted(UNSUPPORTED_NODES))
def test_types_not_supported_yet_are_named(tmp_path, node_type):
    path = write(tmp_path, """\
imports:
  - indigo_custom_types: https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml
node_types:
  tosca.nodes.im.AnsibleHost:
    derived_from: tosca.nodes.Root
    properties: {host: {type: string}}
  tosca.nodes.aisprint.FaaS.Function:
    derived_from: tosca.nodes.Root
    properties: {name: {type: string}}
topology_template:
  node_templates:
    job:
      type: %s
      properties: %s
""" % (node_type, UNSUPPORTED_NODES[node_type]))
    with pytest.raises(UnsupportedError) as caught:
        compile_template(path, str(tmp_path / "p"), {}, [])
    assert str(caught.value) == "%s:13, node job, field type: not supported yet: job (%s)" % (path, node_type)
    assert node_type in NOT_SUPPORTED


def test_fresh_home_status_names_the_deployment_and_validate_says_bundled_once(tmp_path, monkeypatch):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("INDIGO_TYPES_PATH", raising=False)
    result = indigo("status", "web-1")
    assert result.exit_code == 2 and "web-1" in result.output
    path = write(tmp_path, """\
imports:
  - indigo_custom_types: https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml
  - other: https://raw.githubusercontent.com/indigo-dc/tosca-types/devel/custom_types.yaml
topology_template: {node_templates: {vm: {type: tosca.nodes.indigo.Compute}}}
""")
    result = indigo("validate", path)
    assert result.exit_code == 0, result.output
    assert result.stdout == "%s: valid (deployment t; bundled INDIGO type library for 2 imports, -v names them)\n" % path
    assert "bundled" not in result.stderr
    result = indigo("validate", "-v", path)
    assert result.stderr.count("using the bundled INDIGO type library") == 2
    result = indigo("compile", path, "-o", str(tmp_path / "p"), "--deployment", "")
    assert result.exit_code == 2 and "deployment id ''" in result.output


def test_an_upper_bound_alone_leaves_the_size_to_the_site(tmp_path):
    path = write(tmp_path, """\
topology_template:
  node_templates:
    vm:
      type: tosca.nodes.Compute
      capabilities:
        host: {properties: {num_cpus: {less_or_equal: 8}, mem_size: {less_than: 16 GB}}}
        os: {properties: {distribution: {valid_values: [ubuntu, centos]}}}
""")
    compile_template(path, str(tmp_path / "p"), {}, [])
    args = load(tmp_path / "p" / "group_vars" / "all" / "topology.yml")["indigo_nodes"]["vm"]
    assert "num_cpus" not in args and "mem_size" not in args and args["os_distribution"] == ("UNSAFE", "ubuntu")
    topology, plan = brokering.analyse(path, {}, [])
    node = brokering.request_from_topology(topology, plan).nodes[0]
    assert (node.num_cpus, node.max_cpus, node.max_mem_mb) == (1, 8, 16384)
    assert topology.nodes["vm"].wanted["os"]["distribution"].bounds == ["ubuntu", "centos"]


def test_a_requirement_given_only_as_a_node_filter_is_not_supported_yet(tmp_path):
    """TOSCA's abstract requirement (the orchestrator selects a node meeting the filter): precise, not a crash."""
    path = write(tmp_path, """\
topology_template:
  node_templates:
    db_server:
      type: tosca.nodes.Compute
    mysql:
      type: tosca.nodes.DBMS
      requirements:
        - host:
            node_filter:
              capabilities:
                - host:
                    properties:
                      - num_cpus: { in_range: [ 1, 4 ] }
""")
    with pytest.raises(UnsupportedError) as raised:
        validate_template(path, {}, [])
    assert str(raised.value) == ("%s:9, node mysql, field requirements.host: not supported yet: requirement host of "
                                 "mysql given only as a node_filter (name the node with `node:`)" % path)
