"""Rucio REST emulator ("recorded Rucio"): the calls the Rucio location plugin makes through the
unmodified ``rucio-clients``, with the wire format of the real server.

GET  /auth/userpass   X-Rucio-Account, X-Rucio-Username, X-Rucio-Password -> 200, X-Rucio-Auth-Token
POST /replicas/list   {"dids": [{scope, name}], ...} -> application/x-json-stream, one file per line:
                      {scope, name, bytes, adler32, md5, rses: {rse: [pfn]}, pfns: {...}, states: {...}}
Errors as the server gives them: ExceptionClass / ExceptionMessage headers and JSON body.
"""

import json
import os
import secrets
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))

from tests.emulators import datahttp  # noqa: E402


class State:
    def __init__(self, account="jdoe", username="jdoe", password="secret"):
        self.account, self.username, self.password = account, username, password
        self.tokens = set()
        self.dids = {}  # "scope:name" -> list of file DIDs ("scope:name") (a dataset), or None (a file)
        self.files = {}  # "scope:name" -> {"bytes", "adler32", "rses": {rse: pfn}}
        self.requests = []
        self.down = False
        self.delay = 0.0

    def add_file(self, did, size, rses, adler32="00000001"):
        scope, name = did.split(":", 1)
        self.files[did] = {"bytes": size, "adler32": adler32,
                           "rses": {rse: "https://%s.example/%s/%s" % (rse.lower(), scope, name) for rse in rses}}
        self.dids.setdefault(did, None)

    def add_dataset(self, did, files):
        self.dids[did] = list(files)


class Handler(datahttp.Handler):
    def error(self, status, cls, message):
        self.send(status, {"ExceptionClass": cls, "ExceptionMessage": message},
                  headers={"ExceptionClass": cls, "ExceptionMessage": message})

    def authorised(self):
        if self.headers.get("X-Rucio-Auth-Token") in self.state.tokens:
            return True
        self.error(401, "CannotAuthenticate", "Cannot authenticate with given credentials")
        return False

    def do_GET(self):
        if self.faulted():
            return
        if self.path.split("?")[0].rstrip("/") == "/auth/userpass":
            state = self.state
            if (self.headers.get("X-Rucio-Account") == state.account and self.headers.get("X-Rucio-Username") == state.username
                    and self.headers.get("X-Rucio-Password") == state.password):
                token = "%s-emulated-%s" % (state.account, secrets.token_hex(8))
                state.tokens.add(token)
                self.send(200, b"", "application/octet-stream",
                          {"X-Rucio-Auth-Token": token, "X-Rucio-Auth-Token-Expires": "Wed, 31 Dec 2999 00:00:00 UTC"})
            else:
                self.error(401, "CannotAuthenticate", "Cannot authenticate to account %s with given credentials"
                           % self.headers.get("X-Rucio-Account"))
            return
        self.error(404, "MethodNotAllowed", "emulated: %s" % self.path)

    def do_POST(self):
        if self.faulted() or not self.authorised():
            return
        if self.path.split("?")[0].rstrip("/") != "/replicas/list":
            self.body()
            self.error(404, "MethodNotAllowed", "emulated: %s" % self.path)
            return
        request = self.json_body() or {}
        lines = []
        for did in request.get("dids") or []:
            key = "%s:%s" % (did["scope"], did["name"])
            if key not in self.state.dids:
                continue  # the real server lists nothing for an unknown DID
            members = self.state.dids[key] if self.state.dids[key] is not None else [key]
            for member in members:
                entry = self.state.files[member]
                scope, name = member.split(":", 1)
                lines.append(json.dumps({
                    "scope": scope, "name": name, "bytes": entry["bytes"], "adler32": entry["adler32"], "md5": None,
                    "rses": {rse: [pfn] for rse, pfn in entry["rses"].items()},
                    "pfns": {pfn: {"rse": rse, "type": "DISK", "domain": "wan", "priority": 1}
                             for rse, pfn in entry["rses"].items()},
                    "states": {rse: "AVAILABLE" for rse in entry["rses"]}}))
        self.send(200, ("\n".join(lines) + "\n").encode() if lines else b"", "application/x-json-stream")


def start(state=None, port=0):
    return datahttp.start(Handler, state or State(), port)


if __name__ == "__main__":
    datahttp.main(Handler, State(), __doc__.splitlines()[0])
