"""The journal callback under real ansible-playbook and ansible_runner.run on localhost.

A test-local module (``library/fake_instance.py``) returns what ``indigo.paas.instance`` returns
(instances, created, deleted) so resource recording is exercised without a cloud.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.corpus import PRESENT as CORPUS_PRESENT, TYPES_MAPPING
from tosca2ansible.runtime.journal import Journal, RunJournal, new_run_id
from tosca2ansible.runtime.journal.api import _current_user
from tosca2ansible.runtime.journal.query import deployment_detail, list_runs, run_detail
from tests.helpers import ROOT, VENV_BIN, localhost_stand_in

MARK_NOLOG = "MARKERnolog7c1e"
MARK_INPUT = "MARKERinput9d2f"
MARK_SITE = "MARKERsite4b8a"
MARKERS = (MARK_NOLOG, MARK_INPUT, MARK_SITE)

FAKE_MODULE = '''
from ansible.module_utils.basic import AnsibleModule

def main():
    m = AnsibleModule(argument_spec=dict(deployment=dict(type="str"), count=dict(type="int"),
                                         site=dict(type="str"), fail=dict(type="bool", default=False)))
    d, n = m.params["deployment"], m.params["count"]
    if m.params["fail"]:
        m.fail_json(msg="quota exceeded on " + m.params["site"], error_class="quota")
    if n == 0:
        m.exit_json(changed=True, instances=[], created=[], deleted=["%s-id-%d" % (d, i) for i in range(2)])
    inst = [dict(id="%s-id-%d" % (d, i), name="%s-vm-%d" % (d, i), site=m.params["site"], deployment=d,
                 node="vm", index=i, status="active", private_ips=["10.0.0.%d" % (i + 2)], public_ips=[])
            for i in range(n)]
    m.exit_json(changed=True, instances=inst, created=[i["id"] for i in inst], deleted=[])

main()
'''

PLAYBOOK = '''
- name: Provision
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Create instances
      fake_instance:
        deployment: "{{ indigo_deployment_id }}"
        count: "{{ 0 if indigo_action | default('deploy') == 'undeploy' else 2 }}"
        site: local
        fail: "{{ indigo_fail | default(false) | bool }}"
    - name: Create in a loop
      fake_instance:
        deployment: "{{ indigo_deployment_id }}{{ item }}"
        count: 1
        site: local
      loop: [x]
      when: indigo_action is not defined
    - name: Secret work
      # prints the no_log marker, made at run time under no secret name: only no_log hides it
      ansible.builtin.command: printf '%s%s' MARKERnolog 7c1e
      no_log: true
      changed_when: false
    - name: Leaky message
      ansible.builtin.fail:
        msg: "db {{ db_password }} site {{ lookup('ansible.builtin.env', 'TEST_SITE_SECRET') }}"
      ignore_errors: true
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    proj = tmp_path / "project"
    (proj / "library").mkdir(parents=True)
    (proj / "library" / "fake_instance.py").write_text(FAKE_MODULE)
    (proj / "deploy.yml").write_text(PLAYBOOK)
    (proj / "inventory").write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    (proj / "group_vars").mkdir()
    # the secret input arrives as an extra var, as the runtime passes it: never written into the project
    (proj / "group_vars" / "all.yml").write_text("indigo_deployment_id: demo\n")
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "local.yml").write_text(
        "sites:\n  - name: local\n    kind: local\n    credentials: {env: {api_token: TEST_SITE_SECRET}}\n")
    home = tmp_path / "home"
    monkeypatch.setenv("INDIGO_HOME", str(home))
    monkeypatch.setenv("INDIGO_SITES", str(sites))
    monkeypatch.setenv("TEST_SITE_SECRET", MARK_SITE)
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", str(ROOT / "collections"))
    monkeypatch.setenv("ANSIBLE_LOCAL_TEMP", str(tmp_path / "atmp"))
    monkeypatch.setenv("PATH", "%s:%s" % (VENV_BIN, os.environ.get("PATH", "")))  # ansible-runner runs ansible-playbook from PATH
    return {"dir": proj, "home": home, "sites": sites, "journal": home / "journal.sqlite", "tmp": tmp_path}


def _grep_markers(paths):
    hits = []
    for base in paths:
        base = Path(base)
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
        for path in files:
            data = path.read_bytes()
            hits.extend("%s in %s" % (m, path) for m in MARKERS if m.encode() in data)
    return hits


def _journal_files(journal):
    return [p for p in journal.parent.glob(journal.name + "*")]


def test_plain_ansible_playbook_records_run_and_never_a_secret(project):
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED="indigo.paas.journal", INDIGO_ACTION="deploy")
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "inventory", "deploy.yml",
                           "-e", "db_password=%s" % MARK_INPUT],
                          cwd=project["dir"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "indigo.paas.journal disabled" not in proc.stderr
    assert MARK_NOLOG not in proc.stdout + proc.stderr  # Ansible's own censoring, not bypassed
    with Journal(str(project["journal"])) as journal:
        runs = list_runs(journal.store)
        assert [(r["deployment"], r["action"], r["status"], r["rc"]) for r in runs] == [("demo", "deploy", "successful", 0)]
        detail = run_detail(journal.store, runs[0]["run_id"])
        events = journal.store.rows("host_events")
        assert [(e["task"], e["status"]) for e in events] == [
            ("Create instances", "changed"), ("Create in a loop", "changed"), ("Secret work", "ok"),
            ("Leaky message", "ignored")]
        assert events[3]["message"] == "db ******** site ********"
        assert [(r["change"], r["resource_id"], r["site"]) for r in detail["resources"]] == [
            ("created", "demo-id-0", "local"), ("created", "demo-id-1", "local"), ("created", "demox-id-0", "local")]
        assert detail["recap"]["localhost"]["changed"] == 2
        assert journal.store.verify()["ok"]
    assert _grep_markers(_journal_files(project["journal"])) == []


def _runner_run(project, action, fail=False):
    """What runner.py does: RunJournal around ansible_runner.run."""
    import ansible_runner

    run_id = new_run_id("demo", action)
    private = project["home"] / "runs" / run_id
    private.mkdir(parents=True)
    extravars = {"indigo_action": action, "indigo_fail": fail, "db_password": MARK_INPUT}
    journal_run = RunJournal(run_id, "demo", action, private, extravars=extravars, catalogue=str(project["sites"]))
    envvars = dict(journal_run.env(), ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"), INDIGO_SITES=str(project["sites"]))
    lines = []

    def handle(event):
        if event.get("event") == "runner_on_failed":
            lines.append(journal_run.redact(str(event["event_data"]["res"].get("msg"))))
        return True

    runner = ansible_runner.run(private_data_dir=str(private), project_dir=str(project["dir"]), playbook="deploy.yml",
                                inventory=str(project["dir"] / "inventory"), extravars=extravars, envvars=envvars,
                                ident="run", quiet=True, event_handler=handle)
    scrubbed = journal_run.close(runner.rc, runner.status, runner.stats)
    print("\n".join(lines))  # progress lines as runner.py prints them: checked for markers below
    return run_id, runner, private, scrubbed


def test_runner_deploy_failed_redeploy_undeploy_journal_and_scrubbed_artifacts(project, capsys):
    with Journal(str(project["journal"])) as journal:
        journal.record_deployment("demo", "deploying", site="local", template="tosca: x\n", owner="alice", group="physics",
                                  inputs={"db_password": MARK_INPUT, "nodes": 2})
    first, runner1, private1, scrubbed1 = _runner_run(project, "deploy")
    second, runner2, private2, scrubbed2 = _runner_run(project, "deploy", fail=True)
    third, runner3, private3, scrubbed3 = _runner_run(project, "undeploy")
    assert (runner1.rc, runner2.rc, runner3.rc) == (0, 2, 0)

    with Journal(str(project["journal"])) as journal:
        store = journal.store
        runs = list_runs(store, "demo")
        assert [(r["run_id"], r["action"], r["status"], r["rc"], r["phases"]) for r in runs] == [
            (first, "deploy", "successful", 0, ["opened", "started", "finished", "closed"]),
            (second, "deploy", "failed", 2, ["opened", "started", "finished", "closed"]),
            (third, "undeploy", "successful", 0, ["opened", "started", "finished", "closed"])]
        assert [(d["status"], d["site"], d["owner"], d["group"]) for d in store.rows("deployments")] == [
            ("deploying", "local", "alice", "physics"), ("deployed", None, _current_user(), None),
            ("deploy-failed", None, _current_user(), None), ("undeployed", None, _current_user(), None)]
        assert store.rows("deployments")[0]["inputs"] == {"db_password": "********", "nodes": 2}
        # the runtime's closing record (ansible-runner's stats) gives the same per-host recap as the callback
        for run_id in (first, second, third):
            stats = {row["phase"]: row["stats"] for row in store.rows("runs", "run_id = ?", [run_id])}
            assert stats["closed"] == stats["finished"] == run_detail(store, run_id)["recap"]
        assert run_detail(store, first)["recap"] == {"localhost": {"ok": 3, "changed": 1, "failures": 0, "unreachable": 0,
                                                                   "skipped": 1, "rescued": 0, "ignored": 1}}
        assert run_detail(store, second)["recap"]["localhost"]["failures"] == 1
        failed = run_detail(store, second)["failed_tasks"]
        assert [(t["host"], t["task"], t["message"]) for t in failed] == [("localhost", "Create instances", "quota exceeded on local")]
        assert [(r["run_id"], r["change"], r["resource_id"]) for r in store.rows("resources")] == [
            (first, "created", "demo-id-0"), (first, "created", "demo-id-1"),
            (third, "deleted", "demo-id-0"), (third, "deleted", "demo-id-1")]
        detail = deployment_detail(store, "demo", str(project["home"]))
        assert detail["status"] == "undeployed" and detail["resources"] == [] and detail["site"] == "local"
        assert store.verify() == {"ok": True, "records": len(store.rows("runs")) + len(store.rows("host_events"))
                                  + len(store.rows("resources")) + len(store.rows("deployments")), "problems": []}
    for private, run_id in ((private1, first), (private2, second), (private3, third)):
        artifacts = private / "artifacts" / "run"
        with Journal(str(project["journal"])) as journal:
            assert run_detail(journal.store, run_id)["run"]["artifacts"] == str(artifacts)
        assert (artifacts / "stdout").is_file() and list((artifacts / "job_events").glob("*.json"))
    # the markers reached the artifacts (extravars, the leaky task's output) and none is left after scrubbing
    assert min(scrubbed1, scrubbed2, scrubbed3) >= 2
    assert _grep_markers([private1, private2, private3, project["journal"].parent, project["dir"]]) == []
    out = capsys.readouterr()
    assert "db ******** site ********" in out.out  # the leaky message, redacted as runner.py would print it
    assert not any(m in out.out + out.err for m in MARKERS)


def test_unwritable_journal_warns_and_never_breaks_the_playbook(project):
    not_a_file = project["tmp"] / "journal-is-a-dir"
    not_a_file.mkdir()
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED="indigo.paas.journal", INDIGO_JOURNAL=str(not_a_file))
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "inventory", "deploy.yml",
                           "-e", "db_password=y"],
                          cwd=project["dir"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "indigo.paas.journal disabled: journal %s" % not_a_file in " ".join((proc.stdout + proc.stderr).split())


# -- a compiled project: its own ansible.cfg enables the journal --------------------------------------

OPERATIONS_TEMPLATE = ROOT / "tests" / "fixtures" / "operations_template"


@pytest.fixture
def compiled(tmp_path, monkeypatch):
    """The fixture template compiled from a copy that is deleted afterwards: the project must carry its
    operation playbooks and file artifacts. Its Compute nodes have count 0 (the local site, in a private
    state dir, creates nothing); a static inventory stands localhost in for both Compute groups."""
    from tosca2ansible.compiler import compile_template

    user_dir = tmp_path / "user"
    shutil.copytree(OPERATIONS_TEMPLATE, user_dir)
    project_dir = tmp_path / "project"
    log = tmp_path / "steps.log"
    types = [TYPES_MAPPING] if CORPUS_PRESENT else []  # else the bundled type library
    compile_template(str(user_dir / "small.yaml"), str(project_dir), {"log_file": str(log), "vm_count": 0}, types)
    shutil.rmtree(user_dir)
    sites, _ = localhost_stand_in(tmp_path, ["vm_app", "vm_db"])
    for name in ("ANSIBLE_CALLBACKS_ENABLED", "ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH", "INDIGO_DEPLOYMENT",
                 "INDIGO_ACTION", "INDIGO_RUN_ID", "INDIGO_JOURNAL"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("INDIGO_HOME", str(home))
    monkeypatch.setenv("INDIGO_SITES", str(sites))
    monkeypatch.setenv("ANSIBLE_LOCAL_TEMP", str(tmp_path / "atmp"))
    monkeypatch.setenv("PATH", "%s:%s" % (VENV_BIN, os.environ.get("PATH", "")))
    return {"dir": project_dir, "log": log, "tmp": tmp_path, "journal": home / "journal.sqlite"}


# A compiled project's deploy.yml run by plain ansible-playbook, journaled by the callback from an installed
# collection: tests/integration/test_standalone_collection.py (the galaxy tarball, outside the checkout).


def test_journal_callback_without_the_framework_journals(compiled):
    """An AWX execution environment: the collection installed on its own (outside the framework's tree),
    tosca2ansible not importable by the controller, the compiled ansible.cfg enabling the callback: the
    callback needs nothing outside the collection and journals the run."""
    collections = compiled["tmp"] / "ee-collections"
    shutil.copytree(ROOT / "collections" / "ansible_collections" / "indigo" / "paas",
                    collections / "ansible_collections" / "indigo" / "paas",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (compiled["dir"] / "check.yml").write_text(
        "- name: Check\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Say hello\n      ansible.builtin.debug:\n        msg: hello from the EE\n")
    without_framework = ("import sys; sys.modules['tosca2ansible'] = None; sys.argv[0] = 'ansible-playbook'; "
                         "sys.path = [p for p in sys.path if not p.rstrip('/').endswith('collections')]; "
                         "from ansible.cli.playbook import main; main()")
    proc = subprocess.run([sys.executable, "-c", without_framework, "check.yml", "-i", str(compiled["tmp"] / "hosts.yml")],
                          cwd=compiled["dir"], env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections),
                                                        PYTHONPATH=""),
                          capture_output=True, text=True, timeout=120)
    output = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 0, output
    assert "hello from the EE" in output and "ok=1" in output
    assert "[WARNING]" not in output and "Traceback" not in output, output
    with Journal(str(compiled["journal"])) as journal:
        runs = list_runs(journal.store)
        assert [(r["action"], r["status"], r["rc"]) for r in runs] == [("check", "successful", 0)]
        assert [(e["task"], e["status"]) for e in journal.store.rows("host_events")] == [("Say hello", "ok")]
        assert journal.store.verify()["ok"]
