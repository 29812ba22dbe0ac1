"""The execution environment built and a compiled project's deploy run in it, as AWX runs a job in an EE.

Base: the local site's debootstrap'ed Debian trixie rootfs, ``podman import``ed, plus python3-pip and
``ee-apt`` (execution-environment-base/). Then ``ansible-builder build`` of execution-environment.yml with the
collection tarball. The deploy runs through ansible-runner's own container mode (``process_isolation`` with
podman, the private data dir mounted at /runner), with the collection from the image only; the journal
callback inside the EE journals into the mounted $INDIGO_HOME.

Host specifics, given as build/run options (not in the EE): podman's chroot isolation for RUN steps and the
runc runtime with the host's ulimits to run it (crun refuses this host's hybrid cgroups and raises
RLIMIT_NOFILE above the hard limit); the host's CA bundle mounted during the build (PyPI is reached through
an intercepting proxy here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.helpers import ROOT, VENV_BIN

COLLECTION = ROOT / "collections" / "ansible_collections" / "indigo" / "paas"
SMALL = ROOT / "tests" / "fixtures" / "operations_template" / "small.yaml"
ROOTFS_IMAGE = "localhost/indigo-ee-rootfs:trixie"
BASE_IMAGE = "localhost/indigo-ee-base:trixie"
EE_IMAGE = "localhost/indigo-paas-ee:test"
CA = Path("/etc/ssl/certs/ca-certificates.crt")
RUN_OPTIONS = ["--ulimit=nofile=1024:1024", "--ulimit=nproc=4096:4096", "--network=host"]


def podman(*args, timeout=1800, runtime=False, **kwargs):
    argv = ["podman"] + (["--runtime", "runc"] if runtime else []) + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)


def _image_exists(name):
    return podman("image", "exists", name, timeout=120).returncode == 0


@pytest.fixture(scope="module")
def ee_image(tmp_path_factory):
    if not shutil.which("podman") or not shutil.which("runc"):
        pytest.skip("podman and runc are not installed (apt-get install podman runc)")
    if os.environ.get("INDIGO_EE_IMAGE"):  # an EE built by these same steps (docs/standalone.md)
        assert _image_exists(os.environ["INDIGO_EE_IMAGE"]), os.environ["INDIGO_EE_IMAGE"]
        return os.environ["INDIGO_EE_IMAGE"]
    from tosca2ansible.runtime.localsite import LocalSiteConfig

    rootfs = LocalSiteConfig().image_dir
    if not _image_exists(ROOTFS_IMAGE):
        if not (rootfs / "usr" / "bin" / "python3").exists():
            pytest.skip("no local site base image to import (python -m tosca2ansible.runtime.localsite prepare)")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--exclude=./proc", "--exclude=./sys", "--exclude=./dev", "-c", "."],
                               stdout=subprocess.PIPE)
        proc = podman("import", "-", ROOTFS_IMAGE, stdin=tar.stdout)
        tar.wait()
        assert proc.returncode == 0, proc.stderr
    build = ["--isolation", "chroot", "--network", "host"]
    if CA.is_file():
        build += ["--volume", "%s:%s:ro" % (CA, CA)]
    proc = podman("build", *build, "-t", BASE_IMAGE, str(ROOT / "execution-environment-base"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    work = tmp_path_factory.mktemp("ee")
    proc = subprocess.run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work / "dist"),
                           str(COLLECTION)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    shutil.copy(ROOT / "execution-environment.yml", work / "execution-environment.yml")
    proc = subprocess.run([str(VENV_BIN / "ansible-builder"), "build", "-f", "execution-environment.yml", "-c", "context",
                           "-t", EE_IMAGE, "--container-runtime", "podman", "--extra-build-cli-args", " ".join(build)],
                          cwd=work, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return EE_IMAGE


@pytest.mark.slow
@pytest.mark.extended
def test_ee_holds_the_collection_and_its_requirements(ee_image):
    code = ("import sys; sys.path.insert(0, '/usr/share/ansible/collections'); "
            "import openstack, pyone, boto3, kubernetes, yaml, ansible, ansible_runner; "
            "import ansible_collections.indigo.paas.plugins.plugin_utils.journal.store")
    proc = podman("run", "--rm", *RUN_OPTIONS, ee_image, "python3", "-c", code, runtime=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    proc = podman("run", "--rm", *RUN_OPTIONS, ee_image, "ansible-galaxy", "collection", "list", "indigo.paas",
                  "--format", "json", runtime=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert list(listed) == ["/usr/share/ansible/collections/ansible_collections"], listed
    proc = podman("run", "--rm", *RUN_OPTIONS, ee_image, "sh", "-c", "for t in ssh rsync sqlite3; do command -v $t; done", runtime=True)
    assert proc.returncode == 0 and proc.stdout.count("/") >= 3, proc.stdout + proc.stderr  # bindep.txt installed


@pytest.mark.slow
@pytest.mark.extended
def test_a_compiled_project_deploys_in_the_ee_through_ansible_runner(ee_image, tmp_path, monkeypatch):
    import ansible_runner

    from tosca2ansible.compiler import compile_template
    from tosca2ansible.runtime.journal import Journal
    from tosca2ansible.runtime.journal.query import list_runs

    data = tmp_path / "runner"  # mounted at /runner in the EE
    compile_template(str(SMALL), str(data / "project"), {"log_file": "/runner/steps.log", "vm_count": 0}, [])
    assert not (data / "project" / "collections").exists()  # the collection comes from the image only
    (data / "sites").mkdir()
    (data / "sites" / "local.yml").write_text("sites:\n  - name: local\n    kind: local\n    local: {state_dir: /runner/localsite}\n")
    inventory = ("all:\n  hosts:\n    localhost: {ansible_connection: local, ansible_python_interpreter: /usr/bin/python3, "
                 "IM_NODE_PRIVATE_IP: 127.0.0.1}\n  children:\n    vm_app: {hosts: {localhost: {}}}\n"
                 "    vm_db: {hosts: {localhost: {}}}\n    indigo_deployment: {hosts: {localhost: {}}}\n")
    extra = {"ansible_become": False, "tosca_operation_install_ansible": False,
             "tosca_operation_ansible_playbook": "/usr/local/bin/ansible-playbook", "tosca_operation_python_interpreter": "/usr/bin/python3",
             "tosca_operation_work_dir": "/runner/work", "indigo_artifacts_dir": "/runner/node"}
    conf = tmp_path / "containers.conf"  # what `podman --runtime runc` says, for the podman ansible-runner starts
    conf.write_text('[engine]\nruntime = "runc"\n')
    monkeypatch.setenv("CONTAINERS_CONF", str(conf))
    result = ansible_runner.run(
        private_data_dir=str(data), playbook="deploy.yml", inventory=inventory, extravars=extra, quiet=True, timeout=900,
        envvars={"INDIGO_HOME": "/runner/home", "INDIGO_SITES": "/runner/sites", "INDIGO_DEPLOYMENT": "small"},
        process_isolation=True, process_isolation_executable="podman", container_image=ee_image,
        container_options=RUN_OPTIONS + ["--user=0"])
    events = list(result.events)
    assert result.rc == 0, [e.get("stdout") for e in events][-8:]
    command = json.loads((data / "artifacts" / result.config.ident / "command").read_text())
    assert command["command"][:2] == ["podman", "run"] and ee_image in command["command"]
    assert (data / "steps.log").read_text().splitlines() == ["app_configure /runner/node/scripts/notes.txt",
                                                               "add_source the-app"]
    with Journal(str(data / "home" / "journal.sqlite")) as journal:  # written by the callback inside the EE
        runs = list_runs(journal.store)
        assert [(r["deployment"], r["action"], r["status"]) for r in runs] == [("small", "deploy", "successful")]
        tasks = [e["task"] for e in journal.store.rows("host_events")]
        assert "Run app configure" in tasks and journal.store.verify()["ok"]
