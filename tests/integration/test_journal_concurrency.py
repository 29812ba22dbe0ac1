"""Two deployments' playbooks run at once (each with forks) and write the same journal."""

import os
import subprocess
import sys

from tosca2ansible.runtime.journal.query import list_runs
from tosca2ansible.runtime.journal.store import JournalStore
from tests.helpers import ROOT, VENV_BIN

HOSTS = 3
TASKS = 3

PLAYBOOK = """
- name: Configure
  hosts: all
  gather_facts: false
  tasks:
""" + "".join("""
    - name: Step {0}
      ansible.builtin.command: "true"
      changed_when: {1}
""".format(i, "true" if i % 2 else "false") for i in range(TASKS))


def test_two_deployments_at_once_both_complete_and_chain_consistent(tmp_path):
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    inventory = "".join("node%d ansible_connection=local ansible_python_interpreter=%s\n" % (i, sys.executable)
                        for i in range(HOSTS))
    (tmp_path / "hosts").write_text(inventory)
    home = tmp_path / "home"
    procs = []
    for deployment in ("alpha", "beta"):
        env = dict(os.environ, INDIGO_HOME=str(home), INDIGO_DEPLOYMENT=deployment, INDIGO_ACTION="deploy",
                   INDIGO_RUN_ID="run-" + deployment, ANSIBLE_CALLBACKS_ENABLED="indigo.paas.journal",
                   ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"), ANSIBLE_FORKS=str(HOSTS),
                   ANSIBLE_LOCAL_TEMP=str(tmp_path / ("tmp-" + deployment)))
        procs.append(subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "-i", "hosts", "play.yml"], cwd=tmp_path,
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert not any("indigo.paas.journal" in out for out in outputs), outputs  # no warning: every write succeeded
    store = JournalStore(str(home / "journal.sqlite"))
    assert store.verify()["ok"]
    for deployment in ("alpha", "beta"):
        (run,) = list_runs(store, deployment)
        assert (run["run_id"], run["status"], run["rc"]) == ("run-" + deployment, "successful", 0)
        assert sorted(run["stats"]) == ["node%d" % i for i in range(HOSTS)]
        assert all(s["ok"] == TASKS and s["changed"] == TASKS // 2 for s in run["stats"].values())
        events = store.rows("host_events", "run_id = ?", ["run-" + deployment])
        assert sorted((e["host"], e["task"]) for e in events) == sorted(
            ("node%d" % h, "Step %d" % t) for h in range(HOSTS) for t in range(TASKS))
        assert [d["status"] for d in store.rows("deployments", "deployment = ?", [deployment])] == ["deployed"]
    store.close()
