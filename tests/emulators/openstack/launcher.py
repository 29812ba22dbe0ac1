"""Start the OpenStack emulator as a child process and talk to its control endpoints (for fixtures)."""

import json
import os
import subprocess
import sys
import urllib.request

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "server.py")
# Credentials the emulator accepts (see server.py): not secrets, test fixtures.
PASSWORD_AUTH = {"username": "demo", "password": "secret", "project_name": "demo",
                 "user_domain_name": "Default", "project_domain_name": "Default"}
APP_CREDENTIAL_AUTH = {"application_credential_id": "ac-demo", "application_credential_secret": "ac-secret"}
OIDC_AUTH = {"access_token": "oidc-access-token", "identity_provider": "egi", "protocol": "openid",
             "project_name": "demo", "project_domain_name": "Default"}


class OpenStackEmulator:
    # the parent-death check stops a leaked emulator; the idle limit is a last resort, longer than any
    # real-cluster test that talks to it only at its start (test_attempts_sites: 300 s was hit under load)
    def __init__(self, build_delay=0.2, idle_timeout=3600.0):
        self.process = subprocess.Popen(
            [sys.executable, SERVER, "--port", "0", "--build-delay", str(build_delay),
             "--idle-timeout", str(idle_timeout)],
            stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError("OpenStack emulator did not start (said %r)" % line)
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d" % self.port
        self.auth_url = self.url + "/v3"

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def inject(self, *rules):
        return self._call("POST", "/_emulator/faults", list(rules))

    def clear_faults(self):
        return self._call("DELETE", "/_emulator/faults")

    def configure(self, **settings):
        return self._call("POST", "/_emulator/config", settings)

    def state(self):
        return self._call("GET", "/_emulator/state")

    def leftovers(self):
        """Every resource a test created and did not delete, by kind (empty dict = clean)."""
        state = self.state()
        kinds = ("servers", "keypairs", "networks", "subnets", "routers", "ports", "security_groups",
                 "floatingips", "volumes")
        return {kind: state[kind] for kind in kinds if state[kind]}

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
