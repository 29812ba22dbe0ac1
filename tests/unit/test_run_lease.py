"""A run's secrets live only as long as its process; a SIGKILLed run is `interrupted`, its secrets gone
(its artifacts scrubbed by the next command that opens the journal), and everything under $INDIGO_HOME is
0600/0700."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tosca2ansible.runtime.journal.query import list_runs
from tosca2ansible.runtime.journal.store import JournalStore
from tests.helpers import ROOT

MARKER = "Kill3d-Secret-Marker-9f"

# A real run through run_playbook (ansible-runner, local connection) that sleeps with a secret vars file.
DRIVER = textwrap.dedent("""\
    import sys
    from pathlib import Path
    from tosca2ansible.cli import _private_files
    _private_files()
    from tosca2ansible.runtime.runner import run_playbook
    project = Path(sys.argv[1])
    run_playbook(project, "play.yml", deployment="d-killed", action="deploy", progress=lambda line: None,
                 inventory=[str(project / "hosts.yml")], secret_vars={"input_admin_pass": sys.argv[2]})
    """)
PLAY = textwrap.dedent("""\
    - name: Sleep holding a secret
      hosts: all
      gather_facts: false
      tasks:
        - name: Print the secret (a careless playbook; the artifacts hold it until the run is scrubbed)
          ansible.builtin.debug:
            msg: "{{ input_admin_pass }}"
        - name: Wait to be killed
          ansible.builtin.command: sleep 120
          changed_when: false
    """)


def _project(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "play.yml").write_text(PLAY)
    (project / "ansible.cfg").write_text("[defaults]\nhost_key_checking = False\n")
    (project / "hosts.yml").write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
                                       "      ansible_python_interpreter: %s\n" % sys.executable)
    return project


def _files_with(root: Path, needle: bytes):
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle in path.read_bytes():
                    found.append(str(path))
            except OSError:
                pass
    return found


def test_sigkilled_run_leaves_no_secret_and_is_interrupted(tmp_path):
    home, tmpdir = tmp_path / "home", tmp_path / "tmp"
    tmpdir.mkdir()
    env = dict(os.environ, INDIGO_HOME=str(home), TMPDIR=str(tmpdir), PYTHONPATH=str(ROOT),
               ANSIBLE_LOCAL_TEMP=str(tmpdir / "ansible"))
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(_project(tmp_path)), MARKER], env=env,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while not list(home.glob("live/*/secrets.yml")):
            assert proc.poll() is None and time.time() < deadline, proc.stdout.read() if proc.poll() else "timeout"
            time.sleep(0.2)
        while not _files_with(home / "runs", MARKER.encode()):  # the debug task's event, not yet scrubbed
            assert proc.poll() is None and time.time() < deadline, proc.stdout.read() if proc.poll() else "timeout"
            time.sleep(0.2)
        assert not _files_with(tmpdir, MARKER.encode()), "the secrets file is never in $TMPDIR"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    output = proc.stdout.read().decode(errors="replace")
    assert MARKER not in output
    # the next command that opens the journal: the run is interrupted and its secrets are gone
    indigo = str(Path(sys.executable).with_name("indigo"))
    shown = subprocess.run([indigo, "runs", "--deployment", "d-killed"], env=env, capture_output=True, text=True,
                           timeout=60, check=False)
    assert shown.returncode == 0 and "interrupted" in shown.stdout, shown.stdout + shown.stderr
    assert MARKER not in shown.stdout + shown.stderr
    store = JournalStore(str(home / "journal.sqlite"))
    runs = list_runs(store, "d-killed")
    store.close()
    assert [r["status"] for r in runs] == ["interrupted"]
    assert not list(home.glob("live/*")), "the dead run's lease (and secrets file) is swept"
    leaks = _files_with(home, MARKER.encode()) + _files_with(tmpdir, MARKER.encode())
    assert not leaks, leaks
    for path in [home, *home.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, "%s is %o" % (path, mode)


def test_a_live_run_is_not_swept(tmp_path):
    from tosca2ansible.runtime.journal import lease  # pylint: disable=import-outside-toplevel

    held = lease.RunLease(tmp_path, "20260101T000000-d-live-deploy-abc")
    held.write_private("secrets.yml", MARKER)
    assert lease.sweep_dead(tmp_path) == []
    assert (held.dir / "secrets.yml").read_text() == MARKER
    held.release()
    assert not held.dir.exists()
