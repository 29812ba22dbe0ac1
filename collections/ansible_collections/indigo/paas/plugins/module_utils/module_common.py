# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""What every provisioning module shares: the site options and their resolution into a Provider. The module
skeleton and its error boundary (``IndigoModule``, ``failure_result``) live in ``skeleton.py`` and are
re-exported here."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.indigo.paas.plugins.module_utils.credentials import resolve_credentials
from ansible_collections.indigo.paas.plugins.module_utils.providers import get_provider
# the modules' names, re-exported
from ansible_collections.indigo.paas.plugins.module_utils.skeleton import (  # noqa: F401 pylint: disable=unused-import
    SITE_ARGUMENT_SPEC,
    IndigoModule,
    failure_result,
)
from ansible_collections.indigo.paas.plugins.module_utils.sites import (
    default_catalogue_path,
    resolve_site,
)

# Provider modules are imported by name at run time (providers/__init__.py); these optional imports
# make AnsiballZ ship them with the module. A provider whose file or SDK is missing stays optional.
try:
    from ansible_collections.indigo.paas.plugins.module_utils.providers import ec2 as _ec2  # noqa: F401
except ImportError:
    pass
try:
    from ansible_collections.indigo.paas.plugins.module_utils.providers import openstack as _openstack  # noqa: F401
except ImportError:
    pass
try:
    from ansible_collections.indigo.paas.plugins.module_utils.providers import opennebula as _opennebula  # noqa: F401
except ImportError:
    pass
try:
    from ansible_collections.indigo.paas.plugins.module_utils.providers import local as _local  # noqa: F401
except ImportError:
    pass


def catalogue_path(params, playbook_dir=None):
    return params.get("catalogue") or default_catalogue_path(playbook_dir)


def resolve_site_and_provider(params):
    """(site dict, Provider) from the module's ``site``/``catalogue``/``credentials`` options."""
    site = resolve_site(params["site"], catalogue_path(params) if not isinstance(params["site"], dict) else None)
    credentials = params.get("credentials")
    if credentials is None:
        credentials = resolve_credentials(site, os.environ)
    return site, get_provider(site, credentials)
