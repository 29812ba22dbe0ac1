"""Data movement benchmark: the time from a Rucio replication rule's creation to its OK state, for N files
of 1 MB (default 100) between two real WebDAV servers on this machine.

The same set-up as tests/integration/test_rucio_real.py: a real Rucio server (rucio 41.5.1, SQLite), RSEs
ALPHA_DISK and BETA_DISK on two wsgidav servers, the files uploaded for real to ALPHA_DISK and registered,
then a rule to BETA_DISK moved by Rucio's own conveyor submitter, poller and finisher (sleep time 2 s)
through the FTS3 stand-in (tests/emulators/fts3: one worker thread copying with HTTP GET + PUT). Prints
the server's start time, the upload time and the rule's time to OK with its progress.
Run: .venv/bin/python bench/rucio_rule.py [N]
"""

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.indigo.paas.plugins.module_utils.data import rules  # noqa: E402
from tests.integration.test_rucio_real import Grid  # noqa: E402


def main(count):
    keep = os.environ.get("INDIGO_BENCH_DIR")  # keep the server's logs and database there to read them after
    with (tempfile.TemporaryDirectory() if not keep else contextlib.nullcontext(keep)) as tmp:
        started = time.monotonic()
        grid = Grid(Path(tmp))
        print("Rucio server up (venv ready): %.1f s (bootstrap or copy %.1f s)"
              % (time.monotonic() - started, grid.server.bootstrap_seconds))
        try:
            grid.jdoe.add_dataset("user.jdoe", "bench")
            started = time.monotonic()
            for index in range(count):
                grid.upload("ALPHA_DISK", "b%04d" % index, os.urandom(1 << 20), dataset="bench")
            print("%d files of 1 MB uploaded and registered: %.1f s" % (count, time.monotonic() - started))
            grid.server.start_daemons()
            started = time.monotonic()
            rule_id, _created = rules.ensure_rule(grid.jdoe, "user.jdoe:bench", "BETA_DISK")

            def note(p):
                print("  %6.1f s  %s" % (time.monotonic() - started, rules.summary(p)))

            done, last = rules.wait(grid.jdoe, rule_id, timeout=1800, interval=1, on_progress=note)
            print("rule creation to %s for %d x 1 MB: %.1f s" % (last["state"], count, time.monotonic() - started))
            print("FTS3 stand-in jobs: %d" % len(grid.fts.state.jobs))
            rules.delete(grid.jdoe, rule_id)
            return 0 if done else 1
        finally:
            grid.stop()


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
