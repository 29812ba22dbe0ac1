"""What the data-service emulators (onezone, dynafed, rucio, fts3) share: a threaded HTTP server on
127.0.0.1 started in the test process or as a script, faults injected through its state."""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Running:
    """A started emulator: ``url``, its ``state`` (the handler's view of the world) and ``stop()``."""

    def __init__(self, server):
        self.server = server
        self.state = server.state
        self.port = server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def start(handler, state, port=0):
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    server.state = state
    return Running(server)


class Handler(BaseHTTPRequestHandler):
    """Base handler: ``self.state`` is the server's state; faults: ``state.down`` answers 503 to
    everything, ``state.delay`` (seconds) sleeps before answering."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):  # quiet: tests read the state, not the log
        pass

    @property
    def state(self):
        return self.server.state

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def json_body(self):
        raw = self.body()
        return json.loads(raw) if raw else None

    def send(self, status, payload=b"", content_type="application/json", headers=None):
        if not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def faulted(self):
        self.state.requests.append((self.command, self.path))
        if getattr(self.state, "delay", 0):
            time.sleep(self.state.delay)
        if getattr(self.state, "down", False):
            self.body()  # read what was sent, so the client sees the answer, not a reset
            self.send(503, {"error": "service unavailable (injected)"})
            return True
        return False


def main(handler, state, description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    running = start(handler, state, args.port)
    print("LISTENING %d" % running.port, flush=True)
    running.thread.join()
