"""TOSCA properties on real nodes, as a user: `indigo deploy` of the HTCondor example plus a worker
`slots: 5` and an OS.Users node, on the local site (1 front-end, 1 execute node).

The execute node advertises 5 CPUs, whatever HTCondor detects, and runs 5 single-core jobs at once;
the OS.Users node's account exists with its key in authorized_keys and passwordless sudo; the
front-end's ALLOW_WRITE lists the deployment's hosts and allow_submit_from. The deployment is removed
whatever happens (about 110 s with a warm base image and apt cache).
Run with `pytest -m slow tests/roles/test_tosca_properties_real.py -s`.
"""
from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.local_nodes import leftovers, local_site  # noqa: F401
from tests.helpers import ROOT

DEPLOYMENT = "tosca-props-real"
SLOTS = 5
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRvc2NhcHJvcGVydGllc3Rlc3RrZXkx alice@example"
EXTRA_NODES = """
    accounts:
      type: tosca.nodes.indigo.OS.Users
      properties:
        users:
          - {name: alice, ssh_key: "%s", sudo: yes}
      requirements:
        - host: lrms_server
""" % KEY
SUBMIT = ("executable = job.sh\noutput = out.$(Process)\nlog = jobs.log\nrequest_cpus = 1\nrequest_memory = 32\n"
          "queue %d\n" % SLOTS)


def template(tmp_path: Path) -> Path:
    text = (ROOT / "examples" / "htcondor_cluster.yaml").read_text()
    for anchor, added in (("        wn_ips: { get_attribute: [ lrms_wn, private_address ] }\n",
                           "        allow_submit_from: [ 192.0.2.0/24 ]\n"),
                          ("        public_front_end_ip: { get_attribute: [ lrms_server, public_address, 0 ] }\n",
                           "        slots: %d\n" % SLOTS),
                          ("  node_templates:\n", EXTRA_NODES)):
        assert text.count(anchor) == 1, anchor
        text = text.replace(anchor, anchor + added)
    path = tmp_path / "htcondor_tosca_properties.yaml"
    path.write_text(text)
    return path


def indigo(*args, timeout=900):
    return subprocess.run([sys.executable, "-c", "from tosca2ansible.cli import main; main()"] + list(args),
                          capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))


def on_node(node: str, script: str, user: str = "root", timeout=120) -> str:
    command = "cd && " + script
    if user != "root":
        command = "runuser -u %s -- sh -c %s" % (user, shlex.quote(command))
    proc = indigo("ssh", DEPLOYMENT, "--node", node, "--", command, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_slots_users_and_submit_hosts_reach_real_nodes(local_site, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    started = time.monotonic()
    try:
        proc = indigo("deploy", str(template(tmp_path)), "-i", "wn_num=1", "-i", "wn_cpus=1",
                      "--deployment", DEPLOYMENT)
        assert proc.returncode == 0, proc.stderr[-4000:]
        deployed = time.monotonic() - started

        # OS.Users: alice exists, her key is the one authorized, she may sudo without a password.
        assert on_node("lrms_server", "cat ~alice/.ssh/authorized_keys").strip() == KEY
        assert on_node("lrms_server", "sudo -n true && echo ok", user="alice").strip() == "ok"

        # allow_submit_from joins this host and the deployment's hosts in ALLOW_WRITE.
        allow_write = on_node("lrms_server", "condor_config_val ALLOW_WRITE").strip()
        assert allow_write.endswith("/192.0.2.0/24") and allow_write.count("*@indigo.pool/") == 4, allow_write

        # slots: 5 (a CPU count no test machine has): 5 CPUs advertised, 5 single-core jobs at once.
        assert on_node("lrms_wn", "condor_config_val DETECTED_CPUS").strip() != str(SLOTS)
        status = on_node("lrms_server", "for i in $(seq 60); do [ -n \"$(condor_status -af Cpus)\" ] && break;"
                         " sleep 2; done; condor_status -af Cpus", user="condor_user")
        assert status.split() == [str(SLOTS)], status
        on_node("lrms_server", "rm -rf j && mkdir j && cd j && printf %%s %s > job.sh && chmod +x job.sh"
                " && printf %%s %s > job.sub && condor_submit -terse job.sub"
                % (shlex.quote("#!/bin/sh\nsleep 20\n"), shlex.quote(SUBMIT)), user="condor_user")
        running = on_node("lrms_server", "for i in $(seq 60); do [ $(condor_q -run -af ProcId | wc -l) -ge %d ]"
                          " && break; sleep 1; done; condor_q -run -af ProcId" % SLOTS, user="condor_user")
        assert sorted(running.split()) == [str(i) for i in range(SLOTS)], running
        on_node("lrms_server", "condor_wait -wait 120 j/jobs.log", user="condor_user", timeout=180)
    finally:
        names = [n.name for n in local_site.nodes(indigo_deployment=DEPLOYMENT)]
        undeploy = indigo("undeploy", DEPLOYMENT)
    assert undeploy.returncode == 0, undeploy.stderr[-4000:]
    assert local_site.nodes(indigo_deployment=DEPLOYMENT) == [] and leftovers(local_site, names) == {}
    print("deploy %.1f s, whole test %.1f s" % (deployed, time.monotonic() - started))
