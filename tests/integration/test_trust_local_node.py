"""A template is data on a real node: `indigo deploy` on the local site (one systemd-nspawn Debian 13 node, its
own ansible-core from the distribution runs the operation), the values read back over SSH.

The fast suite checks the same round trip with localhost standing in for the node
(tests/integration/test_trust_playbook.py); this one has the node's own ansible-playbook read the inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
import yaml

from tests.fixtures.local_nodes import local_site, ssh_command  # noqa: F401
from tests.helpers import ROOT

PWNED = "/root/PWNED-" + uuid.uuid4().hex[:8]
PROBE = "{{ lookup('pipe', 'touch %s') }}" % PWNED  # would run on the node if its run rendered it
STRINGS = ["0755", "0123", "yes", "", "null", "~", "1.10", "off", ".inf", "1e3", "it's", 'a "b"\\n', "x\ny",
           "{% raw %}", "{# c #}", "#jinja2: variable_start_string: '[['", PROBE]
RECORD = """\
- name: Record what the operation was given
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the inputs as JSON
      ansible.builtin.copy:
        dest: /root/recorded.json
        content: "{{ {'strings': strings, 'port': port, 'given': given, 'mapped': mapped, 'joined': joined} | to_json }}"
        mode: "0600"
"""


def _template() -> dict:
    return {
        "tosca_definitions_version": "tosca_simple_yaml_1_0",
        "topology_template": {
            "inputs": {"strings": {"type": "list", "entry_schema": {"type": "string"}, "default": STRINGS},
                       "port": {"type": "integer", "default": 493},
                       "given": {"type": "string"},
                       "mapped": {"type": "map", "entry_schema": {"type": "string"}, "default": {"k": PROBE, PROBE: "0755"}}},
            "node_templates": {
                "app": {"type": "tosca.nodes.SoftwareComponent",
                        "interfaces": {"Standard": {"configure": {"implementation": "record.yml", "inputs": {
                            "strings": {"get_input": "strings"}, "port": {"get_input": "port"},
                            "given": {"get_input": "given"}, "mapped": {"get_input": "mapped"},
                            "joined": {"concat": ["it's", "\n", {"get_input": "port"}]}}}}},
                        "requirements": [{"host": "vm"}]},
                "vm": {"type": "tosca.nodes.Compute", "capabilities": {
                    "host": {"properties": {"num_cpus": 1, "mem_size": "512 MB"}},
                    "os": {"properties": {"type": "linux", "distribution": "debian", "version": "13"}}}}},
            "outputs": {"off": {"value": {"get_input": "given"}}, "strings": {"value": {"get_input": "strings"}}}}}


def _indigo(env, *args, timeout=900):
    return subprocess.run([sys.executable, "-c", "from tosca2ansible.cli import main; main()"] + list(args),
                          capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=timeout)


@pytest.mark.slow
def test_values_reach_a_real_node_byte_equal_and_never_run(local_site, tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    (user / "app.yaml").write_text(yaml.safe_dump(_template(), sort_keys=False))
    (user / "record.yml").write_text(RECORD)
    home = tmp_path / "home"
    env = dict(os.environ, INDIGO_HOME=str(home))
    deployment = "trust" + uuid.uuid4().hex[:6]
    try:
        deployed = _indigo(env, "deploy", str(user / "app.yaml"), "--deployment", deployment, "--json",
                           "-i", "given=%s" % PROBE)
        assert deployed.returncode == 0, deployed.stderr[-4000:]
        outputs = json.loads(deployed.stdout)["outputs"]
        assert outputs == {"off": PROBE, "strings": STRINGS}  # the control machine: names and values kept
        (node,) = local_site.nodes(indigo_deployment=deployment)
        key = home / "deployments" / deployment / "ssh" / "id_ed25519"

        def on_node(command):
            proc = subprocess.run(ssh_command(node.address, key, local_site.cfg.known_hosts_file, command),
                                  capture_output=True, text=True, timeout=60)
            assert proc.returncode == 0, proc.stderr
            return proc.stdout

        seen = json.loads(on_node("cat /root/recorded.json"))
        assert seen == {"strings": STRINGS, "port": 493, "given": PROBE, "mapped": {"k": PROBE, PROBE: "0755"},
                        "joined": "it's\n493"}
        assert type(seen["port"]) is int and all(type(s) is str for s in seen["strings"])
        assert on_node("ls %s 2>/dev/null || echo absent" % PWNED).strip() == "absent"
        assert on_node("ansible-playbook --version | head -1").startswith("ansible-playbook [core")
    finally:
        undeployed = _indigo(env, "undeploy", deployment)
        assert undeployed.returncode == 0, undeployed.stderr[-3000:]
    assert local_site.nodes(indigo_deployment=deployment) == []
