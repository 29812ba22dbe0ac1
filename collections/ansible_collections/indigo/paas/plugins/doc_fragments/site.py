# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The options every provisioning module shares to reach one site."""

    DOCUMENTATION = r"""
options:
  site:
    description:
      - The site to act on, by name in the site catalogue, or as a mapping with at least C(name) and
        C(kind) (one of C(openstack), C(opennebula), C(aws), C(local)) and, when the kind
        needs it, C(endpoint) and C(region).
      - Set it once for many tasks with C(module_defaults) and the action group C(group/indigo.paas.site).
    type: raw
    required: true
  catalogue:
    description:
      - Path of the site catalogue, a directory of C(*.yml) files or one file, each holding C(sites:).
      - Defaults to the E(INDIGO_SITES) environment variable, then C(inventories/sites) of the current
        directory.
      - Ignored when O(site) is a mapping.
    type: path
  credentials:
    description:
      - The secret material for the site (for example C(access_key)/C(secret_key) for AWS,
        C(username)/C(password) or C(token) for OpenStack and OpenNebula).
      - When omitted, the site's credential reference (C(env), C(file), C(clouds_yaml)) is resolved on
        the controller. Never logged.
    type: dict
notes:
  - "TLS certificates are verified unless the site says C(verify_tls: false)."
"""
