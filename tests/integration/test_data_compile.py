"""Templates that read data compile to projects using the data pieces: a DataStaging node applies
indigo.paas.data_staging on its Compute, a Dynafed node is folded (the broker reads it), a RucioDataset
required by a job node becomes a replication rule (indigo.paas.rucio_rule) to the job's site made while the
node boots and waited for before any configure, deleted by undeploy.yml and release_data.yml; and the
projects pass syntax-check and ansible-lint --profile production."""

import os
import subprocess

import pytest
import yaml

from tosca2ansible.compiler import compile_template
from tests.helpers import ROOT, VENV_BIN, tosca

DYNAFED = tosca("""\
  node_templates:
    files:
      type: tosca.nodes.indigo.Dynafed
      properties:
        files: ["https://fed.example.org/myfed/data/run1.root"]
    job_node:
      type: tosca.nodes.indigo.Compute
      requirements:
        - dependency: files
      capabilities:
        host: {properties: {num_cpus: 1, mem_size: 1 GB}}
""")


def compile_both(tmp_path):
    (tmp_path / "dynafed.yaml").write_text(DYNAFED)
    out = tmp_path / "projects"
    compile_template(os.path.join(ROOT, "examples", "data_job.yaml"), str(out / "data_job"), {}, [], None)
    compile_template(str(tmp_path / "dynafed.yaml"), str(out / "dynafed"), {}, [], None)
    deploy = (out / "data_job" / "deploy.yml").read_text()
    assert "name: indigo.paas.data_staging" in deploy and "inventory_hostname in groups['job_node']" in deploy
    assert "Dynafed" not in (out / "dynafed" / "deploy.yml").read_text()  # nothing to run for it
    compile_template(os.path.join(ROOT, "examples", "data_rucio_job.yaml"), str(out / "rucio_job"), {}, [], None)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_INVENTORY="localhost,")
    return out, env


def test_data_templates_compile_and_pass_syntax_check(tmp_path):
    out, env = compile_both(tmp_path)
    playbooks = [str(out / p / f) for p in ("data_job", "dynafed", "rucio_job") for f in ("deploy.yml", "undeploy.yml")]
    playbooks.append(str(out / "rucio_job" / "release_data.yml"))
    done = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "--syntax-check", *playbooks], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.slow  # ansible-lint costs ~40 s of CPU: run with the slow step, not the fast suite
def test_data_template_projects_pass_ansible_lint_production(tmp_path):
    out, env = compile_both(tmp_path)
    config = tmp_path / "lint.yml"
    # awx/configure.yml needs awx.awx (not installed here): linted with it in test_awx_as_code.py
    config.write_text("---\nexclude_paths:\n  - '**/template.yaml'\n  - '**/awx/configure.yml'\n")
    done = subprocess.run([os.path.join(VENV_BIN, "ansible-lint"), "--offline", "--nocolor", "-c", str(config),
                           "--profile", "production", "-q"], cwd=str(out), env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]


class Loader(yaml.SafeLoader):  # the compiled playbooks tag literal text !unsafe
    pass


Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def load(path):
    return yaml.load(path.read_text(), Loader=Loader)  # noqa: S506  (a SafeLoader)


def test_a_rucio_dataset_becomes_a_rule_made_before_the_job_configures_and_deleted_on_undeploy(tmp_path):
    out, _env = compile_both(tmp_path)
    deploy = load(out / "rucio_job" / "deploy.yml")
    provision = deploy[0]["tasks"]
    names = [t["name"] for t in provision]
    launch = next(t for t in provision if "indigo.paas.rucio_rule" in t)
    args = launch["indigo.paas.rucio_rule"]
    assert args["did"] == "{{ input_input_dataset }}" and args["site"] == "{{ indigo_site | default('local') }}"
    assert args["catalogue"] == "{{ indigo_catalogue | default(omit) }}"  # RSE, server, credentials: from it
    assert args["comment"] == "indigo deployment {{ indigo_deployment_id }}" and args["timeout"] == "{{ input_rule_timeout }}"
    assert not {"password", "username", "token", "endpoint", "rse_expression"} & set(args)  # nothing site- or secret-
    assert launch["poll"] == 0 and "input_rule_timeout" in launch["async"]  # beside the node's boot
    wait = names.index("Wait for the Rucio rule of dataset at the site of job_node")
    assert names.index("Provision job_node") < names.index(launch["name"]) < names.index("Wait for job_node") < wait
    assert wait == names.index("Refresh the deployment inventory") - 1  # before every configure play
    assert provision[wait]["until"] == "indigo_rule_dataset_0.finished"
    assert all("rucio" not in str(play) for play in deploy[1:])  # the rule is one place: provisioning
    undeploy = load(out / "rucio_job" / "undeploy.yml")[0]["tasks"]
    absent = [t["indigo.paas.rucio_rule"] for t in undeploy if "indigo.paas.rucio_rule" in t]
    assert absent == [{k: v for k, v in dict(args, state="absent").items() if k not in ("timeout", "poll_interval")}]
    release = load(out / "rucio_job" / "release_data.yml")[0]["tasks"]
    assert [t["indigo.paas.rucio_rule"] for t in release] == absent
    assert not (out / "data_job" / "release_data.yml").exists()  # no dataset node: no rule


TWO_SITES = tosca("""\
  node_templates:
    dataset:
      type: tosca.nodes.indigo.RucioDataset
      properties: {did: "user.jdoe:both", timeout: 120}
    node_a:
      type: tosca.nodes.indigo.Compute
      requirements: [{dependency: dataset}]
      capabilities: {host: {properties: {num_cpus: 1, mem_size: 1 GB}}}
    node_b:
      type: tosca.nodes.indigo.Compute
      requirements: [{dependency: dataset}]
      capabilities: {host: {properties: {num_cpus: 1, mem_size: 1 GB}}}
""")


def test_job_nodes_placed_on_two_sites_get_one_rule_per_site_each_deleted_on_undeploy_and_release(tmp_path):
    import jinja2

    (tmp_path / "two.yaml").write_text(TWO_SITES)
    compile_template(str(tmp_path / "two.yaml"), str(tmp_path / "two"), {}, [], None,
                     sites={"node_a": "site-a", "node_b": "site-b"})
    provision = load(tmp_path / "two" / "deploy.yml")[0]["tasks"]
    launches = [t for t in provision if "indigo.paas.rucio_rule" in t]
    assert [t["name"] for t in launches] == ["Replicate dataset to the site of node_a (Rucio rule)",
                                             "Replicate dataset to the site of node_b (Rucio rule)"]
    waits = [t for t in provision if str(t.get("name", "")).startswith("Wait for the Rucio rule")]
    assert [w["register"] for w in waits] == ["indigo_rule_dataset_0", "indigo_rule_dataset_1"]  # one wait per rule
    placement = {"node_a": "site-a", "node_b": "site-b"}
    sites = [jinja2.Template(t["indigo.paas.rucio_rule"]["site"]).render(indigo_placement=placement, indigo_site="x")
             for t in launches]
    assert sites == ["site-a", "site-b"]  # each rule to its Compute's site (the module maps it to the site's RSEs)
    moved = jinja2.Template(launches[1]["indigo.paas.rucio_rule"]["site"]).render(
        indigo_placement=placement, indigo_sites={"node_b": "site-c"})
    assert moved == "site-c"  # the site given at launch (indigo_sites) wins
    undeploy = [t["indigo.paas.rucio_rule"] for t in load(tmp_path / "two" / "undeploy.yml")[0]["tasks"]
                if "indigo.paas.rucio_rule" in t]
    assert [a["site"] for a in undeploy] == [t["indigo.paas.rucio_rule"]["site"] for t in launches]
    assert all(a["state"] == "absent" and a["comment"] == "indigo deployment {{ indigo_deployment_id }}" for a in undeploy)
    release = load(tmp_path / "two" / "release_data.yml")[0]["tasks"]
    assert [t["indigo.paas.rucio_rule"] for t in release] == undeploy
