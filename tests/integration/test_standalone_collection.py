"""The collection and compiled projects stand alone (issue 16): the galaxy tarball installs into an empty
collections path and runs a compiled project copied away from the checkout with plain ansible-playbook, the
callback journaling it; compiled projects carry no machine path (two checkouts, byte-identical output)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from tests.fixtures.corpus import PRESENT as CORPUS_PRESENT, TYPES_MAPPING
from tosca2ansible.runtime.journal import Journal
from tosca2ansible.runtime.journal.query import list_runs
from tests.helpers import ROOT, VENV_BIN, localhost_stand_in

COLLECTION = ROOT / "collections" / "ansible_collections" / "indigo" / "paas"
OPERATIONS_TEMPLATE = ROOT / "tests" / "fixtures" / "operations_template"
# ansible-playbook as on a host without the framework: tosca2ansible unimportable, the checkout's
# collections/ off sys.path (the venv's editable install would add it)
WITHOUT_FRAMEWORK = ("import sys; sys.modules['tosca2ansible'] = None; sys.argv[0] = 'ansible-playbook'; "
                     "sys.path = [p for p in sys.path if not p.rstrip('/').endswith('collections')]; "
                     "from ansible.cli.playbook import main; main()")
CLEAN = ("ANSIBLE_CALLBACKS_ENABLED", "ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH", "INDIGO_DEPLOYMENT",
         "INDIGO_ACTION", "INDIGO_RUN_ID", "INDIGO_JOURNAL", "PYTHONPATH")


def galaxy(*args, cwd=None):
    proc = subprocess.run([str(VENV_BIN / "ansible-galaxy"), "collection"] + list(args), cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("galaxy-build")
    galaxy("build", "--output-path", str(out), cwd=str(COLLECTION))
    built = sorted(out.glob("indigo-paas-*.tar.gz"))
    assert len(built) == 1
    return built[0]


def test_tarball_holds_the_collection_and_nothing_of_the_build(tarball):
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    manifest = json.loads(tarfile.open(tarball).extractfile("MANIFEST.json").read())
    assert manifest["collection_info"]["namespace"] == "indigo" and manifest["collection_info"]["name"] == "paas"
    for needed in ("plugins/callback/journal.py", "plugins/plugin_utils/journal/store.py",
                   "plugins/module_utils/localsite/site.py", "plugins/inventory/deployment.py", "meta/runtime.yml",
                   "meta/execution-environment.yml", "requirements.txt", "bindep.txt", "roles/slurm/tasks/main.yml",
                   "tests/unit/plugins/module_utils/test_sites.py", "changelogs/fragments/16-standalone.yml"):
        assert needed in names, needed
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith("tests/output")]


def test_collection_imports_nothing_outside_itself():
    offenders = []
    for path in COLLECTION.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "tosca2ansible" in text.replace("tosca2ansible.runtime.localsite`` of the framework", "") or "sys.path" in text:
            offenders.append(str(path.relative_to(COLLECTION)))
    assert offenders == []


def _compile(project_dir, env=None, python=sys.executable, cwd=None, log="/tmp/indigo-steps.log"):
    """The fixture template (Compute count 0: the local site creates nothing) compiled by `python`."""
    types = [str(TYPES_MAPPING)] if CORPUS_PRESENT else []
    code = ("import sys; from tosca2ansible.compiler import compile_template; "
            "compile_template(sys.argv[1], sys.argv[2], {'log_file': sys.argv[3], 'vm_count': 0}, sys.argv[4:]); "
            "import tosca2ansible; print(tosca2ansible.__file__)")
    proc = subprocess.run([python, "-c", code, str(OPERATIONS_TEMPLATE / "small.yaml"), str(project_dir), log] + types,
                          env=env, cwd=cwd or str(project_dir.parent), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _tree(directory):
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_two_checkouts_at_different_paths_compile_byte_identical_projects(tmp_path):
    projects = []
    for name in ("first", "second-checkout"):
        checkout = tmp_path / name
        for part in ("tosca2ansible", "collections", "inventories"):
            shutil.copytree(ROOT / part, checkout / part, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "output"))
        env = {k: v for k, v in os.environ.items() if k not in CLEAN}
        env["PYTHONPATH"] = str(checkout)
        used = _compile(tmp_path / ("project-" + name), env)
        assert used == str(checkout / "tosca2ansible" / "__init__.py")  # that checkout's compiler ran
        projects.append(_tree(tmp_path / ("project-" + name)))
    assert projects[0] == projects[1]
    for rel, data in projects[0].items():
        assert str(tmp_path).encode() not in data and str(ROOT).encode() not in data, rel
    cfg = projects[0]["ansible.cfg"].decode()
    assert "collections_path = ./collections:~/.ansible/collections:/usr/share/ansible/collections\n" in cfg
    version = json.loads(json.dumps(__import__("yaml").safe_load(projects[0]["requirements.yml"])))
    assert version == {"collections": [{"name": "indigo.paas", "version": _galaxy_version()}]}


def _galaxy_version():
    import yaml

    return str(yaml.safe_load((COLLECTION / "galaxy.yml").read_text())["version"])


def test_installed_tarball_runs_a_compiled_project_copied_away_and_journals_it(tarball, tmp_path, monkeypatch):
    compiled = tmp_path / "compiled"
    log = tmp_path / "steps.log"
    _compile(compiled, log=str(log))
    project = tmp_path / "elsewhere" / "project"  # copied away from where it was compiled
    shutil.copytree(compiled, project)
    shutil.rmtree(compiled)
    # the operator installs the pinned collection from the tarball into the project's own collections/
    # (run from the project, whose ansible.cfg names only ./collections and the standard paths; --force: a
    # copy in ~/.ansible/collections would count as installed)
    galaxy("install", "--force", str(tarball), "-p", "collections", cwd=str(project))
    installed = project / "collections" / "ansible_collections" / "indigo" / "paas" / "MANIFEST.json"
    assert json.loads(installed.read_text())["collection_info"]["version"] == _galaxy_version()
    sites, _ = localhost_stand_in(tmp_path, ["vm_app", "vm_db"])
    extra = {"ansible_become": False, "tosca_operation_install_ansible": False,
             "tosca_operation_ansible_playbook": str(VENV_BIN / "ansible-playbook"),
             "tosca_operation_python_interpreter": sys.executable, "tosca_operation_work_dir": str(tmp_path / "work"),
             "indigo_artifacts_dir": str(tmp_path / "node")}
    env = {k: v for k, v in os.environ.items() if k not in CLEAN}
    home = tmp_path / "home"
    env.update(INDIGO_HOME=str(home), INDIGO_SITES=str(sites), ANSIBLE_LOCAL_TEMP=str(tmp_path / "atmp"),
               PATH="%s:%s" % (VENV_BIN, os.environ.get("PATH", "")))
    proc = subprocess.run([sys.executable, "-c", WITHOUT_FRAMEWORK, "deploy.yml", "-i", str(tmp_path / "hosts.yml"),
                           "-e", json.dumps(extra)], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "[WARNING]" not in proc.stdout + proc.stderr, proc.stderr
    # the operation playbooks and the file artifact came from the project; the relationship's operation ran on
    # its target's end with SOURCE bound
    notes = tmp_path / "node" / "scripts" / "notes.txt"
    assert log.read_text().splitlines() == ["app_configure %s" % notes, "add_source the-app"]
    assert notes.read_text() == "notes for the app\n"
    with Journal(str(home / "journal.sqlite")) as journal:
        runs = list_runs(journal.store)
        assert [(r["deployment"], r["action"], r["status"], r["rc"]) for r in runs] == [("small", "deploy", "successful", 0)]
        events = [(e["task"], e["status"]) for e in journal.store.rows("host_events")]
        assert [task for task, _ in events if task.startswith("Run ")] == ["Run app configure", "Run app dependency add_source"]
        assert events.count(("indigo.paas.tosca_operation : Run the operation playbook on the node in local mode",
                             "changed")) == 2
        assert not [e for e in events if e[1] == "failed"]
        assert [d["status"] for d in journal.store.rows("deployments")] == ["deployed"]
        assert journal.store.verify()["ok"]


def test_ansible_builder_creates_the_ee_build_context(tarball, tmp_path):
    """`ansible-builder create` with the top-level execution-environment.yml and the built tarball in dist/."""
    import yaml

    (tmp_path / "dist").mkdir()
    shutil.copy(tarball, tmp_path / "dist" / tarball.name)
    shutil.copy(ROOT / "execution-environment.yml", tmp_path / "execution-environment.yml")
    proc = subprocess.run([str(VENV_BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "-c", "context",
                           "--output-filename", "Containerfile"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    context = tmp_path / "context"
    assert (context / "_build" / "collections" / tarball.name).read_bytes() == tarball.read_bytes()
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements == {"collections": [{"name": "/build/collections/%s" % tarball.name, "type": "file"}]}
    containerfile = (context / "Containerfile").read_text()
    # the Debian base's adaptations: apt-get through ee-apt, pip from Debian (no ensurepip to run)
    assert 'ARG PKGMGR="/usr/local/bin/ee-apt"' in containerfile and "scripts/pip_install" not in containerfile
    assert 'ARG EE_BASE_IMAGE="localhost/indigo-ee-base:trixie"' in containerfile
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core>=2.19,<2.20 ansible-runner>=2.4,<3"' in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    # the collection's own EE metadata, read by the introspection step of the build
    meta = yaml.safe_load((COLLECTION / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}


@pytest.mark.slow
def test_collection_requirements_install_into_a_clean_venv(tmp_path):
    """What the EE build's introspection installs: the collection's requirements.txt, from PyPI, in a venv with
    nothing else; the SDKs the providers import are then importable."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(COLLECTION / "requirements.txt")],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", "import openstack, pyone, boto3, kubernetes, yaml"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
