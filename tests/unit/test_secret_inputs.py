"""Secret inputs never land in the compiled project; at launch they arrive literally (never templated)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tosca2ansible.compiler import compile_template
from tosca2ansible.runtime.runner import unsafe_vars_yaml
from tests.helpers import tosca

MARKER = "S3cr3t-{{ lookup('pipe','id') }}-marker"
TEMPLATE = tosca("""\
      inputs:
        db_password: {type: string}
        db_name: {type: string, default: galaxy}
      node_templates:
        server:
          type: tosca.nodes.indigo.Compute
          capabilities:
            os: {properties: {type: linux}}
      outputs:
        name: {value: {get_input: db_name}}
    """)


def test_secret_input_value_is_not_written_and_must_come_at_launch(tmp_path):
    (tmp_path / "t.yaml").write_text(TEMPLATE)
    compiled = compile_template(str(tmp_path / "t.yaml"), str(tmp_path / "out"), {"db_password": MARKER})
    assert compiled.secret_inputs == {"input_db_password": MARKER}
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file() and path.name != "template.yaml":
            assert "S3cr3t" not in path.read_text(errors="replace"), path
    inputs = (tmp_path / "out" / "group_vars" / "all" / "inputs.yml").read_text()
    assert "input_db_name" in inputs and "input_db_password" not in inputs
    deploy = (tmp_path / "out" / "deploy.yml").read_text()
    assert "input_db_password is defined" in deploy  # a run without it stops with a clear message


def test_secret_vars_file_is_unsafe_for_ansible(tmp_path):
    # a password 0123 reached the node as 83 under 2.19's `!unsafe` (issue 11)
    secret = [MARKER, "0123", "yes", "", "it's\n{{ x }}"]
    (tmp_path / "secrets.yml").write_text(unsafe_vars_yaml({"input_db_password": secret}))
    play = tmp_path / "play.yml"
    play.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: Write the secret where the test can read it
              ansible.builtin.copy:
                content: "{{ input_db_password | to_json }}"
                dest: "%s"
                mode: "0600"
        """ % (tmp_path / "seen")))
    ansible = str(Path(sys.executable).with_name("ansible-playbook"))
    proc = subprocess.run([ansible, "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
                           "-e", "@%s" % (tmp_path / "secrets.yml"), str(play)], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "seen").read_text()) == secret  # literal: the lookup was never run


def test_input_whose_value_is_a_secrets_value_is_secret_too(tmp_path):
    """The rule's third part: db_name given the password's value is kept out of the project like it."""
    (tmp_path / "t.yaml").write_text(TEMPLATE)
    compiled = compile_template(str(tmp_path / "t.yaml"), str(tmp_path / "out"),
                                {"db_password": "Same-Value-77", "db_name": "Same-Value-77"})
    assert compiled.secret_inputs == {"input_db_password": "Same-Value-77", "input_db_name": "Same-Value-77"}
    assert sorted(compiled.secret_names) == ["db_name", "db_password"]
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file() and path.name != "template.yaml":
            assert "Same-Value-77" not in path.read_text(errors="replace"), path
    short = compile_template(str(tmp_path / "t.yaml"), str(tmp_path / "out2"), {"db_password": "abc", "db_name": "abc"})
    assert short.secret_names == ["db_password"]  # under MIN_SECRET_LEN a value masks nothing
