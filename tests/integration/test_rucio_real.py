"""Against a REAL Rucio server (rucio 41.5.1 from PyPI, SQLite): two RSEs whose storage is two real WebDAV
servers (wsgidav), replicas registered after real uploads; `indigo rank` through the project's Rucio
location plugin; replication rules (module_utils/data/rules.py) moved by Rucio's own, unmodified conveyor
submitter, poller and finisher through the FTS3 stand-in (tests/emulators/fts3: the copy is a real HTTP
GET from one WebDAV server and PUT to the other); a failing source gives a per-file error.

slow: the server's venv, bootstrap and app import take 1-3 minutes on a loaded machine."""

import hashlib
import json
import os
import subprocess
import sys
import time
import zlib

import pytest
import requests
import yaml

from ansible_collections.indigo.paas.plugins.module_utils.data import rules
from tests.emulators.fts3.server import State as FtsState
from tests.emulators.fts3.server import start as start_fts
from tests.fixtures.rucio_server import RucioServer
from tests.fixtures.webdav import WebDav
from tests.integration.test_data_location import RUCIO_TEMPLATE, rank, rucio_services, site

pytestmark = [pytest.mark.slow, pytest.mark.extended]  # ~10 min with the server venv: over the CI budget
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV_BIN = os.path.join(REPO, ".venv", "bin")

DAV_USER, DAV_PASSWORD = "dav", "dav-secret"
FILES = {"f%d" % i: os.urandom(1024 * (i + 1)) for i in range(3)}


def adler32(data):
    return "%08x" % (zlib.adler32(data) & 0xFFFFFFFF)


class Grid:
    """The server, its two RSEs and the client of the user ``jdoe``."""

    def __init__(self, tmp, host="127.0.0.1", anonymous=False, jdoe_password="secret", jdoe_login="jdoe"):
        """``host``: where the storage listens and what its PFNs name (the local site's bridge, for nodes)."""
        for rse in ("ALPHA_DISK", "BETA_DISK"):
            (tmp / rse.lower()).mkdir(exist_ok=True)
        self.host = host
        self.jdoe_password, self.jdoe_login = jdoe_password, jdoe_login
        self.dav = {rse: WebDav(tmp / rse.lower(), DAV_USER, DAV_PASSWORD, host=host, anonymous=anonymous)
                    for rse in ("ALPHA_DISK", "BETA_DISK")}
        self.fts = start_fts(FtsState(auth=(DAV_USER, DAV_PASSWORD)))
        self.server = RucioServer(tmp / "rucio", fts_url=self.fts.url)
        try:
            self._register()
        except BaseException:
            self.stop()  # nothing left running when the set-up fails
            raise

    def _register(self):
        root = self.server.client()
        for rse, dav in self.dav.items():
            root.add_rse(rse)
            root.add_protocol(rse, {
                "scheme": "http", "hostname": self.host, "port": dav.port, "prefix": "/rucio/",
                "impl": "rucio.rse.protocols.webdav.Default",
                "domains": {"lan": {"read": 1, "write": 1, "delete": 1},
                            "wan": {"read": 1, "write": 1, "delete": 1, "third_party_copy_read": 1,
                                    "third_party_copy_write": 1}}})
            root.add_rse_attribute(rse, "fts", self.fts.url)
        root.add_distance("ALPHA_DISK", "BETA_DISK", {"distance": 1})
        root.add_distance("BETA_DISK", "ALPHA_DISK", {"distance": 1})
        root.add_account("jdoe", "USER", "jdoe@example.org")
        root.add_identity("jdoe", self.jdoe_login, "USERPASS", "jdoe@example.org", password=self.jdoe_password)
        root.add_scope("jdoe", "user.jdoe")
        for rse in self.dav:
            root.set_local_account_limit("jdoe", rse, 10 ** 12)
        # Rucio's generic permission policy lets only root or an account with the admin attribute delete a
        # rule: the orchestrator's Rucio account needs it (or a policy package letting owners delete theirs)
        root.add_account_attribute("jdoe", "admin", "True")
        self.root = root
        self.jdoe = self.server.client("jdoe", self.jdoe_login, self.jdoe_password)

    def upload(self, rse, name, data, dataset=None):
        """A real upload to the RSE's storage (PUT at the PFN Rucio computes), then the replica registered
        (by root: the generic policy lets only an admin add replicas)."""
        did = "user.jdoe:" + name
        pfn = self.root.lfns2pfns(rse, [did], operation="write", scheme="http")[did]
        parts = pfn.split("/")
        for depth in range(4, len(parts)):
            requests.request("MKCOL", "/".join(parts[:depth]) + "/", auth=(DAV_USER, DAV_PASSWORD), timeout=30)
        assert requests.put(pfn, data=data, auth=(DAV_USER, DAV_PASSWORD), timeout=30).status_code in (201, 204)
        self.retry(self.root.add_replicas, rse, [{"scope": "user.jdoe", "name": name, "bytes": len(data),
                                                  "adler32": adler32(data)}])
        if dataset:
            self.retry(self.root.attach_dids, "user.jdoe", dataset, [{"scope": "user.jdoe", "name": name}])
        return pfn

    @staticmethod
    def retry(call, *args):
        """SQLite is one writer at a time: with the daemons running, a write may meet 'database is locked'
        past the busy timeout (a DatabaseException); the test's own set-up writes are retried."""
        for attempt in range(5):
            try:
                return call(*args)
            except Exception as exc:  # pylint: disable=broad-except
                if exc.__class__.__name__ not in ("DatabaseException", "RucioException") or attempt == 4:
                    raise
                time.sleep(2)
        return None

    def stop(self):
        self.server.stop()
        self.fts.stop()
        for dav in self.dav.values():
            dav.stop()


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    made = Grid(tmp_path_factory.mktemp("rucio-grid"))
    try:
        made.jdoe.add_dataset("user.jdoe", "inputs")
        for name, data in FILES.items():
            made.upload("ALPHA_DISK", name, data, dataset="inputs")
        made.server.start_daemons()
        yield made
    finally:
        made.stop()


def test_the_real_server_locates_replicas_and_the_broker_ranks_their_site_first(tmp_path, grid):
    sites = [site("alpha", 2, rucio_rses=["ALPHA_DISK"]), site("beta", 1, rucio_rses=["BETA_DISK"])]
    by_site, order = rank(tmp_path, RUCIO_TEMPLATE, rucio_services(grid.server), sites,
                          {"T_RUCIO_USER": "jdoe", "T_RUCIO_PASSWORD": "secret"})
    assert order == ["alpha", "beta"], by_site  # beta is better by SLA: the data outweighs it
    total = sum(len(d) for d in FILES.values())
    assert by_site["alpha"]["criteria"]["data_locality"] == 1.0
    assert any(r.startswith("data: holds all of rucio user.jdoe:inputs") for r in by_site["alpha"]["reasons"])
    assert by_site["beta"]["criteria"]["data_locality"] == 0.0, (total, by_site["beta"])


def test_a_rule_is_moved_by_rucios_own_daemons_and_deleted(grid):
    started = time.monotonic()
    rule_id, created = rules.ensure_rule(grid.jdoe, "user.jdoe:inputs", "BETA_DISK", comment="indigo test")
    assert created
    assert rules.ensure_rule(grid.jdoe, "user.jdoe:inputs", "BETA_DISK") == (rule_id, False)  # get, not create
    seen = []
    done, last = rules.wait(grid.jdoe, rule_id, timeout=240, interval=1, on_progress=seen.append)
    assert done, (rules.summary(last), last["files"], grid.server.daemon_logs())
    assert seen[0]["state"] == "REPLICATING" and seen[-1]["state"] == "OK" and seen[-1]["ok"] == len(FILES)
    print("rule to OK for %d files: %.1f s" % (len(FILES), time.monotonic() - started))
    replicas = {r["name"]: r for r in grid.jdoe.list_replicas([{"scope": "user.jdoe", "name": "inputs"}])}
    for name, data in FILES.items():
        assert set(replicas[name]["rses"]) == {"ALPHA_DISK", "BETA_DISK"}
        got = requests.get(replicas[name]["rses"]["BETA_DISK"][0], auth=(DAV_USER, DAV_PASSWORD), timeout=30)
        assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(data).hexdigest()
    assert {j["job_state"] for j in grid.fts.state.jobs.values()} == {"FINISHED"}
    assert rules.delete(grid.jdoe, rule_id) is True
    assert rules.deleting(rules.find_rule(grid.jdoe, "user.jdoe:inputs", "BETA_DISK"))  # soft: expires in 1 h
    rules.delete(grid.jdoe, rule_id)  # already deleted: not an error
    assert rules.delete(grid.jdoe, "0" * 32) is False  # never known: not an error either


def test_a_failing_source_gives_a_per_file_error_and_the_wait_times_out(grid):
    grid.retry(grid.jdoe.add_dataset, "user.jdoe", "broken")
    pfn = grid.upload("ALPHA_DISK", "lost", b"this file will vanish from its storage", dataset="broken")
    assert requests.delete(pfn, auth=(DAV_USER, DAV_PASSWORD), timeout=30).status_code in (200, 204)
    rule_id, _created = rules.ensure_rule(grid.jdoe, "user.jdoe:broken", "BETA_DISK")
    try:
        deadline = time.monotonic() + 240
        while True:  # until the conveyor has tried and failed the transfer once
            done, last = rules.wait(grid.jdoe, rule_id, timeout=5, interval=1)
            errors = [f["error"] for f in last["files"] if f["error"]]
            if errors or time.monotonic() > deadline:
                break
        assert not done
        assert errors, (last, grid.server.daemon_logs())
        assert "404" in errors[0], errors
        assert last["files"][0]["did"] == "user.jdoe:lost" and last["files"][0]["rse"] == "BETA_DISK"
    finally:
        rules.delete(grid.jdoe, rule_id)
    assert rules.deleting(rules.find_rule(grid.jdoe, "user.jdoe:broken", "BETA_DISK"))


def play(tmp_path, grid, tasks):
    """indigo.paas.rucio_rule on localhost (the controller) against the real server."""
    (tmp_path / "secrets.yml").write_text(yaml.safe_dump({"rucio_password": "secret"}))
    args = {"endpoint": grid.server.url, "account": "jdoe", "username": "jdoe", "password": "{{ rucio_password }}"}
    for task in tasks:
        if "indigo.paas.rucio_rule" in task:
            task["indigo.paas.rucio_rule"] = dict(args, **task["indigo.paas.rucio_rule"])
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False,
                                                        "tasks": tasks}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    return subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=" + sys.executable, "-e", "@secrets.yml", "play.yml"],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=400)


def test_the_rucio_rule_module_waits_reports_and_deletes(tmp_path, grid):
    grid.retry(grid.jdoe.add_dataset, "user.jdoe", "moved")
    grid.upload("ALPHA_DISK", "m1", os.urandom(2048), dataset="moved")
    grid.retry(grid.jdoe.add_dataset, "user.jdoe", "gone")
    pfn = grid.upload("ALPHA_DISK", "g1", b"deleted from its storage before the copy", dataset="gone")
    requests.delete(pfn, auth=(DAV_USER, DAV_PASSWORD), timeout=30)
    ran = play(tmp_path, grid, [
        {"name": "move", "register": "moved", "indigo.paas.rucio_rule": {
            "did": "user.jdoe:moved", "rse_expression": "BETA_DISK", "timeout": 240, "poll_interval": 1}},
        {"name": "dump", "ansible.builtin.copy": {"content": "{{ moved | to_json }}",
                                                  "dest": str(tmp_path / "moved.json")}},
        {"name": "again", "register": "again", "indigo.paas.rucio_rule": {
            "did": "user.jdoe:moved", "rse_expression": "BETA_DISK", "timeout": 10}},
        {"name": "undeploy", "register": "removed", "indigo.paas.rucio_rule": {
            "state": "absent", "rule_id": "{{ moved.rule.id }}"}},
        {"name": "check", "ansible.builtin.assert": {"that": [
            "moved.created and moved.changed and moved.rule.state == 'OK'", "not again.changed",
            "removed.changed"]}},
        {"name": "stuck", "indigo.paas.rucio_rule": {
            "did": "user.jdoe:gone", "rse_expression": "BETA_DISK", "timeout": 90, "poll_interval": 2}},
    ])
    assert "secret" not in ran.stdout + ran.stderr
    moved = json.loads((tmp_path / "moved.json").read_text())
    assert moved["progress"][-1]["state"] == "OK", moved
    assert ran.returncode != 0 and "fatal: [localhost]: FAILED!" in ran.stdout, ran.stdout[-3000:]
    failure = ran.stdout[ran.stdout.index("FAILED!"):]
    assert "not OK within 90 s" in failure and "user.jdoe:g1 at BETA_DISK" in failure, failure[:2000]
    assert "404" in failure, failure[:2000]
    assert rules.deleting(rules.find_rule(grid.jdoe, "user.jdoe:moved", "BETA_DISK"))
    stuck = rules.find_rule(grid.jdoe, "user.jdoe:gone", "BETA_DISK")
    assert stuck and not rules.deleting(stuck) and rules.delete(grid.jdoe, stuck["id"])
