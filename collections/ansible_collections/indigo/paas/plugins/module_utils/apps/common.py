# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""Argument specs shared by the app modules (kept next to the doc fragment ``indigo.paas.apps``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.indigo.paas.plugins.module_utils.apps.rest import RestClient
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import ProviderError

HTTP_ARGS = dict(
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="int", default=30),
    api_retries=dict(type="int", default=5),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)

MESOS_ARGS = dict(
    endpoint=dict(type="str", required=True),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
)


def mesos_client(service, params):
    return RestClient(service, params["endpoint"], username=params.get("username"), password=params.get("password"),
                      validate_certs=params["validate_certs"], ca_path=params.get("ca_path"),
                      timeout=params["timeout"], retries=params["api_retries"])


def fail_classified(module, exc, **extra):
    """Fail with the provider error classes (quota/auth/transient/fatal) so callers can react."""
    module.fail_json(msg=str(exc), error_class=getattr(exc, "kind", "fatal"), **extra)


def run_ensure(module, make_client, ensure):
    """The shared state machine of the app modules: client, ensure, classified failure, result.

    ``make_client(params)`` returns a client with a ``retried`` list; ``ensure(client, params, check_mode)``
    returns the result dict (with a ``diff`` key, dropped unless Ansible runs in diff mode).
    """
    client = None
    try:
        client = make_client(module.params)
        result = ensure(client, module.params, module.check_mode)
    except ProviderError as exc:
        fail_classified(module, exc, retried=client.retried if client else [])
    result["retried"] = client.retried
    if not module._diff:
        result.pop("diff", None)
    return result
