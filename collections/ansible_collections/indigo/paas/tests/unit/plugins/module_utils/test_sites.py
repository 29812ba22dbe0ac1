# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""module_utils/sites and credentials: the catalogue a user writes, the errors a user reads."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.indigo.paas.plugins.module_utils import credentials, sites

CATALOGUE = """sites:
  - name: cloud-a
    kind: openstack
    endpoint: https://keystone.example.invalid:5000/v3
    credentials: {env: {password: OS_PASSWORD_A}}
  - name: local
    kind: local
"""


def _catalogue(tmp_path):
    path = tmp_path / "sites.yml"
    path.write_text(CATALOGUE)
    return str(path)


def test_resolve_site_by_name_from_a_catalogue_file(tmp_path):
    site = sites.resolve_site("cloud-a", _catalogue(tmp_path))
    assert site["kind"] == "openstack"
    assert site["endpoint"] == "https://keystone.example.invalid:5000/v3"


def test_unknown_site_names_what_the_catalogue_has(tmp_path):
    with pytest.raises(sites.SiteCatalogueError) as err:
        sites.resolve_site("nowhere", _catalogue(tmp_path))
    assert "unknown site 'nowhere'" in str(err.value) and "cloud-a, local" in str(err.value)


def test_default_catalogue_is_the_environment_then_beside_the_playbook(tmp_path):
    assert sites.default_catalogue_path("/srv/project", {"INDIGO_SITES": "/etc/sites"}) == "/etc/sites"
    assert sites.default_catalogue_path("/srv/project", {}) == "/srv/project/inventories/sites"


def test_credentials_come_from_the_environment_never_the_catalogue(tmp_path):
    site = sites.resolve_site("cloud-a", _catalogue(tmp_path))
    assert credentials.resolve_credentials(site, {"OS_PASSWORD_A": "s3cret-value"}) == {"password": "s3cret-value"}
    with pytest.raises(credentials.CredentialError) as err:
        credentials.resolve_credentials(site, {})
    assert "OS_PASSWORD_A" in str(err.value) and "s3cret" not in str(err.value)
