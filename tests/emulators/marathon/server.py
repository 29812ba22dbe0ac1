"""A Marathon (>= 1.5) REST emulator: /v2/apps, /v2/deployments with realistic state.

Run: ``python server.py --port 0`` prints ``LISTENING <port>`` then serves on 127.0.0.1.
A create/update/delete starts a deployment that finishes after ``--deploy-seconds``; until then the app
is locked (a PUT/DELETE without ``?force=true`` answers 409, as Marathon does) and its tasks are staged;
afterwards ``tasksRunning == instances`` and, when the app has health checks, ``tasksHealthy`` too
(except for an image whose name contains ``unhealthy``: its tasks never pass, the deployment stays open).
Fault injection: ``POST /_emulator/faults`` ``{"method": "PUT", "path_prefix": "/v2/apps", "status": 503,
"count": 1}``. State for assertions: ``GET /_emulator/state``. The process stops by itself after
``--max-lifetime`` seconds or when ``--parent-pid`` is gone.
"""

import json
import os
import re
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs, urlsplit

if __package__ in (None, ""):  # run as a script: the repository on the path for tests.emulators
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))

from tests.emulators import mesoshttp  # noqa: E402

APP_ID = re.compile(r"^(/[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


class State:
    def __init__(self, deploy_seconds):
        self.lock = threading.Lock()
        self.apps = {}
        self.deployments = {}
        self.faults = []
        self.requests = []
        self.deploy_seconds = deploy_seconds
        self.next_service_port = 10000

    def advance(self):
        now = time.monotonic()
        for dep_id, dep in list(self.deployments.items()):
            if now < dep["due"]:
                continue
            app_id = dep["affectedApps"][0]
            app = self.apps.get(app_id) or {}
            image = ((app.get("container") or {}).get("docker") or {}).get("image") or ""
            if dep["action"] != "delete" and "unhealthy" in image and app.get("healthChecks"):
                # tasks run but never pass their health check: Marathon keeps the deployment open
                app["tasksStaged"], app["tasksRunning"], app["tasksUnhealthy"] = 0, app["instances"], app["instances"]
                continue
            if dep["action"] == "delete":
                self.apps.pop(app_id, None)
            elif app_id in self.apps:
                app = self.apps[app_id]
                app["tasksStaged"] = 0
                app["tasksRunning"] = app["instances"]
                app["tasksHealthy"] = app["instances"] if app.get("healthChecks") else 0
            del self.deployments[dep_id]

    def start_deployment(self, app_id, action):
        dep_id = str(uuid.uuid4())
        self.deployments[dep_id] = {
            "id": dep_id, "affectedApps": [app_id], "action": action, "due": time.monotonic() + self.deploy_seconds,
            "version": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "currentStep": 1, "totalSteps": 1,
            "currentActions": [{"action": {"create": "StartApplication", "update": "RestartApplication",
                                           "delete": "StopApplication"}[action], "app": app_id}],
        }
        return dep_id

    def locking(self, app_id):
        return [d["id"] for d in self.deployments.values() if app_id in d["affectedApps"]]

    def public(self, app):
        copy = {k: v for k, v in app.items()}
        copy["deployments"] = [{"id": d} for d in self.locking(app["id"])]
        return copy


def validate(app):
    errors = []
    if not APP_ID.match(app.get("id") or ""):
        errors.append({"path": "/id", "errors": ["must fully match regular expression '^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])|(\\.|\\.\\.)$'"]})
    for key in ("cpus", "mem", "disk", "instances", "gpus"):
        if key in app and (not isinstance(app[key], (int, float)) or app[key] < 0):
            errors.append({"path": "/" + key, "errors": ["got %r, expected a number >= 0" % (app[key],)]})
    docker = (app.get("container") or {}).get("docker") or {}
    if not app.get("cmd") and not docker.get("image") and not app.get("args"):
        errors.append({"path": "/", "errors": ["AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."]})
    return errors


def normalize(state, app, previous=None):
    app = dict(app)
    app.setdefault("cmd", None)
    app.setdefault("cpus", 1.0)
    app.setdefault("mem", 128.0)
    app.setdefault("disk", 0.0)
    app.setdefault("gpus", 0)
    app.setdefault("instances", 1)
    for key, default in (("env", {}), ("labels", {}), ("constraints", []), ("fetch", []), ("healthChecks", [])):
        app.setdefault(key, default)
    app.setdefault("backoffSeconds", 1)
    app.setdefault("upgradeStrategy", {"minimumHealthCapacity": 1, "maximumOverCapacity": 1})
    old_ports = {}
    if previous:
        for mapping in (previous.get("container") or {}).get("portMappings") or []:
            old_ports[(mapping.get("containerPort"), mapping.get("protocol"))] = mapping.get("servicePort")
    for mapping in (app.get("container") or {}).get("portMappings") or []:
        mapping.setdefault("protocol", "tcp")
        mapping.setdefault("hostPort", 0)
        if not mapping.get("servicePort"):
            kept = old_ports.get((mapping.get("containerPort"), mapping.get("protocol")))
            if kept:
                mapping["servicePort"] = kept
            else:
                mapping["servicePort"] = state.next_service_port
                state.next_service_port += 1
        mapping.setdefault("labels", {})
    app["version"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    app["tasksStaged"] = app["instances"]
    app["tasksRunning"] = 0
    app["tasksHealthy"] = 0
    app["tasksUnhealthy"] = 0
    return app


class Handler(mesoshttp.Handler):
    server_version = "marathon-emulator/1.5"

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw.strip() else None


    def handle_any(self, method):
        state = self.server.state
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        try:
            payload = self.body()
        except ValueError:
            return self.send_json(400, {"message": "Invalid JSON"})
        with state.lock:
            if url.path.startswith("/_emulator/"):
                return self.emulator_api(method, url.path, payload)
            if self.injected_fault(state, method, url.path):
                return None
            if not self.authorized():
                return self.send_json(401, {"message": "Invalid username or password."},
                                      {"WWW-Authenticate": 'Basic realm="Mesosphere Marathon"'})
            state.advance()
            return self.marathon_api(state, method, url.path, query, payload)

    def emulator_api(self, method, path, payload):
        state = self.server.state
        if path == "/_emulator/faults" and method == "POST":
            state.faults.append(dict(payload))
            return self.send_json(200, {"faults": state.faults})
        if path == "/_emulator/state":
            state.advance()
            return self.send_json(200, {"apps": state.apps, "deployments": list(state.deployments.values()),
                                        "requests": state.requests})
        return self.send_json(404, {"message": "unknown emulator call"})

    def marathon_api(self, state, method, path, query, payload):
        force = query.get("force", ["false"])[0] == "true"
        if path == "/ping":
            return self.send_json(200, "pong")
        if path == "/v2/deployments" and method == "GET":
            return self.send_json(200, [{k: v for k, v in d.items() if k not in ("due", "action")}
                                        for d in state.deployments.values()])
        if path == "/v2/apps" and method == "GET":
            return self.send_json(200, {"apps": [state.public(a) for a in state.apps.values()]})
        if path == "/v2/apps" and method == "POST":
            errors = validate(payload or {})
            if errors:
                return self.send_json(422, {"message": "Object is not valid", "details": errors})
            if payload["id"] in state.apps:
                return self.send_json(409, {"message": "An app with id [%s] already exists." % payload["id"]})
            app = normalize(state, payload)
            state.apps[app["id"]] = app
            state.start_deployment(app["id"], "create")
            return self.send_json(201, state.public(app), {"Location": "/v2/apps" + app["id"]})
        if not path.startswith("/v2/apps/"):
            return self.send_json(404, {"message": "Unknown resource"})
        app_id = path[len("/v2/apps"):].rstrip("/")
        existing = state.apps.get(app_id)
        if method == "GET":
            if existing is None:
                return self.send_json(404, {"message": "App '%s' does not exist" % app_id})
            return self.send_json(200, {"app": state.public(existing)})
        locks = state.locking(app_id)
        if locks and not force and method in ("PUT", "DELETE"):
            return self.send_json(409, {"message": "App is locked by one or more deployments. Override with the "
                                                   "option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
                                        "deployments": [{"id": d} for d in locks]})
        if method == "PUT":
            payload = dict(payload or {}, id=app_id)
            errors = validate(payload)
            if errors:
                return self.send_json(422, {"message": "Object is not valid", "details": errors})
            for dep_id in locks:
                state.deployments.pop(dep_id, None)
            state.apps[app_id] = normalize(state, payload, existing)
            dep_id = state.start_deployment(app_id, "update" if existing else "create")
            return self.send_json(200, {"version": state.apps[app_id]["version"], "deploymentId": dep_id})
        if method == "DELETE":
            if existing is None:
                return self.send_json(404, {"message": "App '%s' does not exist" % app_id})
            for dep_id in locks:
                state.deployments.pop(dep_id, None)
            existing["instances"] = 0
            dep_id = state.start_deployment(app_id, "delete")
            return self.send_json(200, {"version": existing["version"], "deploymentId": dep_id})
        return self.send_json(405, {"message": "Method not allowed"})

def main(argv=None):
    return mesoshttp.main(Handler, State, __doc__.splitlines()[0], "--deploy-seconds", 0.5, argv)


if __name__ == "__main__":
    sys.exit(main())
