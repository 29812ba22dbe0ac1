"""FTS3 REST stand-in: the calls a transfer client such as Rucio's conveyor makes, with the copy done for
real between the endpoints (HTTP GET from the source, PUT to the destination, checksum compared).

GET    /whoami                      -> {"user_dn", "delegation_id", ...}
POST   /jobs                        {"files": [{"sources": [..], "destinations": [..], "checksum": "adler32:..",
                                     "filesize": n, "metadata": ..}], "params": {..}} -> {"job_id"}
GET    /jobs/{id}[,{id}...]         -> job(s): {"job_id", "job_state", "reason", "http_status", ...}; with
                                     ?files=... (Rucio's poller) each job carries its "files" too
GET    /jobs/{id}/files             -> [{"file_id", "file_state", "reason", "source_surl", "dest_surl", ...}]
DELETE /jobs/{id}                   -> the job, CANCELED
Copies run in a worker thread, one file after the other, as FTS's url-copy would. Only http(s) URLs;
the destination's parent collections are made first (MKCOL), as gfal2 does.
Not emulated: X.509 delegation (the stand-in trusts the caller), multi-hop, staging from tape.
"""

import json
import os
import queue
import sys
import threading
import time
import uuid
import zlib

if __package__ in (None, ""):
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))

import requests  # noqa: E402

from tests.emulators import datahttp  # noqa: E402

FINAL = ("FINISHED", "FAILED", "FINISHEDDIRTY", "CANCELED")


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


def adler32(data):
    return "%08x" % (zlib.adler32(data) & 0xFFFFFFFF)


class State:
    def __init__(self, auth=None):
        self.jobs = {}
        self.requests = []
        self.down = False
        self.delay = 0.0
        self.auth = auth  # (user, password) for the storage endpoints
        self.work = queue.Queue()
        threading.Thread(target=self._worker, daemon=True).start()

    def _worker(self):
        while True:
            job_id = self.work.get()
            job = self.jobs[job_id]
            for entry in job["files"]:
                if job["job_state"] == "CANCELED":
                    break
                entry["file_state"] = "ACTIVE"
                entry["start_time"] = now()
                job["job_state"] = "ACTIVE"
                entry["reason"] = self._copy(entry)
                entry["file_state"] = "FAILED" if entry["reason"] else "FINISHED"
                entry["finish_time"] = now()
            if job["job_state"] != "CANCELED":
                failed = sum(1 for f in job["files"] if f["file_state"] == "FAILED")
                job["job_state"] = ("FINISHED" if not failed else
                                    "FAILED" if failed == len(job["files"]) else "FINISHEDDIRTY")
                job["reason"] = next((f["reason"] for f in job["files"] if f["reason"]), "")

    def _copy(self, entry):
        try:
            got = requests.get(entry["source_surl"], auth=self.auth, timeout=60)
            if got.status_code != 200:
                return "SOURCE [%d] HTTP %d on GET" % (got.status_code, got.status_code)
            wanted = (entry.get("checksum") or "").partition(":")
            if wanted[0].lower() == "adler32" and wanted[2] and adler32(got.content) != wanted[2].lower().zfill(8):
                return "SOURCE CHECKSUM MISMATCH: %s != %s" % (adler32(got.content), wanted[2])
            self._parents(entry["dest_surl"])
            put = requests.put(entry["dest_surl"], data=got.content, auth=self.auth, timeout=60)
            if put.status_code not in (200, 201, 204):
                return "DESTINATION [%d] HTTP %d on PUT" % (put.status_code, put.status_code)
            entry["filesize"] = len(got.content)
            return ""
        except requests.RequestException as exc:
            return "TRANSFER %s" % exc.__class__.__name__


    def _parents(self, url):
        """MKCOL the destination's parent collections, as gfal2 does for an HTTP/WebDAV destination."""
        head, _sep, path = url.partition("://")
        host, _sep, path = path.partition("/")
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            requests.request("MKCOL", "%s://%s/%s/" % (head, host, "/".join(parts[:depth])), auth=self.auth,
                             timeout=30)  # 405 where it exists: fine


class Handler(datahttp.Handler):
    def do_GET(self):
        if self.faulted():
            return
        path = self.path.split("?")[0].rstrip("/")
        if path == "/whoami":
            self.send(200, {"user_dn": "/CN=indigo-test", "delegation_id": "stand-in", "vos": ["indigo"],
                            "method": "certificate"})
            return
        parts = path.split("/")
        if len(parts) >= 3 and parts[1] == "jobs":
            ids = parts[2].split(",")
            jobs = [self.state.jobs.get(i) for i in ids]
            if None in jobs:
                self.send(404, {"status": "404 Not Found", "message": "No job with the id %s" % parts[2]})
                return
            if len(parts) == 4 and parts[3] == "files":
                self.send(200, [{k: v for k, v in f.items()} for f in jobs[0]["files"]])
                return
            with_files = "files=" in self.path.partition("?")[2]  # Rucio's poller: ?files=file_state,...
            public = [dict({k: v for k, v in j.items() if with_files or k != "files"}, http_status="200 Ok")
                      for j in jobs]
            self.send(200, public[0] if len(public) == 1 else public)
            return
        self.send(404, {"message": "no such path"})

    def do_POST(self):
        if self.faulted():
            return
        if self.path.split("?")[0].rstrip("/") != "/jobs":
            self.body()
            self.send(404, {"message": "no such path"})
            return
        try:
            submitted = json.loads(self.body() or b"{}")
        except ValueError:
            self.send(400, {"message": "Badly formatted JSON request"})
            return
        job_id = str(uuid.uuid4())
        files = []
        for index, item in enumerate(submitted.get("files") or []):
            if not item.get("sources") or not item.get("destinations"):
                self.send(400, {"message": "Each file needs sources and destinations"})
                return
            files.append({"file_id": index + 1, "file_state": "SUBMITTED", "reason": "",
                          "source_surl": item["sources"][0], "dest_surl": item["destinations"][0],
                          "checksum": item.get("checksum"), "filesize": item.get("filesize"),
                          "file_metadata": item.get("metadata"), "start_time": None, "finish_time": None,
                          "staging_start": None, "staging_finished": None})
        if not files:
            self.send(400, {"message": "No transfers or namespace operations specified"})
            return
        self.state.jobs[job_id] = {"job_id": job_id, "job_state": "SUBMITTED", "reason": "", "files": files,
                                   "job_metadata": (submitted.get("params") or {}).get("job_metadata") or {}}
        self.state.work.put(job_id)
        self.send(200, {"job_id": job_id})

    def do_DELETE(self):
        if self.faulted():
            return
        parts = self.path.split("?")[0].rstrip("/").split("/")
        job = self.state.jobs.get(parts[2]) if len(parts) == 3 and parts[1] == "jobs" else None
        if job is None:
            self.send(404, {"message": "no such job"})
            return
        if job["job_state"] not in FINAL:
            job["job_state"] = "CANCELED"
            for entry in job["files"]:
                if entry["file_state"] not in FINAL:
                    entry["file_state"] = "CANCELED"
        self.send(200, {k: v for k, v in job.items() if k != "files"})


def start(state=None, port=0):
    return datahttp.start(Handler, state or State(), port)


if __name__ == "__main__":
    datahttp.main(Handler, State(), __doc__.splitlines()[0])
