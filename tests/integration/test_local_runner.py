"""runtime.runner: ansible-runner on a compiled-project layout, progress, changed count, failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.fixtures.local_nodes import local_site, ssh_keypair  # noqa: F401
from tosca2ansible.runtime.runner import run_playbook
from tests.helpers import ROOT


ANSIBLE_CFG = """[defaults]
collections_path = {root}/collections
roles_path = {root}/roles
host_key_checking = True
interpreter_python = auto_silent
retry_files_enabled = False
"""
LOCALHOST = """all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""


def make_project(tmp_path, playbook):
    project = tmp_path / "project"
    (project / "inventory").mkdir(parents=True)
    (project / "ansible.cfg").write_text(ANSIBLE_CFG.format(root=ROOT))
    (project / "inventory" / "localhost.yml").write_text(LOCALHOST)
    (project / "deploy.yml").write_text(playbook)
    return project


@pytest.fixture(autouse=True)
def indigo_home(tmp_path, monkeypatch):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_changed_tasks_are_counted_and_progress_streamed(tmp_path, indigo_home):
    marker = tmp_path / "marker"
    project = make_project(tmp_path, """
- name: Write a marker
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Marker file
      ansible.builtin.copy: {content: "x", dest: "%s", mode: "0600"}
    - name: Outputs
      ansible.builtin.copy:
        content: "{{ {'answer': indigo_answer} | to_json }}"
        dest: "{{ indigo_outputs_file }}"
        mode: "0600"
""" % marker)
    lines = []
    outputs = tmp_path / "outputs.json"
    extravars = {"indigo_answer": 42, "indigo_outputs_file": str(outputs)}
    first = run_playbook(project, "deploy.yml", deployment="trun", action="deploy", extravars=extravars, progress=lines.append)
    assert first.ok and first.changed == 2
    assert json.loads(outputs.read_text()) == {"answer": 42}
    assert "PLAY Write a marker" in lines and "  TASK Marker file" in lines
    assert Path(first.artifacts_dir, "job_events").is_dir()
    assert str(indigo_home / "runs") in first.artifacts_dir
    second = run_playbook(project, "deploy.yml", deployment="trun", action="deploy", extravars=extravars, progress=lines.append)
    assert second.ok and second.changed == 0 and second.run_id != first.run_id
    # both runs are in the audit journal with their final status
    from tosca2ansible.runtime.journal.query import list_runs
    from tosca2ansible.runtime.journal.store import JournalStore, default_path

    runs = {r["run_id"]: r for r in list_runs(JournalStore(default_path()), "trun")}
    assert set(runs) == {first.run_id, second.run_id}
    assert all(r["status"] == "successful" and r["rc"] == 0 for r in runs.values())


def test_failed_task_is_reported_with_host_task_and_message(tmp_path):
    project = make_project(tmp_path, """
- name: Fails
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Boom
      ansible.builtin.fail: {msg: "the answer is not 42"}
""")
    result = run_playbook(project, "deploy.yml", deployment="tfail", action="deploy", progress=lambda line: None)
    assert not result.ok and result.status == "failed"
    assert result.failures == ["localhost: Boom: the answer is not 42"]
    assert result.failed_tasks == [{"host": "localhost", "task": "Boom", "message": "the answer is not 42"}]


NODES_PLAYBOOK = """
- name: Provision
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Nodes
      indigo.paas.instance:
        deployment: trunner
        node: wn
        count: 2
        site: local
        catalogue: "{root}/inventories/sites"
        ssh_public_key: "{{{{ indigo_ssh_public_key }}}}"
      register: nodes
    - name: Inventory
      ansible.builtin.add_host:
        name: "{{{{ item.name }}}}"
        groups: wn
        ansible_host: "{{{{ item.address }}}}"
        ansible_user: root
        ansible_ssh_private_key_file: "{{{{ indigo_ssh_private_key_file }}}}"
      loop: "{{{{ nodes.instances }}}}"
      changed_when: false
- name: Configure
  hosts: wn
  tasks:
    - name: A file on each node
      ansible.builtin.copy: {{content: "{{{{ inventory_hostname }}}}", dest: /etc/indigo-test, mode: "0644"}}
"""


@pytest.mark.slow
def test_real_nodes_over_ssh_converge(local_site, ssh_keypair, tmp_path):
    project = make_project(tmp_path, NODES_PLAYBOOK.format(root=ROOT))
    extravars = {"indigo_ssh_public_key": ssh_keypair.with_suffix(".pub").read_text().strip(),
                 "indigo_ssh_private_key_file": str(ssh_keypair)}
    known = [tmp_path / "known_hosts", local_site.cfg.known_hosts_file]
    try:
        first = run_playbook(project, "deploy.yml", deployment="trunner", action="deploy", extravars=extravars,
                             known_hosts=known, progress=lambda line: None)
        assert first.ok, first.failures
        assert first.changed == 3  # the instance task + one file per node
        second = run_playbook(project, "deploy.yml", deployment="trunner", action="deploy", extravars=extravars,
                              known_hosts=known, progress=lambda line: None)
        assert second.ok and second.changed == 0
    finally:
        local_site.delete_deployment("trunner")
    # the local site's own known_hosts vouched for the nodes: nothing had to be accepted blindly
    assert not (tmp_path / "known_hosts").exists() or os.path.getsize(tmp_path / "known_hosts") == 0
