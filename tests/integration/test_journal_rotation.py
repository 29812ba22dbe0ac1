"""Artifact rotation: INDIGO_KEEP_ARTIFACTS keeps the newest run dirs of a deployment; the journal keeps
every run and says which artifacts rotated away."""

import json

import pytest

from tests.integration.test_local_runner import make_project
from tosca2ansible.cli import cli, runs_cmd
from tosca2ansible.errors import UserInputError
from tosca2ansible.runtime.runner import run_playbook
from tests.helpers import indigo

PLAYBOOK = """
- name: Nothing much
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""


def test_keep_two_runs_per_deployment(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("INDIGO_HOME", str(home))
    monkeypatch.setenv("INDIGO_KEEP_ARTIFACTS", "2")
    project = make_project(tmp_path, PLAYBOOK)
    runs = [run_playbook(project, "deploy.yml", deployment=d, action="deploy", progress=lambda line: None)
            for d in ("rot", "rot", "rot-other", "rot")]
    assert all(r.ok for r in runs)
    assert sorted(p.name for p in (home / "runs").iterdir()) == sorted(r.run_id for r in runs[1:])
    runs_cmd.register(cli)
    listed = json.loads(indigo("runs", "--deployment", "rot", "--json").stdout)
    assert [r["run_id"] for r in listed] == [runs[0].run_id, runs[1].run_id, runs[3].run_id]
    shown = indigo("runs", "show", runs[0].run_id)
    assert "no longer on disk: rotated, see INDIGO_KEEP_ARTIFACTS" in shown.stdout
    detail = json.loads(indigo("runs", "show", runs[3].run_id, "--json").stdout)
    assert detail["run"]["artifacts_present"] is True


def test_bad_setting_stops_before_running(tmp_path, monkeypatch):
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INDIGO_KEEP_ARTIFACTS", "many")
    project = make_project(tmp_path, PLAYBOOK)
    with pytest.raises(UserInputError, match="INDIGO_KEEP_ARTIFACTS must be a number of runs"):
        run_playbook(project, "deploy.yml", deployment="rot", action="deploy", progress=lambda line: None)
    assert not (tmp_path / "home").exists()  # no run dir, no journal record
