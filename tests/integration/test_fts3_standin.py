"""The FTS3 stand-in copies between two real WebDAV servers (wsgidav): a job submitted, polled to
FINISHED, the destination holding the same bytes; a missing source and a wrong checksum give per-file
errors and a FAILED / FINISHEDDIRTY job."""

import os
import time
import zlib

import pytest
import requests

from tests.emulators.fts3.server import State, start
from tests.fixtures.webdav import WebDav

pytestmark = pytest.mark.emulator


def poll(url, job_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get("%s/jobs/%s" % (url, job_id), timeout=5).json()
        if job["job_state"] in ("FINISHED", "FAILED", "FINISHEDDIRTY", "CANCELED"):
            return job
        time.sleep(0.1)
    raise AssertionError("job %s not final in %s s" % (job_id, timeout))


def test_transfers_between_two_real_webdav_endpoints(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "rse").mkdir(parents=True)
    source, dest = WebDav(tmp_path / "a"), WebDav(tmp_path / "b")
    fts = start(State(auth=(source.user, source.password)))
    try:
        payload = os.urandom(100_000)
        (tmp_path / "a" / "f1").write_bytes(payload)
        good = "adler32:%08x" % (zlib.adler32(payload) & 0xFFFFFFFF)
        submitted = requests.post(fts.url + "/jobs", json={"files": [
            {"sources": [source.url + "/f1"], "destinations": [dest.url + "/rse/f1"], "checksum": good},
            {"sources": [source.url + "/missing"], "destinations": [dest.url + "/rse/missing"]},
            {"sources": [source.url + "/f1"], "destinations": [dest.url + "/rse/f1-bad"], "checksum": "adler32:00000001"},
        ]}, timeout=5).json()
        job = poll(fts.url, submitted["job_id"])
        assert job["job_state"] == "FINISHEDDIRTY"
        files = requests.get("%s/jobs/%s/files" % (fts.url, submitted["job_id"]), timeout=5).json()
        assert [f["file_state"] for f in files] == ["FINISHED", "FAILED", "FAILED"]
        assert files[1]["reason"] == "SOURCE [404] HTTP 404 on GET"
        assert files[2]["reason"].startswith("SOURCE CHECKSUM MISMATCH")
        assert (tmp_path / "b" / "rse" / "f1").read_bytes() == payload
        assert not (tmp_path / "b" / "rse" / "f1-bad").exists()
        assert requests.get(fts.url + "/whoami", timeout=5).json()["delegation_id"]
    finally:
        fts.stop()
        source.stop()
        dest.stop()
