"""The pure parts of data location: metalink parsing, site mapping, locality shares, the TTL cache, and
which template values count as data references."""


import pytest

from tosca2ansible.collection import ensure_importable

ensure_importable()
# pylint: disable=wrong-import-position
from ansible_collections.indigo.paas.plugins.module_utils.data.base import (  # noqa: E402
    DataLocationError,
    LocationCache,
    map_to_sites,
    site_locality,
)
from ansible_collections.indigo.paas.plugins.module_utils.data.locators import parse_metalink  # noqa: E402
from tests.helpers import tosca

METALINK = b"""<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="f.root"><size>1234</size><hash type="sha-256">ab</hash>
    <url priority="1">https://se1.example:443/data/f.root</url>
    <url priority="2">root://se2.example//data/f.root</url>
  </file>
</metalink>"""


def test_metalink_gives_size_and_replica_hosts():
    size, hosts, urls = parse_metalink(METALINK)
    assert size == 1234
    assert hosts == {"se1.example": 1234, "se2.example": 1234}
    assert len(urls) == 2


@pytest.mark.parametrize("text", [b"<html>login</html>", b"not xml", b'<metalink xmlns="urn:ietf:params:xml:ns:metalink"/>'])
def test_metalink_garbage_is_a_location_error(text):
    with pytest.raises(DataLocationError):
        parse_metalink(text)


SITES = [{"name": "a", "data": {"rucio_rses": ["A_DISK", "A_TAPE"]}}, {"name": "b", "data": {"rucio_rses": ["b_disk"]}}]


def test_replicas_map_to_sites_case_insensitively_summing_rses():
    assert map_to_sites({"A_DISK": 10, "A_TAPE": 5, "B_DISK": 7, "C_DISK": 1}, SITES, "rucio") == {"a": 15, "b": 7}


def test_locality_weights_by_bytes_and_readers():
    locations = [
        {"kind": "rucio", "ref": "s:big", "nodes": ["wn", "fe"], "sites": {"a": 900}, "total_bytes": 1000},
        {"kind": "url", "ref": "https://h/x", "nodes": ["fe"], "sites": {"b": None}, "total_bytes": None},
        {"kind": "onedata", "ref": "space", "nodes": [], "sites": {}, "error": "HTTP 503"},
    ]
    share_a, notes_a, located = site_locality("a", locations)
    assert located == 2
    assert share_a == pytest.approx((2 * 0.9 + 1 * 0.0) / 3)
    assert "data location unknown: onedata space: HTTP 503" in notes_a
    share_b, _notes, _n = site_locality("b", locations)
    assert share_b == pytest.approx(1.0 / 3)


def test_cache_answers_until_ttl_then_asks_again(tmp_path):
    now = [100.0]
    cache = LocationCache(str(tmp_path / "c.json"), ttl=10, clock=lambda: now[0])
    cache.put("k", {"replicas": {"X": 1}})
    cache.save()
    again = LocationCache(str(tmp_path / "c.json"), ttl=10, clock=lambda: now[0])
    assert again.get("k") == {"replicas": {"X": 1}}
    now[0] = 111.0
    assert again.get("k") is None


def test_only_named_values_count_as_rucio_dids(tmp_path):
    from tosca2ansible import brokering
    from tosca2ansible.compiler.datarefs import data_refs

    (tmp_path / "t.yaml").write_text(tosca("""\
          inputs:
            input_dids: {type: list, entry_schema: {type: string}, default: ["data18:raw.0001", "data18:raw.0002"]}
            image: {type: string, default: "ubuntu:16.04"}
            server: {type: string, default: "db.example:5432"}
          node_templates:
            wn:
              type: tosca.nodes.indigo.Compute
              capabilities:
                os: {properties: {image: {get_input: image}}}
            job:
              type: tosca.nodes.indigo.Container.Application.Docker.Chronos
              properties:
                command: run
                uris: ["https://storage.a.example/in.dat", "not a url"]
                environment_variables: {DIDS: {get_input: input_dids}, DB: {get_input: server}}
        """))
    topology, plan = brokering.analyse(str(tmp_path / "t.yaml"), {}, [])
    refs = data_refs(topology, plan)
    assert [(r["kind"], r["ref"], r["nodes"]) for r in refs] == [
        ("rucio", "data18:raw.0001", ["job"]), ("rucio", "data18:raw.0002", ["job"]),
        ("url", "https://storage.a.example/in.dat", ["job"])]
