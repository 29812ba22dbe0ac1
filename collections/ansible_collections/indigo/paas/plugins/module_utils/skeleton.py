# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""The one module skeleton (openstack.cloud style) and its error boundary, for every module of the
collection: provisioning modules (through ``module_common``, which adds the site options) and the app
modules (``apps/common.AppModule``). It imports no provider, so a module that needs none loads no SDK."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible_collections.indigo.paas.plugins.module_utils.credentials import CredentialError
from ansible_collections.indigo.paas.plugins.module_utils.naming import UserError
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import ProviderError

SITE_ARGUMENT_SPEC = dict(
    site=dict(type="raw", required=True),
    catalogue=dict(type="path"),
    credentials=dict(type="dict", no_log=True),
)


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
    failure_keys = {}  # keys every failure result carries (their value when the run did not set them)

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

    def failure_extra(self):
        """Result keys of a failure besides the error class (``failure_keys`` by default)."""
        return dict(self.failure_keys)

    def __call__(self):
        try:
            result = self.run()
        except Exception as exc:  # pylint: disable=broad-except
            message, extra = failure_result(exc)
            extra.update(self.failure_extra())
            self.ansible.fail_json(msg=message, **extra)
        self.ansible.exit_json(**result)
