"""Which nodes read which data: the references the data-location plugins look up before ranking.

Found in a topology:
- ``tosca.nodes.indigo.OnedataSpace`` (its ``space``, at its ``onezone`` when given) and
  ``OnedataServiceSpace`` (the platform's service space, named by the catalogue);
- ``tosca.nodes.indigo.Dynafed`` (each of its ``files``);
- ``tosca.nodes.indigo.RucioDataset`` (its ``did``; compiler/datarules.py also replicates it to its readers' site);
- Rucio DIDs (``scope:name``) in properties or inputs whose name says so (``did``, ``rucio``, ``dataset``
  in it): a bare ``scope:name`` elsewhere could be ``image:tag`` or ``host:port``;
- plain file URLs a job downloads (properties ``uris``, ``input_urls``, ``inputs`` of a staging node).

Readers of a data node are the nodes that require it or name it in a function (``get_attribute``), each
counted as the Compute hosting it; a reference nobody names is read by the whole deployment.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from tosca2ansible.compiler.values import Attribute, Input, Property, walk

ONEDATA_SPACE = "tosca.nodes.indigo.OnedataSpace"
ONEDATA_SERVICE_SPACE = "tosca.nodes.indigo.OnedataServiceSpace"
DYNAFED = "tosca.nodes.indigo.Dynafed"
RUCIO_DATASET = "tosca.nodes.indigo.RucioDataset"
SERVICE_SPACE = ""  # ref of an OnedataServiceSpace: the catalogue's data_services.onezone.service_space
DID_NAME = re.compile(r"did|rucio|dataset", re.IGNORECASE)
DID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,29}:[A-Za-z0-9_.\-/]{1,250}$")
URL_NAMES = frozenset(("uris", "input_urls"))
URL = re.compile(r"^(https?|davs?|root)://[^/\s]+/\S*$")


def _value(value, given):
    if isinstance(value, Input):
        return given.get(value.name)
    return value


def _strings(value, given):
    value = _value(value, given)
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            out.extend(_strings(item, given))
        return out
    if isinstance(value, dict) and "url" in value:  # staging inputs: {url, checksum}
        return _strings(value["url"], given)
    return []


def _reader(plan, name):
    return plan.compute_of.get(name) or name


def readers_of(topology, plan) -> Dict[str, set]:
    """{node: the Computes of the nodes requiring it or naming it in a function}."""
    named_by: Dict[str, set] = {}
    for node in topology.nodes.values():
        for req in node.requirements:
            named_by.setdefault(req.target, set()).add(_reader(plan, node.name))
        for fn in walk(node.properties):
            if isinstance(fn, (Attribute, Property)) and fn.node != node.name and fn.node in topology.nodes:
                named_by.setdefault(fn.node, set()).add(_reader(plan, node.name))
    return named_by


def data_refs(topology, plan) -> List[Dict[str, Any]]:
    """``[{kind, ref, nodes, service}]``, one per distinct (kind, ref, service), nodes sorted."""
    from tosca2ansible.compiler.model import MISSING  # pylint: disable=import-outside-toplevel

    given = {name: d.value for name, d in topology.inputs.items() if d.value is not MISSING}
    is_a = topology.registry.is_a
    found: Dict[tuple, set] = {}

    def add(kind, ref, readers, service=""):
        found.setdefault((kind, str(ref), str(service or "")), set()).update(readers)

    named_by = readers_of(topology, plan)
    input_readers: Dict[str, set] = {}
    for node in topology.nodes.values():
        readers = named_by.get(node.name, set()) - {node.name}
        if is_a("node_types", node.type, ONEDATA_SPACE):
            for space in _strings(node.properties.get("space"), given):
                onezone = _value(node.properties.get("onezone"), given)
                add("onedata", space, readers, onezone if isinstance(onezone, str) else "")
            continue
        if is_a("node_types", node.type, ONEDATA_SERVICE_SPACE):
            add("onedata", SERVICE_SPACE, readers)
            continue
        if is_a("node_types", node.type, RUCIO_DATASET):
            for did in _strings(node.properties.get("did"), given):
                add("rucio", did, readers)
            continue
        if is_a("node_types", node.type, DYNAFED):
            for url in _strings(node.properties.get("files"), given):
                add("dynafed", url, readers)
            continue
        me = {_reader(plan, node.name)}
        for key, value in node.properties.items():
            for fn in walk(value):
                if isinstance(fn, Input):
                    input_readers.setdefault(fn.name, set()).update(me)
            if DID_NAME.search(key):
                for text in _strings(value, given):
                    if DID.match(text):
                        add("rucio", text, me)
            if key in URL_NAMES or key == "inputs":
                for text in _strings(value, given):
                    if URL.match(text):
                        add("url", text.split("#", 1)[0], me)
    for name, value in given.items():
        if DID_NAME.search(name):
            for text in _strings(value, given):
                if DID.match(text):
                    add("rucio", text, input_readers.get(name, set()))
    return [{"kind": kind, "ref": ref, "nodes": sorted(readers), "service": service}
            for (kind, ref, service), readers in sorted(found.items())]
