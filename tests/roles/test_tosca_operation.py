"""tosca_operation runs an IM-style operation playbook in local mode, with a Galaxy role from a tarball."""
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml
from tests.helpers import ROOT as REPO

BIN = Path(sys.executable).parent

OPERATION = [{
    "hosts": "localhost", "connection": "local", "gather_facts": False,
    "roles": [{"role": "greeter"}],
    "tasks": [{"name": "Write what IM gave", "ansible.builtin.copy": {
        "dest": "{{ out_file }}", "mode": "0600",
        "content": "{{ {'greeting': greeting, 'ip': IM_NODE_PRIVATE_IP, 'infra': IM_INFRASTRUCTURE_ID} | to_json }}"}}],
}]


def _role_tarball(tmp: Path) -> Path:
    role = tmp / "greeter"
    (role / "tasks").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "meta" / "main.yml").write_text(yaml.safe_dump({"galaxy_info": {"role_name": "greeter", "author": "t",
                                                                             "description": "t", "license": "MIT",
                                                                             "min_ansible_version": "2.15"}}))
    (role / "tasks" / "main.yml").write_text(yaml.safe_dump([{"name": "Greet", "ansible.builtin.copy": {
        "dest": "{{ role_marker }}", "content": "hello from the galaxy role\n", "mode": "0600"}}]))
    tarball = tmp / "greeter.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(role, arcname="greeter")
    return tarball


def _run(tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{BIN}:{os.environ['PATH']}")
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(tmp / "inv.yml"), str(tmp / "site.yml"), *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_operation_runs_in_local_mode_with_inputs_from_a_private_file(tmp_path):
    playbook = tmp_path / "operation.yml"
    playbook.write_text(yaml.safe_dump(OPERATION))
    out_file, marker, work = tmp_path / "out.json", tmp_path / "marker", tmp_path / "work"
    secret = "s3cr3t-input-value"
    (tmp_path / "inv.yml").write_text(yaml.safe_dump({"all": {"hosts": {"node0": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "IM_NODE_PRIVATE_IP": "10.77.0.21", "IM_INFRASTRUCTURE_ID": "demo"}}}}))
    (tmp_path / "site.yml").write_text(yaml.safe_dump([{"hosts": "node0", "gather_facts": True, "roles": [{
        "role": "tosca_operation",
        "tosca_operation_playbook": str(playbook),
        "tosca_operation_galaxy_roles": [f"{_role_tarball(tmp_path)},"],
        "tosca_operation_inputs": {"greeting": secret, "out_file": str(out_file), "role_marker": str(marker)},
        "tosca_operation_work_dir": str(work),
        "tosca_operation_install_ansible": False, "tosca_operation_python_interpreter": sys.executable,
        "tosca_operation_ansible_playbook": str(BIN / "ansible-playbook"),
        "tosca_operation_ansible_galaxy": str(BIN / "ansible-galaxy")}]}]))

    first = _run(tmp_path)
    assert first.returncode == 0, first.stdout[-3000:]
    assert json.loads(out_file.read_text()) == {"greeting": secret, "ip": "10.77.0.21", "infra": "demo"}
    assert marker.read_text() == "hello from the galaxy role\n"
    assert (work / "extra_vars.json").stat().st_mode & 0o777 == 0o600
    assert secret not in first.stdout  # inputs never printed, never on a command line

    # The operation is idempotent, so the second run reports no change.
    second = _run(tmp_path)
    assert second.returncode == 0, second.stdout[-3000:]
    assert "changed=0" in second.stdout.split("PLAY RECAP")[-1]

    check = _run(tmp_path, "--check")
    assert check.returncode == 0, check.stdout[-3000:]


def test_missing_playbook_is_a_clear_error(tmp_path):
    (tmp_path / "inv.yml").write_text(yaml.safe_dump({"all": {"hosts": {"node0": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    (tmp_path / "site.yml").write_text(yaml.safe_dump([{"hosts": "node0", "gather_facts": False,
                                                        "roles": [{"role": "tosca_operation"}]}]))
    result = _run(tmp_path)
    assert result.returncode != 0
    assert "tosca_operation_playbook" in result.stdout
