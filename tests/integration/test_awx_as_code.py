"""AWX as code (issue 16): every awx.awx task of a compiled project's awx/configure.yml is checked against that
module's documented argument spec (awx.awx as shipped in the PyPI `ansible` package, read with ansible-doc, and
validated with ansible-core's own ArgumentSpecValidator); a site credential injected as AWX injects it reaches the
run's environment and nothing else (journal, artifacts)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from tests.helpers import ROOT, VENV_BIN

EXAMPLE = ROOT / "examples" / "slurm_cluster.yaml"
ANSIBLE_PACKAGE = "ansible==12.3.0"  # the last `ansible` release for Python 3.11; ships awx.awx
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "indigo-awx"


class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Reads `!unsafe` as the plain string it is (Ansible never templates it)."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


@pytest.fixture(scope="module")
def awx_collection(tmp_path_factory):
    """awx.awx extracted from the `ansible` wheel (downloaded once with pip into the user's cache)."""
    wheels = sorted(CACHE.glob("ansible-12.3.0-*.whl"))
    if not wheels:
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", ANSIBLE_PACKAGE, "-d", str(CACHE)],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        wheels = sorted(CACHE.glob("ansible-12.3.0-*.whl"))
    target = tmp_path_factory.mktemp("awx")
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extractall(target, [n for n in wheel.namelist() if n.startswith("ansible_collections/awx/awx/")])
    return target


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from tosca2ansible.compiler import compile_template

    out = tmp_path_factory.mktemp("slurm") / "project"
    compile_template(str(EXAMPLE), str(out), {"wn_num": 2}, [])
    return out


def _tasks(project):
    plays = yaml.load((project / "awx" / "configure.yml").read_text(), Loader=_Loader)
    return [task for play in plays for task in play["tasks"]], plays[0]["vars"]


def _argument_spec(options):
    """The documented options as an AnsibleModule argument_spec."""
    spec = {}
    for name, option in options.items():
        entry = {k: option[k] for k in ("type", "required", "choices", "aliases", "elements", "default") if k in option}
        if option.get("suboptions"):
            entry["options"] = _argument_spec(option["suboptions"])
        spec[name] = entry
    return spec


def test_every_awx_task_matches_the_documented_argument_spec(awx_collection, project):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    tasks, _ = _tasks(project)
    modules = sorted({key for task in tasks for key in task if key.startswith("awx.awx.")})
    assert modules == ["awx.awx.credential_type", "awx.awx.execution_environment", "awx.awx.inventory",
                       "awx.awx.inventory_source", "awx.awx.job_template", "awx.awx.project"]
    proc = subprocess.run([str(VENV_BIN / "ansible-doc"), "-t", "module", "--json"] + modules,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(awx_collection)),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    assert sorted(docs) == modules
    for task in tasks:
        (module,) = [key for key in task if key.startswith("awx.awx.")]
        spec = _argument_spec(docs[module]["doc"]["options"])
        result = ArgumentSpecValidator(spec).validate(dict(task[module]))
        assert not result.error_messages, (task["name"], result.error_messages)
        assert not result.unsupported_parameters, (task["name"], result.unsupported_parameters)


def test_awx_objects_point_at_the_project_files(project):
    tasks, play_vars = _tasks(project)
    templates = {t["awx.awx.job_template"]["name"]: t["awx.awx.job_template"] for t in tasks if "awx.awx.job_template" in t}
    assert sorted(templates) == ["slurm-cluster deploy", "slurm-cluster scale", "slurm-cluster undeploy"]
    for template in templates.values():
        assert (project / template["playbook"]).is_file()
    survey = json.loads((project / "awx" / "survey.json").read_text())
    assert templates["slurm-cluster deploy"]["survey_spec"] == survey
    assert [q["variable"] for q in templates["slurm-cluster scale"]["survey_spec"]["spec"]] == ["input_wn_num"]
    (source,) = [t["awx.awx.inventory_source"] for t in tasks if "awx.awx.inventory_source" in t]
    inventory = yaml.safe_load((project / source["source_path"]).read_text())
    assert inventory == {"plugin": "indigo.paas.deployment", "deployment": "slurm-cluster"}
    kinds = sorted(t["awx.awx.credential_type"]["name"] for t in tasks if "awx.awx.credential_type" in t)
    assert kinds == ["INDIGO aws site", "INDIGO opennebula site", "INDIGO openstack site"]
    assert "scm_url" in str(play_vars) and "indigo_awx_ee_image" in play_vars


def test_configure_playbook_parses_with_the_real_awx_collection(awx_collection, project):
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "--syntax-check", "awx/configure.yml"], cwd=project,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(awx_collection)),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def awx_inject(credential_type, inputs, private_dir):
    """What AWX does at launch (``CredentialType.inject_credential``): render the type's ``file`` injectors into
    files of the job's private data dir (their paths in ``tower.filename``/``awx.filename``), then its ``env``
    and ``extra_vars`` injectors, every template in Jinja's immutable sandbox with the credential's inputs.
    Returns (environment, extra vars, files written)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    sandbox = ImmutableSandboxedEnvironment()  # AWX's: an input the credential lacks renders empty
    injectors = credential_type.get("injectors") or {}
    namespace = dict(inputs)
    files = {}
    for label, template in (injectors.get("file") or {}).items():
        path = Path(private_dir) / "env" / ("tmp_%s" % label.replace("template.", ""))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sandbox.from_string(template).render(**namespace))
        os.chmod(path, 0o600)
        files[label.replace("template.", "")] = str(path)
    if files:
        filename = files["template"] if list(files) == ["template"] else files
        namespace["tower"] = namespace["awx"] = {"filename": filename}
    env = {var: sandbox.from_string(template).render(**namespace) for var, template in (injectors.get("env") or {}).items()}
    extra = {var: sandbox.from_string(template).render(**namespace)
             for var, template in (injectors.get("extra_vars") or {}).items()}
    return env, extra, files


def test_injected_site_credential_reaches_the_run_environment_only(project, tmp_path, monkeypatch):
    import ansible_runner

    tasks, _ = _tasks(project)
    (openstack,) = [t["awx.awx.credential_type"] for t in tasks
                    if t.get("awx.awx.credential_type", {}).get("name") == "INDIGO openstack site"]
    marker = "marker-secret-7f3c9e1d5b"
    data = tmp_path / "runner"
    data.mkdir()
    envvars, extra_vars, files = awx_inject(openstack, {"username": "demo", "password": marker, "project_name": "demo"},
                                            data)
    # the site credential types inject the environment only: no extra var (AWX writes those into the job's
    # env/extravars, an artifact) and no file in the private data dir
    assert envvars["OS_PASSWORD"] == marker and extra_vars == {} and files == {}
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "clouds.yml").write_text(yaml.safe_dump({"sites": [{
        "name": "cloud-a", "kind": "openstack", "endpoint": "http://127.0.0.1:9/v3",
        "credentials": {"env": {"username": "OS_USERNAME", "password": "OS_PASSWORD", "project_name": "OS_PROJECT_NAME"}}}]}))
    play = [{"name": "Use the site", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "The credential is in the run's environment", "no_log": True,
         "ansible.builtin.assert": {"that": ["lookup('ansible.builtin.env', 'OS_PASSWORD') | hash('sha256') == '%s'"
                                             % hashlib.sha256(marker.encode()).hexdigest()]}},
        {"name": "Ask the site (its API is down)", "indigo.paas.site_info": {"site": "cloud-a"}}]}]
    (project / "check.yml").write_text(yaml.safe_dump(play))
    home = tmp_path / "home"
    env = dict(envvars, INDIGO_HOME=str(home), INDIGO_SITES=str(sites), ANSIBLE_CONFIG=str(project / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"), PATH="%s:%s" % (VENV_BIN, os.environ["PATH"]))
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}
    result = ansible_runner.run(private_data_dir=str(data), project_dir=str(project), playbook="check.yml",
                                inventory=inventory, envvars=env, quiet=True, timeout=300)
    events = list(result.events)
    assert result.rc == 0, [e.get("stdout") for e in events][-5:]
    assert marker not in result.stdout.read() and not [e for e in events if marker in json.dumps(e)]
    assert not [p for p in project.rglob("*") if p.is_file() and marker.encode() in p.read_bytes()]
    ok = [e["event_data"]["task"] for e in events if e["event"] == "runner_on_ok"]
    assert "The credential is in the run's environment" in ok
    (asked,) = [e["event_data"]["res"] for e in events
                if e["event"] == "runner_on_ok" and e["event_data"]["task"] == "Ask the site (its API is down)"]
    # the module resolved the injected credential and asked the site's keystone for a token with it
    assert asked["health"]["reachable"] is False and "/v3/auth/tokens" in asked["health"]["error"]
    journal = home / "journal.sqlite"
    assert journal.is_file()
    def leaks():
        return sorted(str(p.relative_to(tmp_path)) for p in [*home.rglob("*"), *(data / "artifacts").rglob("*")]
                      if p.is_file() and marker.encode() in p.read_bytes())

    # the callback journaled the run without it; ansible-runner itself records the job's environment in
    # artifacts/<id>/command (AWX keeps that private data dir only for the job), which the framework's
    # scrub (what `indigo` runs after every job) masks with the site catalogue's credentials
    assert [p.rsplit("/", 1)[-1] for p in leaks()] == ["command"]
    from tosca2ansible.runtime.journal.api import scrub_artifacts

    for var, value in envvars.items():
        monkeypatch.setenv(var, value)
    assert scrub_artifacts(str(data), catalogue=str(sites)) >= 1
    assert leaks() == []
    from tosca2ansible.runtime.journal import Journal

    with Journal(str(journal)) as opened:
        assert [e["task"] for e in opened.store.rows("host_events")] == [
            "The credential is in the run's environment", "Ask the site (its API is down)"]


@pytest.mark.slow
def test_configure_playbook_passes_ansible_lint_production_with_awx_awx(awx_collection, project):
    proc = subprocess.run([str(VENV_BIN / "ansible-lint"), "--offline", "--nocolor", "--profile", "production", "-q",
                           "awx/configure.yml", "scale.yml"], cwd=project,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH="%s:%s" % (ROOT / "collections", awx_collection)),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_awx_injection_renders_file_env_and_extra_vars_templates_as_awx_does(tmp_path):
    """The emulation itself, on a type with the three injector kinds (AWX's documented example shape)."""
    ctype = {"injectors": {"file": {"template.cfg": "[auth]\ntoken={{ token }}\n"},
                           "env": {"SITE_CONFIG": "{{ tower.filename.cfg }}", "SITE_USER": "{{ user }}"},
                           "extra_vars": {"site_user": "{{ user }}"}}}
    env, extra, files = awx_inject(ctype, {"user": "demo", "token": "t-123"}, tmp_path)
    # Jinja drops the template's last newline, in AWX too
    assert Path(env["SITE_CONFIG"]).read_text() == "[auth]\ntoken=t-123" and env["SITE_USER"] == "demo"
    assert oct(Path(files["cfg"]).stat().st_mode & 0o777) == "0o600" and extra == {"site_user": "demo"}
    from jinja2.exceptions import SecurityError

    assert awx_inject({"injectors": {"env": {"X": "{{ missing }}"}}}, {}, tmp_path)[0] == {"X": ""}
    with pytest.raises(SecurityError):  # and runs it in the sandbox
        awx_inject({"injectors": {"env": {"X": "{{ user.__class__.__mro__ }}"}}}, {"user": "u"}, tmp_path)
