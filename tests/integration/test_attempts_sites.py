"""Deployment attempts across four sites of three kinds, end to end with `indigo deploy`:

1. ``aws-full`` (moto behind the fault proxy) answers RunInstances with InstanceLimitExceeded: quota;
2. ``openstack-faulty`` (the OpenStack emulator) builds the server into ERROR with a Nova fault: fatal;
3. ``local-a`` (systemd-nspawn nodes) provisions a real node, but that site's nodes cannot reach their
   package mirror, so the INDIGO operation role fails on the node while installing packages:
   configuration;
4. ``local-b`` (the same kind of site, mirror reachable) provisions and configures it: deployed.

Why four sites and two local ones: the emulator's servers (and moto's instances) are not hosts
anyone can SSH to, so a configuration failure (a role failing on a provisioned node) can only happen
on a site with real nodes. Two local sites share this machine's bridge, image and package cache; the
difference between them is made explicit here, as the quota error is for moto: while the attempt runs on
``local-a``, the test points each new node's apt proxy setting at a closed port (``BrokenMirror``).
Everything a user would check is checked: the command's result, `indigo runs` (four attempts, their
outcomes and error classes, what was cleaned), moto's and the emulator's state (nothing of the
deployment left), the failed local node gone before the next attempt started, the deployed node
configured (over SSH), and after `indigo undeploy` nothing left on the local site.
"""

import json
import threading
import time
import uuid

import boto3
import pytest

from test_attempts_support import (aws_site, indigo, jobs_alive, journal_attempts, local_site_entry,
                                   moto_left, openstack_site, proxy, write_catalogue)  # noqa: F401  (fixture)
from tests.fixtures.openstack import emulator_fixture
from tests.fixtures.local_nodes import leftovers, local_site  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.emulator]

TEMPLATE = """\
tosca_definitions_version: tosca_simple_yaml_1_0
imports:
  - indigo_custom_types: https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml
description: A Debian machine whose message of the day is set by an INDIGO-style operation playbook.
node_types:
  example.nodes.Motd:
    derived_from: tosca.nodes.SoftwareComponent
    properties:
      message: {type: string, required: true}
    interfaces:
      Standard:
        configure:
          implementation: %(playbook)s
          inputs:
            motd_message: {get_property: [SELF, message]}
topology_template:
  node_templates:
    motd:
      type: example.nodes.Motd
      properties: {message: %(message)s}
      requirements:
        - host: vm
    vm:
      type: tosca.nodes.indigo.Compute
      capabilities:
        host:
          properties: {num_cpus: 1, mem_size: 512 MB}
        os:
          properties: {distribution: debian, version: "13", type: linux}
  outputs:
    vm_address: {value: {get_attribute: [vm, public_address, 0]}}
"""
OPERATION = """\
- hosts: localhost
  tasks:
    - name: Write the message of the day
      ansible.builtin.copy:
        dest: /etc/motd
        content: "{{ motd_message }}\\n"
        mode: "0644"
"""


class BrokenMirror(threading.Thread):
    """While the deployment's record says the attempt runs on ``site``, every node of the deployment that
    appears on the local site gets an apt proxy setting pointing at a closed port: that site's nodes
    cannot install packages. Also notes whether any node of the deployment still existed when the
    attempt after it began (it must not: a failed attempt is torn down before the next starts)."""

    def __init__(self, local, home, deployment, site, next_site):
        super().__init__(daemon=True)
        self.local, self.deployment, self.site, self.next_site = local, deployment, site, next_site
        self.record = home / "deployments" / deployment / "deployment.json"
        self.done = threading.Event()
        self.broken = []  # node names whose mirror was cut
        self.nodes_when_next_began = None

    def current_site(self):
        try:
            return json.loads(self.record.read_text()).get("site")
        except (OSError, ValueError):
            return None

    def run(self):
        while not self.done.is_set():
            site = self.current_site()
            nodes = sorted(self.local.cfg.nodes_dir.glob("%s-*" % self.deployment))
            if site == self.next_site and self.nodes_when_next_began is None:
                self.nodes_when_next_began = [n.name for n in nodes]
            if site == self.site:
                for node in nodes:
                    proxy = node / "root" / "etc" / "apt" / "apt.conf.d" / "01indigo-proxy"
                    try:
                        if ":3142" in proxy.read_text():  # written by the site when it made the node
                            proxy.write_text('Acquire::http::Proxy "http://127.0.0.1:9";\n')
                            self.broken.append(node.name)
                    except OSError:
                        pass
            time.sleep(0.1)


emulator = emulator_fixture(0.2)


def test_quota_then_fatal_then_configuration_failure_then_deployed(tmp_path, moto_server, aws_env, proxy, emulator,
                                                                   local_site):  # noqa: F811
    local = local_site
    image_id = boto3.client("ec2", endpoint_url=moto_server, region_name="us-east-1").describe_images(
        Owners=["amazon"])["Images"][0]["ImageId"]
    catalogue = write_catalogue(tmp_path, [
        aws_site("aws-full", proxy.url, image_id), openstack_site("openstack-faulty", emulator, tmp_path),
        local_site_entry("local-a"), local_site_entry("local-b"),
    ])
    proxy.inject("RunInstances", "InstanceLimitExceeded", status=400)
    emulator.inject({"kind": "server_error", "count": 1})
    (tmp_path / "operation.yml").write_text(OPERATION)
    message = "deployed-on-the-fourth-site-" + uuid.uuid4().hex[:6]
    template = tmp_path / "motd.yaml"
    template.write_text(TEMPLATE % {"playbook": tmp_path / "operation.yml", "message": message})
    deployment = "sites-" + uuid.uuid4().hex[:6]
    home = tmp_path / "home"
    env = dict(aws_env, INDIGO_HOME=str(home), INDIGO_SITES=str(catalogue))

    mirror = BrokenMirror(local, home, deployment, "local-a", "local-b")
    mirror.start()
    try:
        result = indigo(env, "deploy", template, "--deployment", deployment, "--site", "aws-full",
                        "--site", "openstack-faulty", "--site", "local-a", "--site", "local-b", "--json", timeout=1500)
    finally:
        mirror.done.set()
        mirror.join()
    try:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        deployed = json.loads(result.stdout)
        assert deployed["status"] == "deployed" and deployed["deployment"] == deployment

        attempts = journal_attempts(env, deployment)
        assert [(a["attempt"], a["site"], a["outcome"], a["error_class"]) for a in attempts] == [
            (1, "aws-full", "failed", "quota"), (2, "openstack-faulty", "failed", "fatal"),
            (3, "local-a", "failed", "configuration"), (4, "local-b", "ok", None)]
        assert [a["run_status"] for a in attempts] == ["failed", "failed", "failed", "successful"]
        assert "InstanceLimitExceeded" in attempts[0]["message"]
        assert "ERROR" in attempts[1]["message"]
        # the role failed on the node itself, while installing packages through the unreachable mirror
        assert "%s-vm-0" % deployment in attempts[2]["message"] and "apt" in attempts[2]["message"].lower()
        assert attempts[2]["message"].split("; cleaned: ")[1] == "%s-vm-0" % deployment
        assert mirror.broken == ["%s-vm-0" % deployment]
        assert mirror.nodes_when_next_began == []  # local-a's node was gone before local-b's attempt began

        # the failed cloud attempts left nothing
        assert emulator.state()["request_counts"].get("POST /compute/v2.1/servers", 0) == 1
        assert emulator.leftovers() == {}  # this emulator served this test only: nothing at all is left
        assert proxy.calls.get("RunInstances", 0) >= 1
        assert moto_left(moto_server, deployment) == []
        # no job of a failed attempt outlived it (the deployed node's own processes belong to attempt 4)
        assert jobs_alive([a["run_id"] for a in attempts if a["outcome"] != "ok"]) == []
        print("attempt runs (s):", [(a["site"], round(a["run_ended"] - a["run_started"], 1)) for a in attempts])

        # the deployment lives on local-b, configured by the operation, reachable by its users
        status = indigo(env, "status", deployment, "--json", timeout=120)
        assert status.returncode == 0, status.stderr
        status = json.loads(status.stdout)
        assert status["site"] == "local-b" and [n["name"] for n in status["nodes"]] == ["%s-vm-0" % deployment]
        assert deployed["outputs"]["vm_address"] == status["nodes"][0]["address"]
        motd = indigo(env, "ssh", deployment, "--node", "vm", "--", "cat", "/etc/motd", timeout=120)
        assert motd.returncode == 0 and motd.stdout.strip() == message, motd.stderr
    finally:
        undeployed = indigo(env, "undeploy", deployment, timeout=600)
        names = ["%s-vm-0" % deployment]
    assert undeployed.returncode == 0, undeployed.stderr
    assert local.nodes(indigo_deployment=deployment) == []
    assert leftovers(local, names) == {}
