#!/usr/bin/env python3
"""An OpenStack emulator speaking the REST wire protocol openstacksdk uses, for tests.

One process, state in memory. Keystone v3 lives at the root (auth_url ``http://HOST:PORT/v3``), the
services under ``/compute/v2.1``, ``/network/v2.0``, ``/image/v2`` and ``/volume/v3/<project>``;
the token catalog points back here. Control endpoints (no auth, never faulted):

* ``POST /_emulator/faults`` one rule or a list of rules, ``DELETE /_emulator/faults`` clears:
  ``{"kind": "error", "status": 503, "method": "POST", "path": "/servers$", "count": 2}``
  ``{"kind": "quota", "count": 1}`` (next server create gets Nova's real 403 quota body;
  ``"status": 413`` for the legacy OverLimit form), ``{"kind": "latency", "seconds": 1.0}``,
  ``{"kind": "server_error", "count": 1}`` (next created servers end in ERROR).
* ``GET /_emulator/state``: every resource, plus request counts per ``METHOD path-pattern``.
* ``POST /_emulator/config``: ``{"build_delay": s, "quotas": {"instances": n, ...}}``.

Run: ``server.py --port 0`` prints ``PORT <n>`` on its first stdout line. It exits when its parent
dies or after ``--idle-timeout`` seconds without a request, so a crashed test run leaks no process.
"""

import argparse
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import services  # noqa: E402  (sibling modules; this file runs as a script)
from wire import Reply, iso  # noqa: E402

USERS = {"demo": "secret"}
PROJECT = {"id": "p-demo", "name": "demo", "domain": {"id": "default", "name": "Default"}}
USER = {"id": "u-demo", "name": "demo", "domain": {"id": "default", "name": "Default"}}
APP_CREDENTIALS = {"ac-demo": {"secret": "ac-secret", "name": "indigo-ci"}}
OIDC_TOKENS = {"oidc-access-token"}  # bearer tokens the emulated IdP (egi/openid) accepts


def unauthorized(message="The request you have made requires authentication."):
    return Reply(401, {"error": {"code": 401, "title": "Unauthorized", "message": message}})


class Emulator:
    """Shared state: tokens, faults, config and the service resources (see services.py)."""

    def __init__(self, build_delay=1.0):
        self.lock = threading.RLock()
        self.build_delay = build_delay
        self.tokens = {}
        self.faults = []
        self.request_counts = {}
        self.last_request = time.monotonic()
        self.base_url = None
        self.cloud = services.CloudState(self)

    # -- faults -------------------------------------------------------------------------------
    def take_fault(self, method, path, kinds):
        with self.lock:
            for rule in self.faults:
                if rule["kind"] not in kinds or rule.get("count") == 0:
                    continue
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if rule.get("path") and not re.search(rule["path"], path):
                    continue
                if rule.get("count") is not None:
                    rule["count"] -= 1
                return dict(rule)
        return None

    # -- keystone -----------------------------------------------------------------------------
    def identity_versions(self):
        return {"versions": {"values": [self.identity_version()["version"]]}}

    def identity_version(self):
        return {"version": {
            "id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": self.base_url + "/v3/"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
        }}

    def catalog(self):
        base = self.base_url
        entries = [("identity", "keystone", base + "/v3"), ("compute", "nova", base + "/compute/v2.1"),
                   ("network", "neutron", base + "/network"), ("image", "glance", base + "/image"),
                   ("block-storage", "cinder", base + "/volume/v3/" + PROJECT["id"]),
                   ("volumev3", "cinderv3", base + "/volume/v3/" + PROJECT["id"])]
        return [{"type": kind, "name": name, "id": "svc-" + kind, "endpoints": [
            {"id": "ep-%s-%s" % (kind, iface), "interface": iface, "region": "RegionOne",
             "region_id": "RegionOne", "url": url} for iface in ("public", "internal")]}
            for kind, name, url in entries]

    def issue_token(self, methods, scoped):
        token_id = "tok-" + uuid.uuid4().hex
        now = time.time()
        body = {"token": {"methods": methods, "user": USER, "audit_ids": [uuid.uuid4().hex[:22]],
                          "issued_at": iso(now), "expires_at": iso(now + 3600)}}
        if scoped:
            body["token"].update({"project": PROJECT, "catalog": self.catalog(),
                                  "roles": [{"id": "r-member", "name": "member"}]})
        with self.lock:
            self.tokens[token_id] = scoped
        return Reply(201, body, {"X-Subject-Token": token_id})

    def authenticate(self, body):
        refused = unauthorized()
        identity = (body.get("auth") or {}).get("identity") or {}
        methods = identity.get("methods") or []
        scope = (body.get("auth") or {}).get("scope")
        if "password" in methods:
            user = (identity.get("password") or {}).get("user") or {}
            by_name = user.get("name") in USERS and USERS[user["name"]] == user.get("password")
            by_id = user.get("id") == USER["id"] and USERS[USER["name"]] == user.get("password")
            if not (by_name or by_id):
                raise refused
        elif "application_credential" in methods:
            cred = identity.get("application_credential") or {}
            known = APP_CREDENTIALS.get(cred.get("id")) or next(
                (c for c in APP_CREDENTIALS.values() if c["name"] == cred.get("name")), None)
            if not known or known["secret"] != cred.get("secret"):
                raise refused
            scope = {"project": PROJECT}  # application credentials are always project scoped
        elif "token" in methods:
            with self.lock:
                if (identity.get("token") or {}).get("id") not in self.tokens:
                    raise refused
        else:
            raise refused
        if scope:
            project = scope.get("project") or {}
            if project.get("id") not in (None, PROJECT["id"]) or project.get("name") not in (None, PROJECT["name"]):
                raise unauthorized("User has no access to project")
        return self.issue_token(methods, bool(scope))

    def federated_auth(self, headers):
        bearer = (headers.get("Authorization") or "").partition("Bearer ")[2].strip()
        if bearer not in OIDC_TOKENS:
            raise unauthorized()
        return self.issue_token(["openid"], False)

    def check_token(self, headers):
        with self.lock:
            if headers.get("X-Auth-Token") not in self.tokens:
                raise unauthorized()

    # -- control ------------------------------------------------------------------------------
    def control(self, method, path, body):
        if path == "/_emulator/faults" and method == "POST":
            rules = body if isinstance(body, list) else [body]
            for rule in rules:
                if rule.get("kind") not in ("error", "quota", "latency", "server_error"):
                    raise Reply(400, {"error": "unknown fault kind %r" % rule.get("kind")})
            with self.lock:
                self.faults.extend(rules)
            return Reply(200, {"faults": self.faults})
        if path == "/_emulator/faults" and method == "DELETE":
            with self.lock:
                self.faults = []
            return Reply(200, {"faults": []})
        if path == "/_emulator/state" and method == "GET":
            with self.lock:
                state = self.cloud.snapshot()
                state["request_counts"] = dict(self.request_counts)
                state["faults"] = list(self.faults)
            return Reply(200, state)
        if path == "/_emulator/config" and method == "POST":
            with self.lock:
                if "build_delay" in body:
                    self.build_delay = float(body["build_delay"])
                self.cloud.quotas.update(body.get("quotas") or {})
            return Reply(200, {"build_delay": self.build_delay, "quotas": self.cloud.quotas})
        raise Reply(404, {"error": "no control endpoint %s %s" % (method, path)})

    # -- dispatch -----------------------------------------------------------------------------
    def handle(self, method, raw_path, headers, body):
        url = urlsplit(raw_path)
        path = url.path.rstrip("/") or "/"
        query = parse_qsl(url.query, keep_blank_values=True)
        self.last_request = time.monotonic()
        if path.startswith("/_emulator/"):
            return self.control(method, path, body)
        key = "%s %s" % (method, re.sub(r"/[0-9a-f-]{32,36}", "/{id}", path))
        with self.lock:
            self.request_counts[key] = self.request_counts.get(key, 0) + 1
        latency = self.take_fault(method, path, ("latency",))
        if latency:
            time.sleep(float(latency.get("seconds", 0)))
        fault = self.take_fault(method, path, ("error",))
        if fault:
            status = int(fault.get("status", 503))
            raise Reply(status, {"error": {"code": status, "title": "Injected fault",
                                           "message": fault.get("message", "injected fault")}})
        if path in ("/", "/v3") and method == "GET":
            if path == "/":
                return Reply(300, self.identity_versions())
            return Reply(200, self.identity_version())
        if path == "/v3/auth/tokens" and method == "POST":
            return self.authenticate(body)
        match = re.fullmatch(r"/v3/OS-FEDERATION/identity_providers/[^/]+/protocols/[^/]+/auth", path)
        if match and method in ("GET", "POST"):
            return self.federated_auth(headers)
        discovery = self.cloud.discovery(path)
        if discovery is not None and method == "GET":
            return Reply(200, discovery)
        self.check_token(headers)
        return self.cloud.route(method, path, dict(query), query, body)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    emulator = None  # set in main()

    def log_message(self, *args):  # quiet: tests read the state endpoint instead
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        try:
            if body is None:
                raise Reply(400, {"badRequest": {"code": 400, "message": "Malformed request body"}})
            result = self.emulator.handle(self.command, self.path, self.headers, body)
        except Reply as exc:
            result = exc
        except Exception as exc:  # an emulator bug must show up as a 500, never hang the client
            result = Reply(500, {"error": {"code": 500, "message": "emulator error: %r" % exc}})
        payload = b"" if result.body is None else json.dumps(result.body).encode()
        self.send_response(result.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-openstack-request-id", "req-" + uuid.uuid4().hex)
        for name, value in result.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve


def watchdog(server, emulator, parent_pid, idle_timeout):
    """Stop when the parent is gone or nothing asked anything for ``idle_timeout`` seconds."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid or time.monotonic() - emulator.last_request > idle_timeout:
            server.shutdown()
            return


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--build-delay", type=float, default=1.0, help="seconds a server stays in BUILD")
    parser.add_argument("--idle-timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    emulator = Emulator(build_delay=args.build_delay)
    Handler.emulator = emulator
    ThreadingHTTPServer.request_queue_size = 256  # the default 5 refuses bursts of concurrent creates
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    emulator.base_url = "http://%s:%d" % (args.host, server.server_address[1])
    threading.Thread(target=watchdog, args=(server, emulator, os.getppid(), args.idle_timeout), daemon=True).start()
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
