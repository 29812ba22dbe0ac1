"""Templates that read data compile to projects using the data pieces: a DataStaging node applies
indigo.paas.data_staging on its Compute, a Dynafed node is folded (the broker reads it), and the
projects pass syntax-check and ansible-lint --profile production."""

import os
import subprocess

import pytest

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
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_INVENTORY="localhost,")
    return out, env


def test_data_templates_compile_and_pass_syntax_check(tmp_path):
    out, env = compile_both(tmp_path)
    playbooks = [str(out / p / f) for p in ("data_job", "dynafed") for f in ("deploy.yml", "undeploy.yml")]
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
