# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""Data location: one interface from a data reference in a template to the sites holding it.

A ``DataRef`` names data the template reads (a Onedata space, a Dynafed file, a Rucio DID, a plain file
URL) and the nodes that read it. A locator (``onedata``, ``dynafed``, ``rucio``, ``url``) answers a
``Location``: the bytes each site holds (``None`` where the size is unknown), mapped from the data
catalogue's own names (Oneprovider ids, storage hosts, RSEs) to sites through the site catalogue's
``data:`` section. A catalogue that does not answer is a ``Location`` with ``error`` set, never an
exception: the broker reports it ("data location unknown: ...") and ranks by the other criteria.

Everything below except the locators' ``locate`` is pure; ``site_locality`` is what the broker calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dataclasses
import json
import os
import tempfile
import time
from typing import Dict, List, Optional, Tuple

KINDS = ("onedata", "dynafed", "rucio", "url")
# site catalogue ``data:`` keys mapping each data catalogue's own names to the site
SITE_KEYS = {"onedata": "onedata_providers", "dynafed": "storage_hosts", "rucio": "rucio_rses",
             "url": "storage_hosts"}


class DataLocationError(Exception):
    """A data catalogue did not answer, or answered something unusable (message for the user)."""


@dataclasses.dataclass(frozen=True)
class DataRef:
    kind: str  # one of KINDS
    ref: str  # space name, file URL, scope:name
    nodes: Tuple[str, ...] = ()  # the node templates that read it
    service: str = ""  # the service asked (Onezone URL), when the template names it

    @property
    def key(self):
        return "%s:%s" % (self.kind, self.ref)


@dataclasses.dataclass
class Location:
    kind: str
    ref: str
    nodes: List[str]
    sites: Dict[str, Optional[int]] = dataclasses.field(default_factory=dict)  # site -> bytes (None unknown)
    total_bytes: Optional[int] = None
    files: Optional[int] = None
    replicas: Dict[str, Optional[int]] = dataclasses.field(default_factory=dict)  # catalogue's names -> bytes
    error: Optional[str] = None

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def site_index(sites, kind):
    """The data catalogue's names (provider id, host, RSE; lower-cased) -> site names, from ``data:``."""
    key = SITE_KEYS[kind]
    index = {}
    for site in sites:
        for name in (site.get("data") or {}).get(key) or ():
            index.setdefault(str(name).lower(), []).append(site["name"])
    return index


def map_to_sites(replicas, sites, kind):
    """Bytes per site from bytes per replica holder; holders the catalogue does not map are dropped."""
    index = site_index(sites, kind)
    per_site = {}
    for holder, size in replicas.items():
        for site in index.get(str(holder).lower(), ()):
            if site in per_site and per_site[site] is not None and size is not None:
                per_site[site] += size
            elif site not in per_site:
                per_site[site] = size
            else:
                per_site[site] = None
    return per_site


def site_locality(site_name, locations):
    """(share in [0, 1] of the located data the site holds, weighted by bytes where known and by the number
    of nodes reading each reference; notes for the ranking; number of references located)."""
    weight_sum, held, notes, located = 0.0, 0.0, [], 0
    for loc in locations:
        if loc.get("error"):
            notes.append("data location unknown: %s %s: %s" % (loc["kind"], loc["ref"], loc["error"]))
            continue
        located += 1
        weight = float(max(1, len(loc.get("nodes") or ())))
        total = loc.get("total_bytes")
        here = (loc.get("sites") or {}).get(site_name, 0) if site_name in (loc.get("sites") or {}) else 0
        if here is None or not total:
            share = 1.0 if site_name in (loc.get("sites") or {}) else 0.0
        else:
            share = min(1.0, float(here) / total)
        weight_sum += weight
        held += weight * share
        if share:
            notes.append("data: holds %s of %s %s%s" % (
                "all" if share >= 1.0 else "%d%%" % round(share * 100), loc["kind"], loc["ref"],
                "" if not total else " (%s)" % human_bytes(here if here is not None else total)))
    return (held / weight_sum if weight_sum else 0.0), notes, located


def human_bytes(size):
    size = float(size or 0)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return ("%d %s" if unit == "B" else "%.1f %s") % (size, unit)
        size /= 1000.0
    return "%d B" % size


class LocationCache:
    """Answers of the data catalogues, per deployment, each kept ``ttl`` seconds. With ``path`` (a JSON
    file under the deployment's state dir, 0600) the cache survives between commands; errors are never
    cached, so a catalogue that comes back is asked again."""

    def __init__(self, path=None, ttl=300.0, clock=time.time):
        self.path, self.ttl, self.clock = path, float(ttl), clock
        self.entries = {}
        if path and os.path.exists(path):
            try:
                with open(path) as handle:
                    self.entries = json.load(handle)
            except (OSError, ValueError):
                self.entries = {}

    def get(self, key):
        entry = self.entries.get(key)
        if entry and entry["expires"] > self.clock():
            return entry["value"]
        return None

    def put(self, key, value):
        self.entries[key] = {"expires": self.clock() + self.ttl, "value": value}

    def save(self):
        if not self.path:
            return
        now = self.clock()
        live = {k: v for k, v in self.entries.items() if v["expires"] > now}
        directory = os.path.dirname(self.path) or "."
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".data-locations-")
        with os.fdopen(fd, "w") as handle:
            json.dump(live, handle, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
