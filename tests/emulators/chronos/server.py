"""A Chronos (2.x/3.x) REST emulator: /v1/scheduler/* with jobs that really "run".

Run: ``python server.py --port 0`` prints ``LISTENING <port>`` then serves on 127.0.0.1.
A scheduled job runs when its start time has come (an empty start means "now", filled in on submission
as Chronos does) and ``--run-seconds`` have passed; each run consumes one repetition (``R1`` -> ``R0``).
A command containing ``exit 1`` fails: ``errorCount`` grows once per attempt (1 + ``retries``). A
dependent job runs after each success of all its parents. Fault injection, state and self-stop as in the
Marathon emulator (``/_emulator/faults``, ``/_emulator/state``, ``--max-lifetime``, ``--parent-pid``).
"""

import datetime
import json
import os
import re
import sys
import threading
import time
from urllib.parse import parse_qs, unquote, urlsplit

if __package__ in (None, ""):  # run as a script: the repository on the path for tests.emulators
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))

from tests.emulators import mesoshttp  # noqa: E402

SCHEDULE = re.compile(r"^R(\d*)/([^/]*)/(P[0-9YMWDTHS.]+)$")
NAME = re.compile(r"^[\w.-]+$")


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class State:
    def __init__(self, run_seconds):
        self.lock = threading.Lock()
        self.jobs = {}
        self.due = {}  # job name -> monotonic time of its next run
        self.faults = []
        self.requests = []
        self.run_seconds = run_seconds

    def run(self, job):
        failing = "exit 1" in job["command"]
        attempts = 1 + int(job.get("retries", 2)) if failing else 1
        if failing:
            job["errorCount"] += attempts
            job["lastError"] = now_iso()
        else:
            job["successCount"] += 1
            job["lastSuccess"] = now_iso()
            for child in self.jobs.values():
                if job["name"] in (child.get("parents") or []):
                    self.due[child["name"]] = time.monotonic() + self.run_seconds

    def advance(self):
        now = time.monotonic()
        for name, due in list(self.due.items()):
            if due > now or name not in self.jobs:
                continue
            del self.due[name]
            job = self.jobs[name]
            if job.get("disabled"):
                continue
            match = SCHEDULE.match(job.get("schedule") or "")
            if match:
                repeats = match.group(1)
                if repeats == "0":
                    continue
                if repeats:
                    job["schedule"] = "R%d/%s/%s" % (int(repeats) - 1, match.group(2), match.group(3))
            self.run(job)


class Handler(mesoshttp.Handler):
    server_version = "chronos-emulator/3.0"


    def handle_any(self, method):
        state = self.server.state
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            payload = json.loads(raw) if raw.strip() else None
        except ValueError:
            return self.send_json(400, {"message": "malformed JSON"})
        with state.lock:
            state.advance()
            if url.path == "/_emulator/faults" and method == "POST":
                state.faults.append(dict(payload))
                return self.send_json(200, {"faults": state.faults})
            if url.path == "/_emulator/state":
                return self.send_json(200, {"jobs": state.jobs, "requests": state.requests})
            if self.injected_fault(state, method, url.path):
                return None
            if not self.authorized():
                return self.send_json(401, {"message": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="Chronos"'})
            return self.chronos_api(state, method, url.path, parse_qs(url.query), payload)

    def chronos_api(self, state, method, path, query, payload):
        if path == "/v1/scheduler/jobs" and method == "GET":
            return self.send_json(200, list(state.jobs.values()))
        if path == "/v1/scheduler/jobs/search" and method == "GET":
            name = query.get("name", [""])[0]
            return self.send_json(200, [j for j in state.jobs.values() if name in j["name"]])
        if path in ("/v1/scheduler/iso8601", "/v1/scheduler/dependency") and method == "POST":
            return self.submit(state, path.endswith("dependency"), payload or {})
        if path.startswith("/v1/scheduler/job/"):
            name = unquote(path[len("/v1/scheduler/job/"):])
            if name not in state.jobs:
                return self.send_json(400, {"message": "Job '%s' not found" % name})
            if method == "DELETE":
                del state.jobs[name]
                state.due.pop(name, None)
                return self.send_json(204)
            if method == "PUT":
                state.due[name] = time.monotonic() + state.run_seconds
                return self.send_json(204)
        return self.send_json(404, {"message": "Not found"})

    def submit(self, state, dependent, job):
        if not NAME.match(job.get("name") or ""):
            return self.send_json(400, {"message": "the job name is invalid: %r" % job.get("name")})
        if not job.get("command"):
            return self.send_json(400, {"message": "command must not be empty"})
        job = dict(job)
        previous = state.jobs.get(job["name"], {})
        if dependent:
            missing = [p for p in job.get("parents") or [] if p not in state.jobs]
            if not job.get("parents") or missing:
                return self.send_json(400, {"message": "parent jobs not found: %s" % missing})
            job.pop("schedule", None)
        else:
            match = SCHEDULE.match(job.get("schedule") or "")
            if not match:
                return self.send_json(400, {"message": "Schedule format is invalid: %r" % job.get("schedule")})
            start = match.group(2) or now_iso()
            job["schedule"] = "R%s/%s/%s" % (match.group(1), start, match.group(3))
            delay = 0.0
            try:
                when = datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))
                delay = max(0.0, (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds())
            except ValueError:
                return self.send_json(400, {"message": "Schedule start is not a date: %r" % start})
            state.due[job["name"]] = time.monotonic() + delay + state.run_seconds
        for key in ("successCount", "errorCount"):
            job[key] = previous.get(key, 0)
        for key in ("lastSuccess", "lastError"):
            job[key] = previous.get(key, "")
        job.setdefault("shell", True)
        job.setdefault("retries", 2)
        job.setdefault("epsilon", "PT60S")
        job.setdefault("disabled", False)
        state.jobs[job["name"]] = job
        return self.send_json(204)

def main(argv=None):
    return mesoshttp.main(Handler, State, __doc__.splitlines()[0], "--run-seconds", 0.3, argv)


if __name__ == "__main__":
    sys.exit(main())
