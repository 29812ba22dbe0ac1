# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""module_utils/localsite/config: a site's local settings, with defaults."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.indigo.paas.plugins.module_utils.localsite.config import DEFAULT_STATE_DIR, LocalSiteConfig


def test_defaults_for_a_site_without_local_settings():
    cfg = LocalSiteConfig.from_site({"name": "local", "kind": "local"})
    assert (cfg.bridge, cfg.subnet, cfg.state_dir) == ("indigo0", "10.77.0.0/24", DEFAULT_STATE_DIR)


def test_settings_of_the_site_are_kept(tmp_path):
    cfg = LocalSiteConfig.from_site({"name": "l2", "kind": "local",
                                     "local": {"bridge": "indigo9", "subnet": "10.78.0.0/24", "state_dir": str(tmp_path)}})
    assert (cfg.bridge, cfg.subnet, cfg.state_dir) == ("indigo9", "10.78.0.0/24", str(tmp_path))


def test_a_bad_subnet_is_refused():
    with pytest.raises(ValueError):
        LocalSiteConfig.from_site({"name": "l", "kind": "local", "local": {"subnet": "not-a-subnet"}})
