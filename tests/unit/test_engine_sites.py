"""The site catalogue loader (module_utils/sites.py): defaults, clear errors, lookups."""

import os
import sys

import pytest
from tests.helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible_collections.indigo.paas.plugins.module_utils.units import size_mb  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.sites import (  # noqa: E402
    SiteCatalogueError, find_site, load_catalogue, resolve_site)


def write(path, text):
    path.write_text(text)
    return path


def test_directory_catalogue_with_defaults(tmp_path):
    write(tmp_path / "a.yml", "sites:\n  - {name: local, kind: local}\n")
    write(tmp_path / "b.yml", "sites:\n  - {name: bari, kind: openstack, endpoint: 'https://k:5000/v3',"
                              " flavors: [{name: m1, num_cpus: 2, mem_mb: 4096}]}\n")
    sites = load_catalogue(str(tmp_path))
    assert [s["name"] for s in sites] == ["local", "bari"]
    assert sites[0]["verify_tls"] is True and sites[0]["network"] == {"private": None, "public": None}
    assert find_site(sites, "bari")["flavors"][0]["mem_mb"] == 4096


@pytest.mark.parametrize("text, message", [
    ("sites:\n  - {name: x, kind: azure}\n", "kind 'azure' is not one of"),
    ("sites:\n  - {name: x, kind: openstack}\n", "needs an 'endpoint'"),
    ("sites:\n  - {name: x, kind: aws, regoin: eu}\n", "unknown field(s) regoin"),
    ("sites:\n  - {name: x, kind: aws, flavors: [{name: f, num_cpus: two}]}\n", "'num_cpus' must be a non-negative integer"),
    ("sites:\n  - {name: x, kind: aws, verify_tls: 'no'}\n", "'verify_tls' must be true or false"),
    ("sites:\n  - {name: x, kind: aws}\n  - {name: x, kind: local}\n", "already defined"),
    ("site: []\n", "a mapping with a 'sites:' list"),
    ("sites: [\n", "cannot read the site catalogue"),
])
def test_invalid_catalogues_name_the_problem(tmp_path, text, message):
    path = write(tmp_path / "sites.yml", text)
    with pytest.raises(SiteCatalogueError) as excinfo:
        load_catalogue(str(path))
    assert message in str(excinfo.value) and "sites.yml" in str(excinfo.value)


def test_unknown_site_and_missing_catalogue(tmp_path):
    path = write(tmp_path / "sites.yml", "sites:\n  - {name: local, kind: local}\n")
    with pytest.raises(SiteCatalogueError, match=r"unknown site 'aws' \(catalogue has: local\)"):
        resolve_site("aws", str(path))
    with pytest.raises(SiteCatalogueError, match="does not exist"):
        load_catalogue(str(tmp_path / "nope"))
    assert resolve_site({"name": "inline", "kind": "aws", "region": "eu-west-1"})["region"] == "eu-west-1"


@pytest.mark.parametrize("value, expected", [("2 GB", 2048), ("512 MiB", 512), (1024, 1024), ("1.5 GiB", 1536), (None, None)])
def test_tosca_sizes(value, expected):
    assert size_mb(value, "mem_size") == expected


def test_bad_size_is_rejected():
    with pytest.raises(ValueError, match="mem_size: 'lots' is not a size"):
        size_mb("lots", "mem_size")
