"""Helpers for the EC2 tests: a fault-injecting HTTP proxy in front of moto_server and an
ansible-playbook runner. moto itself never answers InstanceLimitExceeded or throttles, so the proxy
returns real EC2 error documents for chosen API actions; botocore parses them like AWS's own."""

import http.client
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest
import yaml

from tests.helpers import ROOT, VENV_BIN

ERROR_XML = ('<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code>'
             '<Message>injected by the test proxy</Message></Error></Errors><RequestID>test</RequestID></Response>')


class FaultProxy:
    """``inject(action, code, status, times, skip)``: after ``skip`` good calls of ``action``, answer the
    next ``times`` calls (None = all) with error ``code``. ``latency`` delays every call."""

    def __init__(self, upstream):
        self.upstream = urllib.parse.urlparse(upstream)
        self.rules = {}
        self.calls = {}
        self.injected = 0
        self.latency = 0.0
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
                fault = proxy.decide(action)
                if proxy.latency:
                    time.sleep(proxy.latency)
                if fault:
                    data, status = (ERROR_XML % fault[0]).encode(), fault[1]
                else:
                    conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    conn.request("POST", self.path, body, headers)
                    reply = conn.getresponse()
                    data, status = reply.read(), reply.status
                    conn.close()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def inject(self, action, code, status=400, times=None, skip=0):
        with self.lock:
            self.rules[action] = {"code": code, "status": status, "times": times, "skip": skip}

    def clear(self):
        with self.lock:
            self.rules.clear()
            self.calls.clear()
            self.injected = 0
            self.latency = 0.0

    def decide(self, action):
        with self.lock:
            self.calls[action] = self.calls.get(action, 0) + 1
            rule = self.rules.get(action)
            if not rule:
                return None
            if rule["skip"] > 0:
                rule["skip"] -= 1
                return None
            if rule["times"] is not None:
                if rule["times"] <= 0:
                    return None
                rule["times"] -= 1
            self.injected += 1
            return rule["code"], rule["status"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def proxy_fixture(scope="function"):
    """The pytest fixture ``proxy``: moto_server behind a FaultProxy for one test (each injects its own
    faults) or, with ``scope="module"``, shared by a module's tests. Assign it: ``proxy = proxy_fixture()``."""

    @pytest.fixture(scope=scope, name="proxy")
    def _proxy(moto_server):
        proxy = FaultProxy(moto_server)
        yield proxy
        proxy.close()

    return _proxy


def instance_task(deployment, count, site, os_version="13", **extra):
    """An ``indigo.paas.instance`` task: ``count`` Debian ``os_version`` machines of node ``wn`` of
    ``deployment`` on ``site``, port 8080 open, not waited for; ``extra`` options added (or overriding)."""
    args = dict(deployment=deployment, node="wn", count=count, site=site, os_distribution="debian",
                os_version=os_version, wait=False, ports=[{"port": 8080}])
    args.update(extra)
    return {"indigo.paas.instance": args}


def teardown_tasks(deployment, site):
    """Tear ``deployment`` down on ``site``: in check mode, for real, then ``instance state=absent`` (which
    must find nothing left)."""
    return [
        {"indigo.paas.deployment_teardown": {"deployment": deployment, "site": site}, "check_mode": True},
        {"indigo.paas.deployment_teardown": {"deployment": deployment, "site": site}},
        {"indigo.paas.instance": {"deployment": deployment, "site": site, "state": "absent"}},
    ]


def write_catalogue(path, name, endpoint, region, image_id):
    site = {
        "name": name, "kind": "aws", "endpoint": endpoint, "region": region,
        "credentials": {"env": {"access_key": "AWS_ACCESS_KEY_ID", "secret_key": "AWS_SECRET_ACCESS_KEY"}},
        "images": [{"name": "debian-13", "distribution": "debian", "version": "13", "id": image_id}],
        "flavors": [{"name": "t3.micro", "num_cpus": 2, "mem_mb": 1024}, {"name": "t3.large", "num_cpus": 2, "mem_mb": 8192}],
    }
    with open(path, "w") as handle:
        yaml.safe_dump({"sites": [site]}, handle)
    return site


def run_playbook(tmp_path, tasks, env, check=False, name="play"):
    """Run ``tasks`` on localhost through ansible-playbook; every task registers ``r<N>`` and the
    results come back as a list of dicts (in task order)."""
    out = tmp_path / ("%s-results.json" % name)
    registered = []
    for number, task in enumerate(tasks):
        task = dict(task, register="r%d" % number, ignore_errors=True)
        registered.append(task)
    collect = "{{ [%s] | to_json }}" % ", ".join("r%d" % n for n in range(len(tasks)))
    registered.append({"name": "collect", "ansible.builtin.copy": {"content": collect, "dest": str(out)},
                       "check_mode": False, "delegate_to": "localhost"})
    playbook = [{"hosts": "localhost", "gather_facts": False, "connection": "local", "tasks": registered}]
    path = tmp_path / ("%s.yml" % name)
    path.write_text(yaml.safe_dump(playbook, sort_keys=False))
    run_env = dict(env, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="False",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", str(path)] + (["--check"] if check else [])
    proc = subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert out.exists(), "ansible-playbook did not finish:\n%s\n%s" % (proc.stdout[-4000:], proc.stderr[-4000:])
    return json.loads(out.read_text())
