"""Test harness shared by the app-module tests: start an emulator process, run modules through
``ansible-playbook`` and read back every task's registered result."""

import json
import os
import subprocess
import sys
import time
import urllib.request

import yaml

from tests.helpers import ROOT, VENV_BIN



class Emulator:
    def __init__(self, script, *args):
        self.proc = subprocess.Popen(
            [sys.executable, script, "--port", "0", "--parent-pid", str(os.getpid()), "--max-lifetime", "600"] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            self.proc.kill()
            raise RuntimeError("emulator %s did not start: %s %s" % (script, line, self.proc.stderr.read()))
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def call(self, path, payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def state(self):
        return self.call("/_emulator/state")

    def inject(self, **fault):
        return self.call("/_emulator/faults", fault)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_tasks(tmp_path, tasks):
    """Run ``tasks`` (dicts: module, args, and optional check_mode/diff) in one play on localhost.

    Returns ``(results, completed_process)``: one registered result per task; a failing task does not stop
    the play (``ignore_errors``) so a test can assert on its ``error_class``.
    """
    play_tasks = []
    for index, task in enumerate(tasks):
        entry = {"name": "task %d" % index, task["module"]: task["args"], "register": "r%d" % index,
                 "ignore_errors": True}
        for key in ("check_mode", "diff"):
            if key in task:
                entry[key] = task[key]
        play_tasks.append(entry)
    out = tmp_path / "results.json"
    names = ", ".join("r%d" % i for i in range(len(tasks)))
    play_tasks.append({"name": "save results", "ansible.builtin.copy": {
        "content": "{{ [%s] | to_json }}" % names, "dest": str(out), "mode": "0600"}})
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": play_tasks}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               PATH=str(VENV_BIN) + os.pathsep + os.environ["PATH"])
    started = time.monotonic()
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(playbook)],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)
    proc.elapsed = time.monotonic() - started
    if not out.exists():
        raise AssertionError("playbook did not finish:\n%s\n%s" % (proc.stdout[-4000:], proc.stderr[-4000:]))
    return json.loads(out.read_text()), proc
