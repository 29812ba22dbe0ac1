"""What the Mesos framework emulators (marathon, chronos) share: a JSON handler whose HTTP verbs all go to
its ``handle_any(method)``, HTTP Basic credentials, and the script's command line: a threaded server on
127.0.0.1 that prints ``LISTENING <port>`` and stops after ``--max-lifetime`` seconds or when the test
process (``--parent-pid``) is gone."""

import argparse
import base64
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    """Base handler: ``self.server.state`` is the emulator's state, ``self.server.credentials`` the
    (username, password) it requires (None: no authentication)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def send_json(self, status, payload=None, headers=None):
        body = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        creds = self.server.credentials
        if not creds:
            return True
        header = self.headers.get("Authorization") or ""
        try:
            return header.startswith("Basic ") and base64.b64decode(header[6:]).decode() == "%s:%s" % creds
        except ValueError:
            return False

    def injected_fault(self, state, method, path):
        """Record the request in ``state.requests``; answer it with the first injected fault
        (``state.faults``: method, path_prefix, status, count) that matches and has calls left. True when
        a fault answered."""
        state.requests.append([method, path])
        for fault in state.faults:
            if fault["count"] > 0 and fault.get("method", method) == method and path.startswith(fault.get("path_prefix", "/")):
                fault["count"] -= 1
                self.send_json(fault["status"], {"message": fault.get("message", "injected fault")})
                return True
        return False

    def handle_any(self, method):
        raise NotImplementedError

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")


def watchdog(server, max_lifetime, parent_pid):
    start = time.monotonic()
    while time.monotonic() - start < max_lifetime:
        if parent_pid and not os.path.exists("/proc/%d" % parent_pid):
            break
        time.sleep(0.5)
    server.shutdown()


def main(handler, make_state, description, delay_option, default_delay, argv=None):
    """Serve ``handler`` with ``make_state(delay)`` as its state; ``delay_option`` (``--deploy-seconds``,
    ``--run-seconds``) is how long the emulated work takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument(delay_option, dest="delay", type=float, default=default_delay)
    parser.add_argument("--max-lifetime", type=float, default=600)
    parser.add_argument("--parent-pid", type=int, default=0)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    server.state = make_state(args.delay)
    server.credentials = (args.username, args.password) if args.username else None
    threading.Thread(target=watchdog, args=(server, args.max_lifetime, args.parent_pid), daemon=True).start()
    print("LISTENING %d" % server.server_address[1], flush=True)
    server.serve_forever()
    return 0
