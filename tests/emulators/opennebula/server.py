"""OpenNebula XML-RPC emulator: ``python server.py --port 0`` prints ``PORT <n>`` and serves
``http://127.0.0.1:<n>/RPC2`` (HTTPS with ``--tls-cert``/``--tls-key``) until its parent dies or it
has been idle for ``--idle-timeout`` s.

Answers follow oned's wire protocol: every ``one.*`` call takes the session string first and
returns ``[success, body_or_message, error_code]``. Test control methods live under
``emulator.*`` (no session): ``emulator.fault(kind, count, method, value)``, ``emulator.state()``,
``emulator.configure(options)`` (quota limits ``VMS``/``CPU``/``MEMORY`` and ``DEFAULT_*``, -2 unlimited,
-1 default; ``step_delay``), ``emulator.reset_faults()``.

Fault kinds: ``quota`` (next allocations refused with oned's quota message), ``http_503`` /
``http_500`` (HTTP error instead of an answer), ``reset`` (connection closed without an answer),
``drop_response`` (the call is executed, then the connection is closed: the client never learns
the result), ``internal`` (``[false, msg, INTERNAL]``), ``fail_boot`` (next VMs end in
BOOT_FAILURE), ``latency`` (seconds added to every ``one.*`` call; count ignored).
"""

import argparse
import os
import socketserver
import ssl
import sys
import threading
import time
import xmlrpc.client
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cloud as one  # noqa: E402  (path set above: the emulator runs as a script)

# one.<method> -> (Cloud method, does it create a VM (quota faults apply))
METHODS = {
    "one.system.version": ("api_system_version", False),
    "one.system.config": ("api_system_config", False),
    "one.user.info": ("api_user_info", False),
    "one.image.info": ("api_image_info", False),
    "one.imagepool.info": ("api_imagepool_info", False),
    "one.template.info": ("api_template_info", False),
    "one.templatepool.info": ("api_templatepool_info", False),
    "one.template.instantiate": ("api_template_instantiate", True),
    "one.vn.info": ("api_vn_info", False),
    "one.vnpool.info": ("api_vnpool_info", False),
    "one.secgroup.allocate": ("api_secgroup_allocate", False),
    "one.secgroup.info": ("api_secgroup_info", False),
    "one.secgroup.delete": ("api_secgroup_delete", False),
    "one.secgrouppool.info": ("api_secgrouppool_info", False),
    "one.vm.allocate": ("api_vm_allocate", True),
    "one.vm.info": ("api_vm_info", False),
    "one.vm.action": ("api_vm_action", False),
    "one.vm.update": ("api_vm_update", False),
    "one.vmpool.info": ("api_vmpool_info", False),
    "one.vmpool.infoextended": ("api_vmpool_info", False),
}
WIRE_FAULTS = ("http_500", "http_503", "reset", "drop_response")
CALL_FAULTS = ("quota", "internal")


class Emulator:
    def __init__(self, cloud):
        self.cloud = cloud
        self.lock = threading.Lock()
        self.faults = []  # [{"kind", "count", "method"}]
        self.latency = 0.0
        self.calls = {}
        self.last_request = time.monotonic()

    def take_fault(self, kinds, method):
        """Consume one pending fault of ``kinds`` that applies to ``method``."""
        with self.lock:
            for fault in self.faults:
                if fault["kind"] in kinds and fault["count"] > 0 and (not fault["method"] or fault["method"] == method):
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.faults.remove(fault)
                    return fault["kind"]
        return None

    def _dispatch(self, method, params):
        self.last_request = time.monotonic()
        if method.startswith("emulator."):
            return getattr(self, "control_" + method.split(".", 1)[1])(*params)
        with self.lock:
            self.calls[method] = self.calls.get(method, 0) + 1
        if self.latency:
            time.sleep(self.latency)
        if method not in METHODS:
            return [False, "[%s] Method not supported by the emulator" % method, one.XML_RPC_API]
        attr, allocates = METHODS[method]
        if not params:
            return [False, "[%s] Missing session" % method, one.XML_RPC_API]
        try:
            self.cloud.authenticate(params[0])
            fault = self.take_fault(CALL_FAULTS, method)
            if fault == "internal":
                raise one.OneError(one.INTERNAL, "Internal error, database busy. Retry later.")
            if fault == "quota" or (allocates and self.take_fault(("quota_alloc",), None)):
                raise self.cloud.quota_exceeded_error()
            return [True, getattr(self.cloud, attr)(*params[1:]), 0]
        except one.OneError as exc:
            return [False, "[%s] %s" % (method, exc.message), exc.code]
        except (TypeError, ValueError) as exc:
            return [False, "[%s] Bad parameters: %s" % (method, exc), one.XML_RPC_API]

    # -- control methods -------------------------------------------------------------------
    def control_fault(self, kind, count=1, method="", value=0):
        if kind == "latency":
            self.latency = float(value)
        elif kind == "fail_boot":
            with self.cloud.lock:
                self.cloud.fail_boot += int(count)
        elif kind in WIRE_FAULTS + CALL_FAULTS:
            if kind == "quota" and not method:
                kind = "quota_alloc"  # any allocation method
            with self.lock:
                self.faults.append({"kind": kind, "count": int(count), "method": method})
        else:
            raise ValueError("unknown fault kind %r" % kind)
        return True

    def control_reset_faults(self):
        with self.lock:
            self.faults, self.latency = [], 0.0
        self.cloud.fail_boot = 0
        return True

    def control_configure(self, options):
        with self.cloud.lock:
            for metric in ("VMS", "CPU", "MEMORY"):
                if metric in options:
                    self.cloud.quota[metric] = options[metric]
                if "DEFAULT_" + metric in options:
                    self.cloud.default_quota[metric] = options["DEFAULT_" + metric]
            if "step_delay" in options:
                self.cloud.step_delay = float(options["step_delay"])
        return True

    def control_state(self):
        state = self.cloud.dump()
        with self.lock:
            state["calls"] = dict(self.calls)
            state["faults"] = [dict(f) for f in self.faults]
        return state


class Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/RPC2", "/")

    def log_message(self, *args):  # quiet: tests read the state, not the log
        pass

    def do_POST(self):
        if not self.is_rpc_path_valid():
            self.report_404()
            return
        data = self.rfile.read(int(self.headers.get("content-length", 0)))
        emulator = self.server.emulator
        try:
            _, method = xmlrpc.client.loads(data)
        except Exception:  # malformed request: let the standard dispatcher answer the fault
            method = ""
        fault = None if method.startswith("emulator.") else emulator.take_fault(WIRE_FAULTS, method)
        if fault in ("http_500", "http_503"):
            self.send_response(int(fault[5:]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "reset":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        response = self.server._marshaled_dispatch(data, getattr(self, "_dispatch", None), self.path)
        if fault == "drop_response":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(response)))
        self.end_headers()
        self.wfile.write(response)


class Server(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True
    allow_reuse_address = True


def watchdog(emulator, parent_pid, idle_timeout, server):
    """Stop when the process that started us is gone, or nobody called for ``idle_timeout`` s."""
    while True:
        time.sleep(0.5)
        orphaned = os.getppid() != parent_pid
        idle = idle_timeout and time.monotonic() - emulator.last_request > idle_timeout
        if orphaned or idle:
            threading.Thread(target=server.shutdown, daemon=True).start()
            return


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="indigo")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--token", default=None)
    parser.add_argument("--step-delay", type=float, default=0.1, help="seconds per VM state transition")
    parser.add_argument("--idle-timeout", type=float, default=300.0)
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (and --tls-key)")
    parser.add_argument("--tls-key")
    args = parser.parse_args(argv)
    emulator = Emulator(one.Cloud(args.user, args.password, args.token, args.step_delay))
    server = Server(("127.0.0.1", args.port), requestHandler=Handler, logRequests=False, allow_none=True)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.emulator = emulator
    server.register_instance(emulator)
    threading.Thread(target=watchdog, args=(emulator, os.getppid(), args.idle_timeout, server), daemon=True).start()
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
