"""The audit journal of real runs on the local site (systemd-nspawn nodes), as a user makes them with `indigo`.

Two deployments start at once (one Compute node + an OS user each); then A is scaled 1 -> 2 -> 1,
re-deployed with a user name that makes a task fail on its node, and undeployed; B is undeployed.
Between the two, A's compiled project runs under plain ansible-playbook with the journal callback (as
under AWX). The journal is asserted record by record, every run has its artifacts, the hash chain holds and
`indigo runs verify` names an edited or removed record of it, and three
unique markers (a site credential from the environment, one from a credential file, a secret input)
are found nowhere: artifacts, journal files, stdout/stderr, the generated project, the deployment state.
The no_log channel is asserted in test_journal_playbook.py (no compiled role feeds a TOSCA value to a
no_log task without installing a whole LRMS).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from tests.fixtures.local_nodes import local_site  # noqa: F401
from tosca2ansible.runtime.journal.api import _current_user
from tests.helpers import ROOT, tosca

MARK_SITE_ENV = "MARKsiteenv" + uuid.uuid4().hex[:8]
MARK_SITE_FILE = "MARKsitefile" + uuid.uuid4().hex[:8]
MARK_INPUT = "MARKinput" + uuid.uuid4().hex[:8]
MARKERS = (MARK_SITE_ENV, MARK_SITE_FILE, MARK_INPUT)

TEMPLATE = tosca("""\
  inputs:
    user_name: {type: string, default: alice}
    db_password: {type: string}
  node_templates:
    node:
      type: tosca.nodes.indigo.Compute
      properties:
        os_users:
          - os_user_name: {get_input: user_name}
      capabilities:
        scalable: {properties: {count: 1, max_instances: 3}}
        host: {properties: {num_cpus: 1, mem_size: 512 MB}}
        os: {properties: {type: linux, distribution: debian, version: "13"}}
  outputs:
    node_ips: {value: {get_attribute: [node, private_address]}}
""")
FULL = ["opened", "started", "finished", "closed"]


class Indigo:
    """`indigo ...` in a subprocess with this test's INDIGO_HOME and catalogue; keeps every output."""

    def __init__(self, env):
        self.env = env
        self.outputs = []

    def start(self, *args):
        return subprocess.Popen([sys.executable, "-c", "from tosca2ansible.cli import main; main()"] + list(args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT), env=self.env)

    def finish(self, proc, timeout=600):
        out, err = proc.communicate(timeout=timeout)
        self.outputs.append(out + err)
        return proc.returncode, out, err

    def __call__(self, *args):
        return self.finish(self.start(*args))

    def json(self, *args):
        code, out, err = self(*args, "--json")
        assert code == 0, err[-3000:]
        return json.loads(out)


def _catalogue(tmp_path):
    """The local site, with credentials referenced from the environment and from a 0600 file."""
    site = yaml.safe_load((ROOT / "inventories" / "sites" / "local.yml").read_text())["sites"][0]
    cred_file = tmp_path / "local-credentials.yml"
    cred_file.write_text("password: %s\n" % MARK_SITE_FILE)
    cred_file.chmod(0o600)
    site["credentials"] = {"env": {"api_token": "INDIGO_TEST_SITE_TOKEN"}, "file": str(cred_file)}
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "local.yml").write_text(yaml.safe_dump({"sites": [site]}))
    return sites


def _tamper_and_verify(indigo, journal, failed_run, tmp_path):
    """Hide the failure of a real run in a copy of the journal; then remove a record from another copy."""
    for copy_name, statement in (("edited.sqlite", "UPDATE host_events SET status = 'ok', message = NULL WHERE seq = ?"),
                                 ("removed.sqlite", "DELETE FROM host_events WHERE seq = ?")):
        copy = tmp_path / copy_name
        with closing(sqlite3.connect(str(journal))) as source, closing(sqlite3.connect(str(copy))) as target:
            source.backup(target)
        with closing(sqlite3.connect(str(copy))) as conn:
            (seq,) = conn.execute("SELECT seq FROM host_events WHERE run_id = ? AND status = 'failed'", (failed_run,)).fetchone()
            conn.execute(statement, (seq,))
            conn.commit()
        code, out, _ = indigo("runs", "verify", "--journal", str(copy))
        assert code == 1 and "TAMPERED: first bad record #%d" % seq in out, out
        if copy_name == "edited.sqlite":
            assert "#%d (host_events): content edited" % seq in out
        else:
            assert "record(s) %d..%d removed" % (seq, seq) in out


def _grep(paths, skip=()):
    hits = []
    for base in paths:
        base = Path(base)
        for path in [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file()):
            if path.name in skip or any(part in skip for part in path.parts):
                continue
            data = path.read_bytes()
            hits.extend("%s in %s" % (m, path) for m in MARKERS if m.encode() in data)
    return hits


def _plain_ansible_playbook(home, deployment, env, tmp_path, site):
    state = home / "deployments" / deployment
    secrets = tmp_path / "secrets.yml"
    secrets.write_text("input_db_password: %s\n" % MARK_INPUT)
    secrets.chmod(0o600)
    key = state / "ssh" / "id_ed25519"
    known = "%s %s" % (state / "ssh" / "known_hosts", site.cfg.known_hosts_file)
    extra = {"indigo_site": "local", "indigo_catalogue": env["INDIGO_SITES"], "indigo_ssh_private_key_file": str(key),
             "ansible_ssh_private_key_file": str(key), "indigo_outputs_file": str(state / "outputs.json"),
             "indigo_ssh_public_key": key.with_suffix(".pub").read_text().strip()}
    plain_env = dict(env, ANSIBLE_CALLBACKS_ENABLED="indigo.paas.journal", INDIGO_DEPLOYMENT=deployment,
                     ANSIBLE_SSH_COMMON_ARGS="-o UserKnownHostsFile='%s'" % known,
                     PATH="%s:%s" % (Path(sys.executable).parent, env.get("PATH", "")))
    proc = subprocess.run(["ansible-playbook", "deploy.yml", "-e", json.dumps(extra), "-e", "@%s" % secrets],
                          cwd=str(state / "project"), env=plain_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "indigo.paas.journal" not in proc.stderr  # no warning: the callback wrote everything
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_journal_of_real_runs_record_by_record_and_no_secret_anywhere(local_site, tmp_path):
    home = tmp_path / "home"
    template = tmp_path / "tiny.yaml"
    template.write_text(TEMPLATE)
    env = dict(os.environ, INDIGO_HOME=str(home), INDIGO_SITES=str(_catalogue(tmp_path)),
               INDIGO_TEST_SITE_TOKEN=MARK_SITE_ENV)
    indigo = Indigo(env)
    a, b = "ja" + uuid.uuid4().hex[:6], "jb" + uuid.uuid4().hex[:6]
    timings = {}
    leaks = []
    try:
        # -- two deployments at once -----------------------------------------------------------------
        started = time.monotonic()
        procs = [indigo.start("deploy", str(template), "--deployment", d, "-i", "db_password=" + MARK_INPUT, "--json",
                              "--group", group) for d, group in ((a, "physics"), (b, "default"))]
        results = [indigo.finish(p) for p in procs]
        timings["two deploys"] = time.monotonic() - started
        for code, out, err in results:
            assert code == 0, err[-3000:]
        deployed = {json.loads(out)["deployment"]: json.loads(out) for _, out, _ in results}
        assert [len(deployed[d]["outputs"]["node_ips"]) for d in (a, b)] == [1, 1]
        # the generated projects and the deployments' state, secret inputs' own 0600 file and SSH key aside
        leaks += _grep([home / "deployments"], skip=("secret_inputs.json", "ssh"))

        started = time.monotonic()
        code, _, err = indigo("undeploy", b)
        assert code == 0, err[-3000:]

        # -- A's compiled project under plain ansible-playbook, as AWX would run it: journaled by the callback
        indigo.outputs.append(_plain_ansible_playbook(home, a, env, tmp_path, local_site))

        # -- A: scale up, look at it, scale down ----------------------------------------------------
        scaled = indigo.json("scale", a, "--node", "node", "--count", "2")
        assert (scaled["previous_count"], scaled["count"], len(scaled["outputs"]["node_ips"])) == (1, 2, 2)
        shown = indigo.json("show", a)
        assert shown["status"] == "deployed" and shown["site"] == "local"
        assert sorted(r["resource_id"] for r in shown["resources"]) == ["%s-node-0" % a, "%s-node-1" % a]
        assert sorted(shown["outputs"]["node_ips"]) == sorted(scaled["outputs"]["node_ips"])
        assert shown["inputs"] == {"db_password": "********"}
        assert indigo.json("scale", a, "--node", "node", "--count", "1")["outputs"]["node_ips"] == \
            deployed[a]["outputs"]["node_ips"]

        # -- A: a re-deploy that fails on the node, which stays as it was ------------------------------
        code, out, err = indigo("deploy", "--deployment", a, "-i", "user_name=Bad Name")
        assert code == 4 and "got Bad Name" in err, err[-3000:]
        assert "re-deploy of %s failed on its site local (configuration): host %s-node-0, task " % (a, a) in err
        assert "left in place" in err and "no site could take" not in err
        assert [n["name"] for n in indigo.json("status", a)["nodes"]] == ["%s-node-0" % a]

        code, _, err = indigo("undeploy", a)
        assert code == 0, err[-3000:]
        timings["b undeploy, a scale x2, fail, undeploy"] = time.monotonic() - started
    finally:
        for deployment in (a, b):
            if local_site.nodes(indigo_deployment=deployment):
                indigo("undeploy", deployment)
    assert local_site.nodes(indigo_deployment=a) == [] and local_site.nodes(indigo_deployment=b) == []

    # -- the journal, record by record -----------------------------------------------------------------
    runs = indigo.json("runs", "--deployment", a)
    assert [(r["action"], r["status"], r["rc"], r["phases"]) for r in runs] == [
        ("deploy", "successful", 0, FULL), ("deploy", "successful", 0, ["started", "finished"]),
        ("scale", "successful", 0, FULL), ("scale", "successful", 0, FULL),
        ("deploy", "failed", 2, FULL), ("undeploy", "successful", 0, FULL)]
    deploy_run, plain_run, up_run, down_run, failed_run, undeploy_run = [r["run_id"] for r in runs]
    plain = indigo.json("runs", "show", plain_run)
    assert plain["run"]["artifacts"] is None and sorted(plain["recap"]) == ["%s-node-0" % a, "localhost"]
    assert sum(c["changed"] for c in plain["recap"].values()) == 0  # it converged: nothing to change
    assert len(indigo.json("runs", "events", plain_run)) == len(indigo.json("runs", "events", deploy_run))
    details = {r: indigo.json("runs", "show", r) for r in (deploy_run, up_run, down_run, failed_run, undeploy_run)}
    node0, node1 = "%s-node-0" % a, "%s-node-1" % a
    hosts = {r: sorted(d["recap"]) for r, d in details.items()}
    assert hosts == {deploy_run: [node0, "localhost"], up_run: [node0, node1, "localhost"], down_run: [node0, "localhost"],
                     failed_run: [node0, "localhost"], undeploy_run: ["localhost"]}
    for run_id, detail in details.items():
        recap = detail["recap"]
        assert all(set(c) >= {"ok", "changed", "failures", "unreachable", "skipped"} for c in recap.values())
        assert sum(c["unreachable"] for c in recap.values()) == 0
        assert sum(c["failures"] for c in recap.values()) == (1 if run_id == failed_run else 0)
        artifacts = Path(detail["run"]["artifacts"])
        assert detail["run"]["artifacts_present"] and (artifacts / "stdout").is_file(), artifacts
        assert list((artifacts / "job_events").glob("*.json")), artifacts
        # events summarised per host agree with the recap, host by host
        events = indigo.json("runs", "events", run_id)
        for host, counts in recap.items():
            mine = [e for e in events if e["host"] == host]
            assert sum(e["status"] == "changed" for e in mine) == counts["changed"], (run_id, host)
            assert sum(e["status"] == "failed" for e in mine) == counts["failures"], (run_id, host)
    assert details[up_run]["recap"][node1]["changed"] >= 1  # the new node got its user
    assert details[down_run]["recap"][node0]["changed"] == 0  # the kept node had nothing to change
    (failed_task,) = details[failed_run]["failed_tasks"]
    assert failed_task["host"] == node0 and failed_task["task"].endswith("Check every user has a valid name")
    assert "got Bad Name" in failed_task["message"]

    assert [(d["run_id"], d["attempt"], d["site"], d["outcome"]) for r in runs if r["run_id"] in details
            for d in details[r["run_id"]]["attempts"]] == [
        (deploy_run, 1, "local", "ok"), (up_run, 1, "local", "ok"), (down_run, 1, "local", "ok"),
        (failed_run, 1, "local", "failed")]
    assert details[failed_run]["attempts"][0]["message"].count("cleaned") == 0  # nothing torn down

    shown = indigo.json("show", a)
    assert [(r["run_id"], r["change"], r["kind"], r["resource_id"], r["site"]) for r in shown["resource_history"]] == [
        (deploy_run, "created", "instance", node0, "local"), (up_run, "created", "instance", node1, "local"),
        (down_run, "deleted", "instance", node1, "local"), (undeploy_run, "deleted", "instance", node0, "local")]
    assert shown["resources"] == [] and shown["status"] == "undeployed" and shown["outputs"] is None
    history = [(h["status"], h["note"]) for h in shown["history"]]
    assert [s for s, _ in history] == [
        "deploying", "deployed", "deployed", "deployed", "scaling", "deployed", "deployed", "scaling", "deployed",
        "deployed", "deploying", "deploy-failed", "failed", "undeployed", "undeployed"]
    assert history[3][1] == "run %s (deploy)" % plain_run  # the callback's record of the plain run
    assert history[4][1] == "scale node: 1 -> 2" and history[7][1] == "scale node: 2 -> 1"
    first = shown["history"][0]
    digest = "sha256:" + hashlib.sha256(TEMPLATE.encode()).hexdigest()
    assert (first["site"], first["template_digest"], first["inputs"]) == ("local", digest, {"db_password": "********"})
    assert (shown["owner"], shown["group"]) == (_current_user(), "physics")
    callback_note = re.compile(r"^run \S+ \(\w+\)$")  # the callback's rows know no group; the runtime's all do
    assert {h["group"] for h in shown["history"] if not callback_note.match(h["note"] or "")} == {"physics"}
    assert shown["history"][4]["template_digest"] != digest  # the scaled template is another template

    runs_b = indigo.json("runs", "--deployment", b)
    assert [(r["action"], r["status"], r["phases"]) for r in runs_b] == [("deploy", "successful", FULL),
                                                                       ("undeploy", "successful", FULL)]
    events_b = indigo.json("runs", "events", runs_b[0]["run_id"])
    assert {e["host"] for e in events_b} == {"localhost", "%s-node-0" % b}  # nothing of A's concurrent run

    verify = indigo.json("runs", "verify")
    assert verify["ok"] and verify["problems"] == [] and verify["records"] == verify["head"]["seq"]
    _tamper_and_verify(indigo, home / "journal.sqlite", failed_run, tmp_path)

    # -- secrets: the site credential reached the run's environment and was masked there -------------
    command = json.loads((Path(details[deploy_run]["run"]["artifacts"]) / "command").read_text())
    assert command["env"]["INDIGO_TEST_SITE_TOKEN"] == "********"
    leaks += _grep([home])  # every run's artifacts, the journal and its WAL; deployments are gone
    leaks += ["%s in output %d" % (m, i) for i, out in enumerate(indigo.outputs) for m in MARKERS if m in out]
    assert leaks == []
    print("timings (s): " + ", ".join("%s %.1f" % kv for kv in timings.items()))
