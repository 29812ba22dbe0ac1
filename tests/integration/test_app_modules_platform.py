"""indigo.paas.onedata_space and indigo.paas.helm_release through real ansible-playbook.

The services are small emulators served from a thread of the test process (the modules run in
ansible-playbook's own processes and talk real HTTP to them): a Onezone REST v3 subset and a Kubernetes
API server subset for Flux HelmRelease/HelmRepository custom objects, where a "helm operator" marks a
release installed shortly after it is created (or failed, for a chart named ``broken``). They are not
the real Onezone or kube-apiserver; the request shapes follow the public API references.
"""

import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "emulators", "marathon"))
from harness import run_tasks  # noqa: E402

pytestmark = pytest.mark.emulator


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, payload=None, headers=None, raw=None):
        body = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else b"")
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if raw is None else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def payload(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        srv = self.server
        with srv.lock:
            srv.requests.append((method, self.path))
            if srv.faults and srv.faults[0][0] == method:
                srv.faults.pop(0)
                return self.reply(503, {"error": "injected"})
            self.handle_api(method, self.payload())


class Onezone(JsonHandler):
    """GET/POST /api/v3/onezone/user/spaces, GET user/spaces/{id}, user/effective_providers/{id}, DELETE spaces/{id}."""

    def handle_api(self, method, body):
        srv = self.server
        if self.headers.get("X-Auth-Token") != "oz-token":
            return self.reply(401, {"error": {"id": "unauthorized", "description": "Invalid access token."}})
        path = self.path
        if path == "/api/v3/onezone/user/spaces" and method == "GET":
            return self.reply(200, {"spaces": sorted(srv.spaces)})
        if path == "/api/v3/onezone/user/spaces" and method == "POST":
            space_id = uuid.uuid4().hex
            srv.spaces[space_id] = {"spaceId": space_id, "name": body["name"], "providers": {}}
            return self.reply(201, None, {"Location": "/api/v3/onezone/spaces/" + space_id})
        match = re.match(r"^/api/v3/onezone/user/spaces/(\w+)$", path)
        if match and method == "GET":
            space = srv.spaces.get(match.group(1))
            return self.reply(200, space) if space else self.reply(404, {"error": {"id": "notFound"}})
        match = re.match(r"^/api/v3/onezone/user/effective_providers/(\w+)$", path)
        if match and method == "GET":
            return self.reply(200, srv.providers[match.group(1)])
        match = re.match(r"^/api/v3/onezone/spaces/(\w+)$", path)
        if match and method == "DELETE":
            srv.spaces.pop(match.group(1), None)
            return self.reply(204)
        return self.reply(404, {"error": {"id": "notFound"}})


KNOWN_APIS = {("helm.fluxcd.io", "v1", "helmreleases"), ("helm.toolkit.fluxcd.io", "v2", "helmreleases"),
              ("source.toolkit.fluxcd.io", "v1", "helmrepositories")}


class KubeApi(JsonHandler):
    """Namespaced custom objects, with generation/resourceVersion and a pretend helm operator."""

    def not_found(self, plural, name):
        return self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                "message": '%s "%s" not found' % (plural, name), "code": 404})

    def handle_api(self, method, body):
        srv = self.server
        if self.headers.get("Authorization") != "Bearer kube-token":
            return self.reply(401, {"kind": "Status", "status": "Failure", "reason": "Unauthorized", "code": 401,
                                    "message": "Unauthorized"})
        match = re.match(r"^/apis/([^/]+)/([^/]+)/namespaces/([^/]+)/([^/?]+)(?:/([^/?]+))?", self.path)
        if not match or match.group(1, 2, 4) not in KNOWN_APIS:
            return self.reply(404, raw=b"404 page not found\n")
        group, version, namespace, plural, name = match.groups()
        key = (group, version, namespace, plural, name or (body or {}).get("metadata", {}).get("name"))
        srv.settle()
        current = srv.objects.get(key)
        if method == "GET":
            return self.reply(200, current) if current else self.not_found(plural, key[-1])
        if method == "DELETE":
            if not current:
                return self.not_found(plural, key[-1])
            del srv.objects[key]
            return self.reply(200, {"kind": "Status", "status": "Success"})
        if method == "POST" and current:
            return self.reply(409, {"kind": "Status", "reason": "AlreadyExists", "code": 409, "message": "exists"})
        if method == "PUT":
            if not current:
                return self.not_found(plural, key[-1])
            if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                return self.reply(409, {"kind": "Status", "reason": "Conflict", "code": 409,
                                        "message": "the object has been modified"})
        srv.version += 1
        meta = dict(body["metadata"], resourceVersion=str(srv.version),
                    generation=(current or {"metadata": {"generation": 0}})["metadata"]["generation"] + 1,
                    uid=(current or {}).get("metadata", {}).get("uid") or str(uuid.uuid4()))
        obj = dict(body, metadata=meta, status=(current or {}).get("status", {}))
        srv.objects[key] = obj
        if plural == "helmreleases":
            srv.pending[key] = time.monotonic() + 0.5
        return self.reply(201 if method == "POST" else 200, obj)


class KubeServer(ThreadingHTTPServer):
    def settle(self):
        for key, due in list(self.pending.items()):
            if due > time.monotonic() or key not in self.objects:
                continue
            del self.pending[key]
            obj = self.objects[key]
            spec = obj["spec"]
            chart = spec["chart"].get("name") or spec["chart"].get("spec", {}).get("chart")
            ok = chart != "broken"
            gen = obj["metadata"]["generation"]
            if key[0] == "helm.fluxcd.io":
                obj["status"] = {"phase": "Succeeded" if ok else "Failed", "observedGeneration": gen,
                                 "releaseStatus": "deployed" if ok else "failed",
                                 "conditions": [{"type": "Released", "status": str(ok),
                                                 "message": "Helm release sync succeeded" if ok else "chart not found"}]}
            else:
                obj["status"] = {"observedGeneration": gen, "conditions": [
                    {"type": "Ready", "status": "True" if ok else "False",
                     "reason": "InstallSucceeded" if ok else "InstallFailed", "message": "chart not found"}]}


def serve(server_class, handler, **attrs):
    server = server_class(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.lock = threading.Lock()
    server.requests, server.faults = [], []
    for key, value in attrs.items():
        setattr(server, key, value)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def onezone():
    server = serve(ThreadingHTTPServer, Onezone, spaces={
        "s1": {"spaceId": "s1", "name": "input-data", "providers": {"p1": 10 ** 12, "p2": 5 * 10 ** 11}},
        "s2": {"spaceId": "s2", "name": "other", "providers": {"p2": 10 ** 9}}},
        providers={"p1": {"providerId": "p1", "name": "Site A", "domain": "op.site-a.example.org"},
                   "p2": {"providerId": "p2", "name": "Site B", "domain": "op.site-b.example.org"}})
    server.url = "http://127.0.0.1:%d" % server.server_address[1]
    yield server
    server.shutdown()


@pytest.fixture
def kube():
    server = serve(KubeServer, KubeApi, objects={}, pending={}, version=100)
    server.url = "http://127.0.0.1:%d" % server.server_address[1]
    yield server
    server.shutdown()


def test_onedata_space_resolve_create_delete(onezone, tmp_path):
    m = "indigo.paas.onedata_space"
    base = {"onezone": onezone.url, "token": "oz-token", "api_retries": 3}
    onezone.faults.append(("GET", None))
    results, proc = run_tasks(tmp_path, [
        {"module": m, "args": dict(base, space="input-data", oneproviders=["op.site-b.example.org"])},
        {"module": m, "args": dict(base, space="input-data")},
        {"module": m, "args": dict(base, space="input-data", oneproviders=["op.nowhere.example.org"])},
        {"module": m, "args": dict(base, space="missing")},
        {"module": m, "args": dict(base, space="scratch", create=True), "check_mode": True},
        {"module": m, "args": dict(base, space="scratch", create=True)},
        {"module": m, "args": dict(base, space="scratch", create=True)},
        {"module": m, "args": dict(base, space="scratch", state="absent")},
        {"module": m, "args": dict(base, space="scratch", state="absent")},
        {"module": m, "args": dict(base, space="input-data", token="bad-token")},
    ])
    preferred, default, unsupported, missing, check, created, again, deleted, gone, auth = results
    assert preferred["changed"] is False and preferred["space_id"] == "s1"
    assert preferred["selected_provider"] == "op.site-b.example.org" and len(preferred["retried"]) == 1
    assert {p["domain"] for p in preferred["providers"]} == {"op.site-a.example.org", "op.site-b.example.org"}
    assert default["selected_provider"] == "op.site-a.example.org"
    assert unsupported["failed"] and "none of the preferred" in unsupported["msg"]
    assert missing["failed"] and missing["error_class"] == "fatal" and "create=true" in missing["msg"]
    assert check["changed"] is True and created["changed"] is True and again["changed"] is False
    assert created["space_id"] == again["space_id"] and created["selected_provider"] is None
    assert deleted["changed"] is True and gone["changed"] is False
    assert auth["failed"] and auth["error_class"] == "auth"
    assert "oz-token" not in proc.stdout and "bad-token" not in proc.stdout
    assert sorted(s["name"] for s in onezone.spaces.values()) == ["input-data", "other"]
    assert sum(1 for method, path in onezone.requests if method == "POST") == 1, "check mode created nothing"


@pytest.mark.parametrize("api_version", ["helm.fluxcd.io/v1", "helm.toolkit.fluxcd.io/v2"])
def test_helm_release_lifecycle(kube, tmp_path, api_version):
    m = "indigo.paas.helm_release"
    base = {"host": kube.url, "api_key": "kube-token", "name": "demo-minio", "namespace": "apps",
            "chart": "minio", "repository": "https://charts.min.io/", "version": "5.2.0",
            "values": "mode: standalone\npersistence:\n  enabled: false\n", "api_version": api_version,
            "wait_timeout": 20}
    kube.faults.append(("GET", None))
    results, proc = run_tasks(tmp_path, [
        {"module": m, "args": base, "check_mode": True},
        {"module": m, "args": base, "diff": True},
        {"module": m, "args": base},
        {"module": m, "args": dict(base, values={"mode": "distributed"})},
        {"module": m, "args": dict(base, name="demo-broken", chart="broken")},
        {"module": m, "args": dict(base, api_key="wrong")},
        {"module": m, "args": {"host": kube.url, "api_key": "kube-token", "name": "demo-minio", "namespace": "apps",
                               "api_version": api_version, "state": "absent"}},
        {"module": m, "args": {"host": kube.url, "api_key": "kube-token", "name": "demo-minio", "namespace": "apps",
                               "api_version": api_version, "state": "absent"}},
    ])
    check, created, rerun, updated, broken, auth, deleted, gone = results
    assert check["changed"] is True and len(check["retried"]) == 1
    assert not created.get("failed"), created
    assert created["changed"] is True and created["status"]["state"] == "ready"
    assert created["release"]["spec"]["values"] == {"mode": "standalone", "persistence": {"enabled": False}}
    assert rerun["changed"] is False
    assert updated["changed"] is True and updated["release"]["metadata"]["generation"] == 2
    # values are no_log (charts take access and secret keys there): masked in results; replaced, not merged
    assert updated["release"]["spec"]["values"] == {"mode": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}
    assert "distributed" not in proc.stdout
    assert broken["failed"] and broken["error_class"] == "fatal" and "failed" in broken["msg"]
    assert auth["failed"] and auth["error_class"] == "auth"
    assert deleted["changed"] is True and gone["changed"] is False
    assert "kube-token" not in proc.stdout
    left = sorted(key[3:] for key in kube.objects)
    assert left == [("helmreleases", "demo-broken")] + (
        [("helmrepositories", "demo-broken-repo")] if api_version.endswith("v2") else [])
    if api_version.endswith("v2"):
        # the v2 release points at its HelmRepository source
        assert created["release"]["spec"]["chart"]["spec"]["sourceRef"] == {
            "kind": "HelmRepository", "name": "demo-minio-repo", "namespace": "apps"}


def test_helm_release_without_flux_is_a_clear_error(kube, tmp_path):
    results, _proc = run_tasks(tmp_path, [{"module": "indigo.paas.helm_release", "args": {
        "host": kube.url + "/no-such-prefix", "api_key": "kube-token",
        "name": "x", "chart": "minio", "repository": "https://charts.min.io/"}}])
    assert results[0]["failed"] and results[0]["error_class"] == "fatal"
    assert "is Flux installed" in results[0]["msg"]
