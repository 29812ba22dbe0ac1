"""Onezone REST v3 emulator: the calls the Onedata location plugin and ``onedata_space`` make.

GET  /api/v3/onezone/user/spaces                      -> {"spaces": [id, ...]}
GET  /api/v3/onezone/user/spaces/{id}                 -> {"spaceId", "name", "providers": {pid: size}}
GET  /api/v3/onezone/user/effective_providers/{id}    -> {"providerId", "name", "domain", ...}
GET  /api/v3/onezone/providers/{id}                   -> the same (public provider details)
Every call needs ``X-Auth-Token`` = the state's token (else 401 with Onezone's error shape).
"""

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))

from tests.emulators import datahttp  # noqa: E402

API = "/api/v3/onezone"


class State:
    def __init__(self, token="zone-token"):
        self.token = token
        self.spaces = {}  # id -> {"name", "providers": {pid: size}}
        self.providers = {}  # id -> {"name", "domain"}
        self.requests = []
        self.down = False
        self.delay = 0.0

    def add_provider(self, provider_id, domain, name=None):
        self.providers[provider_id] = {"name": name or domain.split(".")[0], "domain": domain}

    def add_space(self, space_id, name, providers):
        self.spaces[space_id] = {"name": name, "providers": dict(providers)}


class Handler(datahttp.Handler):
    def do_GET(self):
        if self.faulted():
            return
        if self.headers.get("X-Auth-Token") != self.state.token:
            self.send(401, {"error": {"id": "unauthorized", "description": "Authentication error."}})
            return
        path = self.path.split("?")[0].rstrip("/")
        if path == API + "/user/spaces":
            self.send(200, {"spaces": sorted(self.state.spaces)})
            return
        for prefix in ("/user/spaces/",):
            if path.startswith(API + prefix):
                space_id = path[len(API + prefix):]
                space = self.state.spaces.get(space_id)
                if space is None:
                    self.send(404, {"error": {"id": "notFound", "description": "The resource could not be found."}})
                    return
                self.send(200, {"spaceId": space_id, "name": space["name"], "providers": space["providers"]})
                return
        for prefix in ("/user/effective_providers/", "/providers/"):
            if path.startswith(API + prefix):
                provider_id = path[len(API + prefix):]
                provider = self.state.providers.get(provider_id)
                if provider is None:
                    self.send(404, {"error": {"id": "notFound", "description": "The resource could not be found."}})
                    return
                self.send(200, {"providerId": provider_id, "name": provider["name"], "domain": provider["domain"],
                                "online": True})
                return
        self.send(404, {"error": {"id": "notFound", "description": "no such path"}})


def start(state=None, port=0):
    return datahttp.start(Handler, state or State(), port)


if __name__ == "__main__":
    datahttp.main(Handler, State(os.environ.get("ONEZONE_TOKEN", "zone-token")), __doc__.splitlines()[0])
