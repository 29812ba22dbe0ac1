"""Dynafed emulator: a federation front-end answering ``GET <file>?metalink`` with a metalink (RFC 5854)
listing the file's replicas, and ``GET <file>`` with a redirect to the first replica, as Dynafed does."""

import os
import sys
from xml.sax.saxutils import escape, quoteattr

if __package__ in (None, ""):
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))

from tests.emulators import datahttp  # noqa: E402

NS = "urn:ietf:params:xml:ns:metalink"


class State:
    def __init__(self):
        self.files = {}  # path -> {"size": int, "urls": [replica URLs], "sha256": hex}
        self.requests = []
        self.down = False
        self.delay = 0.0

    def add_file(self, path, size, urls, sha256=None):
        self.files["/" + path.lstrip("/")] = {"size": size, "urls": list(urls), "sha256": sha256}


def metalink(name, entry):
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', '<metalink xmlns="%s">' % NS,
             '  <file name=%s>' % quoteattr(name), "    <size>%d</size>" % entry["size"]]
    if entry.get("sha256"):
        parts.append('    <hash type="sha-256">%s</hash>' % entry["sha256"])
    for priority, url in enumerate(entry["urls"], 1):
        parts.append('    <url priority="%d">%s</url>' % (priority, escape(url)))
    parts += ["  </file>", "</metalink>", ""]
    return "\n".join(parts).encode()


class Handler(datahttp.Handler):
    def do_GET(self):
        if self.faulted():
            return
        path, _sep, query = self.path.partition("?")
        entry = self.state.files.get(path)
        if entry is None:
            self.send(404, b"not found", "text/plain")
            return
        if "metalink" in query.split("&") or query.startswith("metalink"):
            self.send(200, metalink(path.rsplit("/", 1)[-1], entry), "application/metalink4+xml")
            return
        self.send(302, b"", "text/plain", {"Location": entry["urls"][0]})


def start(state=None, port=0):
    return datahttp.start(Handler, state or State(), port)


if __name__ == "__main__":
    datahttp.main(Handler, State(), __doc__.splitlines()[0])
