"""Issue 11's secrets test on a real local-site node: a marker for every kind of secret, and after deploy,
re-deploy, scale (two nodes to one), a SIGKILLed re-deploy and undeploy no marker is anywhere on the control machine
(compiled project and its AWX survey, journal with its WAL, all of $INDIGO_HOME, $TMPDIR, run artifacts,
indigo's stdout and stderr), and everything under $INDIGO_HOME is 0600/0700.

The kinds: an input TOSCA declares secret (`metadata: {secret: true}`, a name that says nothing), one input
for every secret word and infix of the one rule (module_utils/secrets.py), an input whose only secrecy is
its value (equal to a secret's), a site credential (the catalogue's local site names an environment
variable), and a `no_log` task of the node-side operation (it derives a value the template does not hold).
The operation also prints a secret input in a task without no_log: what a node prints is masked too.

The template imports `../common/types.yaml` from a --types-path folder: re-deploy and scale run from the
deployment's own copy after the user's folders are removed (issue 11, imports confined).

Only the deployment's `secret_inputs.json` (0600, the store that re-deploy and scale read back, removed by
undeploy) may hold the secret inputs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.fixtures.local_nodes import local_site, ssh_command  # noqa: F401
from tosca2ansible.collection import secrets_rule
from tests.helpers import ROOT

TAG = uuid.uuid4().hex[:6]
DECLARED = "Mk-declared-" + TAG
VALUE_ONLY_NAME = "greeting"  # secret only because its value is a secret's value
SITE_SECRET = "Mk-site-" + TAG
NO_LOG = "Mk-nolog-" + TAG  # the node derives it; the template holds it reversed
WORD_INPUTS = {}
for _index, _word in enumerate(sorted(secrets_rule().SECRET_WORDS)):
    WORD_INPUTS["x_%s" % _word] = "Mk-w%02d-%s" % (_index, TAG)
for _index, _name in enumerate(["dbpassword", "dbPasswd", "mysecretthing", "gitlabtoken", "awsCredential",
                                "myapikey", "wifipassphrase", "adminPass", "SSH-PassPhrase"]):
    WORD_INPUTS[_name] = "Mk-i%02d-%s" % (_index, TAG)
MARKERS = [DECLARED, SITE_SECRET, NO_LOG] + list(WORD_INPUTS.values())
PRINTED = WORD_INPUTS["x_password"]

TYPES = """\
tosca_definitions_version: tosca_simple_yaml_1_0
node_types:
  example.nodes.Recorder:
    derived_from: tosca.nodes.SoftwareComponent
    properties:
      label: {type: string, default: recorder}
"""
OPERATION = """\
- name: Handle secrets on the node
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Derive a value only the node knows
      ansible.builtin.command: rev
      args:
        stdin: %s
      register: derived
      changed_when: false
      no_log: true
    - name: Keep the inputs and the derived value on the node
      ansible.builtin.copy:
        dest: /root/secrets.json
        content: "{{ {'derived': derived.stdout, 'declared': colour, 'greeting': greeting, 'words': words} | to_json }}"
        mode: "0600"
      no_log: true
    - name: Print a secret input (a careless playbook)
      ansible.builtin.debug:
        msg: "the password is {{ words.x_password }}"
""" % NO_LOG[::-1]


def _template() -> dict:
    inputs = {"colour": {"type": "string", "metadata": {"secret": True}},
              VALUE_ONLY_NAME: {"type": "string", "default": "hello"},
              "vm_num": {"type": "integer", "default": 1}}
    inputs.update({name: {"type": "string"} for name in WORD_INPUTS})
    words = {name: {"get_input": name} for name in WORD_INPUTS}
    return {
        "tosca_definitions_version": "tosca_simple_yaml_1_0",
        "imports": [{"indigo_custom_types": "https://raw.githubusercontent.com/indigo-dc/tosca-types/master/"
                                            "custom_types.yaml"}, "../common/types.yaml"],
        "topology_template": {
            "inputs": inputs,
            "node_templates": {
                "app": {"type": "example.nodes.Recorder",
                        "interfaces": {"Standard": {"configure": {"implementation": "secrets.yml", "inputs": {
                            "colour": {"get_input": "colour"}, "greeting": {"get_input": VALUE_ONLY_NAME},
                            "words": words}}}},
                        "requirements": [{"host": "vm"}]},
                "vm": {"type": "tosca.nodes.indigo.Compute", "capabilities": {
                    "scalable": {"properties": {"count": {"get_input": "vm_num"}}},
                    "host": {"properties": {"num_cpus": 1, "mem_size": "512 MB"}},
                    "os": {"properties": {"type": "linux", "distribution": "debian", "version": "13"}}}}},
            "outputs": {"label": {"value": {"get_property": ["app", "label"]}}}}}


def _catalogue(path: Path) -> Path:
    """The embedded local site, with a credential reference (resolved from the environment by modules)."""
    doc = yaml.safe_load((ROOT / "tosca2ansible" / "sites" / "local.yml").read_text())
    doc["sites"][0]["credentials"] = {"env": {"password": "INDIGO_TEST_LOCAL_PASSWORD"}}
    path.write_text(yaml.safe_dump(doc))
    return path


def _marked(root: Path, exempt=()):
    """Files under ``root`` holding a marker (bytes, any encoding a marker keeps), with the marker."""
    found = []
    # os.walk, not rglob: after the SIGKILL the run's orphaned ansible-playbook may still be removing its
    # temporary dirs while we scan (rglob raised FileNotFoundError on a vanished ansiballz_cache)
    paths = (Path(top, name) for top, _dirs, files in os.walk(root) for name in files)
    for path in paths:
        if path.is_file() and not path.is_symlink() and path not in exempt:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            found.extend("%s: %s" % (path, marker) for marker in MARKERS if marker.encode() in data)
    return found


def _holding(root: Path, marker: str) -> bool:
    for path in root.rglob("*.json"):
        try:
            if marker.encode() in path.read_bytes():
                return True
        except OSError:  # written or renamed meanwhile
            continue
    return False


def _loose_modes(home: Path):
    loose = []
    for path in [home] + list(home.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        want = 0o700 if stat.S_ISDIR(mode) else 0o600
        if stat.S_IMODE(mode) & ~want & 0o777 or stat.S_IMODE(mode) & 0o077:
            loose.append("%s %o" % (path, stat.S_IMODE(mode)))
    return loose


class Phases:
    def __init__(self, tmp_path: Path, deployment: str):
        self.home, self.tmpdir = tmp_path / "home", tmp_path / "tmp"
        self.tmpdir.mkdir()
        self.deployment = deployment
        self.env = dict(os.environ, INDIGO_HOME=str(self.home), TMPDIR=str(self.tmpdir),
                        ANSIBLE_LOCAL_TEMP=str(self.tmpdir / "ansible-local"),
                        INDIGO_SITES=str(_catalogue(tmp_path / "sites.yml")),
                        INDIGO_TEST_LOCAL_PASSWORD=SITE_SECRET)
        self.outputs = []  # (phase, stdout + stderr)

    def argv(self, *args):
        return [sys.executable, "-c", "from tosca2ansible.cli import main; main()"] + [str(a) for a in args]

    def indigo(self, phase, *args, timeout=900):
        proc = subprocess.run(self.argv(*args), capture_output=True, text=True, cwd=str(ROOT), env=self.env,
                              timeout=timeout)
        self.outputs.append((phase, proc.stdout + proc.stderr))
        return proc

    def check(self, phase):
        """No marker anywhere on the control machine; modes 0600/0700 under $INDIGO_HOME."""
        store = self.home / "deployments" / self.deployment / "secret_inputs.json"
        leaks = _marked(self.home, exempt={store}) + _marked(self.tmpdir)
        leaks += ["%s output: %s" % (name, marker) for name, text in self.outputs for marker in MARKERS
                  if marker in text]
        assert not leaks, "after %s:\n%s" % (phase, "\n".join(leaks))
        assert not _loose_modes(self.home), "after %s: %s" % (phase, _loose_modes(self.home))
        if store.exists():
            assert stat.S_IMODE(store.stat().st_mode) == 0o600


@pytest.mark.slow
def test_no_secret_marker_anywhere_after_every_phase(local_site, tmp_path):
    user = tmp_path / "user"
    (user / "app").mkdir(parents=True)
    (user / "common").mkdir()
    (user / "common" / "types.yaml").write_text(TYPES)
    (user / "app" / "app.yaml").write_text(yaml.safe_dump(_template(), sort_keys=False))
    (user / "app" / "secrets.yml").write_text(OPERATION)
    deployment = "secrets" + TAG
    run = Phases(tmp_path, deployment)
    given = ["-i", "colour=%s" % DECLARED, "-i", "%s=%s" % (VALUE_ONLY_NAME, DECLARED), "-i", "vm_num=2"]
    for name, value in WORD_INPUTS.items():
        given += ["-i", "%s=%s" % (name, value)]
    started = time.monotonic()
    try:
        deployed = run.indigo("deploy", "deploy", user / "app" / "app.yaml", "--deployment", deployment, "--json",
                              "--site", "local", "--types-path", "common=%s" % (user / "common"), *given)
        assert deployed.returncode == 0, deployed.stderr[-4000:]
        run.check("deploy")
        nodes = local_site.nodes(indigo_deployment=deployment)
        assert len(nodes) == 2
        key = run.home / "deployments" / deployment / "ssh" / "id_ed25519"
        for node in nodes:
            seen = json.loads(subprocess.run(ssh_command(node.address, key, local_site.cfg.known_hosts_file,
                                                         "cat /root/secrets.json"),
                                             capture_output=True, text=True, timeout=60, check=True).stdout)
            assert seen == {"derived": NO_LOG, "declared": DECLARED, "greeting": DECLARED, "words": WORD_INPUTS}
        shutil.rmtree(user)  # re-deploy and scale run from the deployment's copy (imports included)

        redeployed = run.indigo("re-deploy", "deploy", "--deployment", deployment, "--json")
        assert redeployed.returncode == 0, redeployed.stderr[-4000:]
        run.check("re-deploy")

        # down to one node: a scale run with every secret, without paying for a third node's set-up
        scaled = run.indigo("scale", "scale", deployment, "--node", "vm", "--count", "1", "--json")
        assert scaled.returncode == 0, scaled.stderr[-4000:]
        assert len(local_site.nodes(indigo_deployment=deployment)) == 1
        run.check("scale")

        # a re-deploy SIGKILLed while its playbook runs (its secrets file is in the run's lease)
        proc = subprocess.Popen(run.argv("deploy", "--deployment", deployment), cwd=str(ROOT), env=run.env,
                                start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.time() + 300
            # killed once the operation has printed a secret into the run's artifacts (not yet scrubbed)
            while not list(run.home.glob("live/*/secrets.yml")) or not _holding(run.home / "runs", PRINTED):
                assert proc.poll() is None and time.time() < deadline, "the operation never ran"
                time.sleep(0.5)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            run.outputs.append(("killed re-deploy", proc.communicate(timeout=60)[0]))
        runs = run.indigo("runs", "runs", "--deployment", deployment, "--json")
        assert runs.returncode == 0, runs.stderr[-3000:]
        assert "interrupted" in runs.stdout
        assert not list(run.home.glob("live/*/secrets.yml"))
        run.check("SIGKILLed re-deploy")
    finally:
        undeployed = run.indigo("undeploy", "undeploy", deployment)
    assert undeployed.returncode == 0, undeployed.stderr[-3000:]
    assert local_site.nodes(indigo_deployment=deployment) == []
    run.check("undeploy")
    print("all phases: %.0f s" % (time.monotonic() - started))
