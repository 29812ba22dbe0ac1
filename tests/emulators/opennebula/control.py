"""Start the OpenNebula emulator as a separate process and drive its test controls.

Used by pytest fixtures::

    with OpenNebulaEmulator() as emu:
        emu.endpoint          # http://127.0.0.1:<port>/RPC2
        emu.fault("http_503", count=2)
        emu.state()["vms"]
"""

import os
import ssl
import subprocess
import sys
import xmlrpc.client

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "server.py")


class OpenNebulaEmulator:
    def __init__(self, user="indigo", password="secret", token=None, step_delay=0.05, idle_timeout=120,
                 tls=None):
        """``tls``: (certificate, key) PEM paths to serve HTTPS."""
        self.user, self.password, self.token = user, password, token
        self.args = ["--user", user, "--password", password, "--step-delay", str(step_delay),
                     "--idle-timeout", str(idle_timeout)]
        if token:
            self.args += ["--token", token]
        self.tls = tls
        if tls:
            self.args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        self.process = None
        self.endpoint = None

    def start(self):
        self.process = subprocess.Popen([sys.executable, SERVER, "--port", "0"] + self.args,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError("OpenNebula emulator did not start: %s%s" % (line, self.process.stderr.read()))
        self.endpoint = "%s://127.0.0.1:%d/RPC2" % ("https" if self.tls else "http", int(line.split()[1]))
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def _control(self):
        context = ssl.create_default_context(cafile=self.tls[0]) if self.tls else None
        return xmlrpc.client.ServerProxy(self.endpoint, allow_none=True, context=context)

    def fault(self, kind, count=1, method="", value=0):
        return self._control.emulator.fault(kind, count, method, value)

    def reset_faults(self):
        return self._control.emulator.reset_faults()

    def configure(self, **options):
        return self._control.emulator.configure(options)

    def state(self):
        return self._control.emulator.state()

    def live_vms(self, deployment=None):
        vms = self.state()["vms"]
        if deployment:
            vms = [vm for vm in vms if vm["user_template"].get("INDIGO_DEPLOYMENT") == deployment]
        return vms
