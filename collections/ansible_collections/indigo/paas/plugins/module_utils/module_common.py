# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""What every provisioning module shares: the site options, their resolution into a Provider and the
failure result with ``error_class``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import traceback

from ansible_collections.indigo.paas.plugins.module_utils.naming import UserError
from ansible_collections.indigo.paas.plugins.module_utils.credentials import CredentialError, resolve_credentials
from ansible_collections.indigo.paas.plugins.module_utils.providers import get_provider
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import ProviderError
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

SITE_ARGUMENT_SPEC = dict(
    site=dict(type="raw", required=True),
    catalogue=dict(type="path"),
    credentials=dict(type="dict", no_log=True),
)


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
    """(message, extra result keys) for a failure. Expected errors are classified: a cloud's (quota, auth,
    transient, fatal), credentials (auth), the catalogue and module options (user). Anything else is a bug
    in this code: reported as ``bug`` with its traceback, so that nobody takes it for a site's failure."""
    if isinstance(exc, ProviderError):
        return exc.message, {"error_class": exc.kind, "site": exc.site}
    if isinstance(exc, CredentialError):
        return str(exc), {"error_class": "auth"}
    if isinstance(exc, UserError):
        return str(exc), {"error_class": "user"}
    # the traceback in the result itself: Ansible's own `exception` key is filled only under its
    # traceback settings (ansible-core 2.19 reports "(traceback unavailable)" otherwise)
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return "bug: %s: %s" % (type(exc).__name__, exc), {"error_class": "bug", "traceback": trace}


class IndigoModule:
    """Base of the module classes (openstack.cloud style): subclasses set ``argument_spec`` and
    ``module_kwargs`` and implement ``run``; failures end as ``fail_json`` with ``error_class``.
    ``site_options`` adds the site options (``site``, ``catalogue``, ``credentials``) every module of the
    action group ``site`` takes."""

    argument_spec = {}
    module_kwargs = {}
    site_options = True

    def __init__(self):
        from ansible.module_utils.basic import AnsibleModule

        spec = dict(SITE_ARGUMENT_SPEC) if self.site_options else {}
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
