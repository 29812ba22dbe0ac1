"""A run's lease: ``<home>/live/<run_id>/`` (0700) holding a lock for as long as the run's process lives,
and the run's secrets file.

The kernel releases an flock when its process dies, SIGKILL included. So the next command that opens the
journal can tell a run that is still going from one whose process died: it scrubs the dead run's
artifacts (a killed run never reached its own scrub; the lease keeps the values to mask), removes the
run's directory (its plaintext secrets with it) and records the run as ``interrupted`` instead of leaving
it ``running`` forever. Only the standard library and the journal's redactor are used (the journal
callback loads this module).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
from pathlib import Path
from typing import List

LIVE_DIR = "live"
LOCK_FILE = "lock"
# the run's private data dir and the secret values to mask in it should the run die before its own scrub
SCRUB_FILE = "scrub.json"
# a lease directory without its lock file is a process killed between mkdir and open: give it this long
_UNLOCKED_GRACE_S = 30


class RunLease:
    """Created when a run opens; ``release`` when it closes (a dead process releases it by dying)."""

    def __init__(self, home, run_id: str):
        live = Path(home) / LIVE_DIR
        live.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.dir = live / run_id
        self.dir.mkdir(mode=0o700)
        self._fd = os.open(str(self.dir / LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def write_private(self, name: str, text: str) -> Path:
        """A 0600 file in the lease directory (gone with the run, or at the next sweep if it died)."""
        path = self.dir / name
        handle = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        return path

    def keep_scrub(self, private_dir, secrets) -> None:
        """What the sweep masks in ``private_dir`` if this run's process dies before it scrubs it itself."""
        secrets = sorted(str(s) for s in secrets if s)
        if secrets:
            self.write_private(SCRUB_FILE, json.dumps({"dir": os.path.abspath(str(private_dir)), "secrets": secrets}))

    def release(self) -> None:
        if self._fd is None:
            return
        shutil.rmtree(self.dir, ignore_errors=True)
        os.close(self._fd)
        self._fd = None


def _is_dead(lease_dir: Path) -> bool:
    try:
        handle = os.open(str(lease_dir / LOCK_FILE), os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        try:
            return time.time() - lease_dir.stat().st_mtime > _UNLOCKED_GRACE_S
        except OSError:
            return False
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False  # held: the run's process is alive
        raise
    finally:
        os.close(handle)
    return True


def sweep_dead(home) -> List[str]:
    """Remove the lease directories of runs whose process died; returns their run ids."""
    live = Path(home) / LIVE_DIR
    try:
        entries = sorted(live.iterdir())
    except OSError:
        return []
    dead = []
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink() and _is_dead(entry):
            _scrub_dead(Path(home), entry)
            shutil.rmtree(entry, ignore_errors=True)
            dead.append(entry.name)
    return dead


def _scrub_dead(home: Path, lease_dir: Path) -> None:
    """Mask the dead run's secrets in its artifacts (only a run dir under ``home/runs``)."""
    try:
        with open(str(lease_dir / SCRUB_FILE), encoding="utf-8") as handle:
            scrub = json.load(handle)
        private_dir = os.path.realpath(scrub["dir"])
        secrets = [s for s in scrub["secrets"] if isinstance(s, str)]
    except (OSError, ValueError, KeyError, TypeError):
        return
    runs = os.path.realpath(str(home / "runs"))
    if os.path.commonpath([runs, private_dir]) == runs and private_dir != runs and os.path.isdir(private_dir):
        from ansible_collections.indigo.paas.plugins.plugin_utils.journal.redact import redact_tree  # pylint: disable=import-outside-toplevel

        redact_tree(private_dir, secrets)


def close_dead_runs(store) -> List[str]:
    """Sweep the dead leases beside ``store``'s journal; record each of their runs that never closed as
    ``interrupted`` (rc -1). Returns those run ids."""
    closed = []
    for run_id in sweep_dead(os.path.dirname(os.path.abspath(store.path))):
        rows = store.rows("runs", "run_id = ?", [run_id])
        if rows and not any(row["phase"] == "closed" for row in rows):
            store.append("runs", run_id=run_id, deployment=rows[0].get("deployment"), action=rows[0].get("action"),
                         phase="closed", rc=-1, status="interrupted", source="runtime",
                         artifacts=rows[0].get("artifacts"))
            closed.append(run_id)
    return closed
