# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""What every provisioning module shares: the site options, their resolution into a Provider, TOSCA
size parsing and the failure result with ``error_class``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.indigo.paas.plugins.module_utils.credentials import CredentialError, resolve_credentials
from ansible_collections.indigo.paas.plugins.module_utils.providers import get_provider
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import ProviderError
from ansible_collections.indigo.paas.plugins.module_utils.sites import (
    SiteCatalogueError,
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
try:
    from ansible_collections.indigo.paas.plugins.module_utils.providers import kubernetes as _kubernetes  # noqa: F401
except ImportError:
    pass

DEPLOYMENT_RE = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
NODE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")

SITE_ARGUMENT_SPEC = dict(
    site=dict(type="raw", required=True),
    catalogue=dict(type="path"),
    credentials=dict(type="dict", no_log=True),
)

_SIZE_UNITS = {"b": 1.0 / 1048576, "kb": 1.0 / 1024, "kib": 1.0 / 1024, "mb": 1, "mib": 1, "gb": 1024, "gib": 1024,
               "tb": 1048576, "tib": 1048576}


def size_mb(value, option):
    """A TOSCA scalar-unit.size ("2 GB", "512 MiB") or a plain number of MB → int MB (None stays None)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$", str(value))
    if not match or match.group(2).lower() not in _SIZE_UNITS and match.group(2):
        raise ValueError("%s: %r is not a size (e.g. 2048, '2 GB', '512 MiB')" % (option, value))
    unit = match.group(2).lower() or "mb"
    return int(round(float(match.group(1)) * _SIZE_UNITS[unit]))


def check_deployment(deployment):
    if not isinstance(deployment, str) or not DEPLOYMENT_RE.match(deployment):
        raise ValueError("deployment %r must match ^[a-z][a-z0-9-]{0,40}$" % (deployment,))


def check_node(node):
    if not isinstance(node, str) or not NODE_RE.match(node):
        raise ValueError("node %r must be a TOSCA node template name (letters, digits, '_', '.', '-')" % (node,))


def catalogue_path(params, playbook_dir=None):
    return params.get("catalogue") or default_catalogue_path(playbook_dir)


def resolve_site_and_provider(params):
    """(site dict, Provider) from the module's ``site``/``catalogue``/``credentials`` options."""
    site = resolve_site(params["site"], catalogue_path(params) if not isinstance(params["site"], dict) else None)
    credentials = params.get("credentials")
    if credentials is None:
        credentials = resolve_credentials(site, os.environ)
    return site, get_provider(site, credentials)


def failure_result(exc):
    """(message, extra result keys) for a failure, classifying errors that are not ProviderErrors."""
    if isinstance(exc, ProviderError):
        return exc.message, {"error_class": exc.kind, "site": exc.site}
    if isinstance(exc, CredentialError):
        return str(exc), {"error_class": "auth"}
    if isinstance(exc, (SiteCatalogueError, ValueError)):
        return str(exc), {"error_class": "fatal"}
    return "%s: %s" % (type(exc).__name__, exc), {"error_class": "fatal"}


class IndigoModule:
    """Base of the module classes (openstack.cloud style): subclasses set ``argument_spec`` and
    ``module_kwargs`` and implement ``run``; failures end as ``fail_json`` with ``error_class``."""

    argument_spec = {}
    module_kwargs = {}

    def __init__(self):
        from ansible.module_utils.basic import AnsibleModule

        spec = dict(SITE_ARGUMENT_SPEC)
        spec.update(self.argument_spec)
        self.ansible = AnsibleModule(argument_spec=spec, **self.module_kwargs)
        self.params = self.ansible.params
        self.check_mode = self.ansible.check_mode
        self.warnings = []

    def log(self, message):
        self.ansible.log(message)

    def run(self):
        raise NotImplementedError

    def __call__(self):
        try:
            result = self.run()
        except Exception as exc:  # pylint: disable=broad-except
            message, extra = failure_result(exc)
            self.ansible.fail_json(msg=message, **extra)
        self.ansible.exit_json(**result)
