# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""The app modules' skeleton and the argument specs they share (kept next to the doc fragment
``indigo.paas.apps``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.indigo.paas.plugins.module_utils.apps.rest import RestClient
from ansible_collections.indigo.paas.plugins.module_utils.skeleton import IndigoModule

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


class AppModule(IndigoModule):
    """The skeleton of the app modules (Marathon, Chronos, Onedata, Helm): make the client, ensure the
    state, add what the client retried; the error boundary is IndigoModule's (classified errors with
    ``error_class`` and ``retried``, anything else a bug with its traceback).

    Subclasses set ``argument_spec``/``module_kwargs`` and implement ``make_client(params)`` (a client
    with a ``retried`` list) and ``ensure(client, params, check_mode)`` (the result dict, whose ``diff``
    key is dropped unless Ansible runs in diff mode)."""

    site_options = False

    def __init__(self):
        super(AppModule, self).__init__()
        self.client = None

    def make_client(self, params):
        raise NotImplementedError

    def ensure(self, client, params, check_mode):
        raise NotImplementedError

    def failure_extra(self):
        return {"retried": self.client.retried if self.client is not None else []}

    def run(self):
        self.client = self.make_client(self.params)
        result = self.ensure(self.client, self.params, self.check_mode)
        result["retried"] = self.client.retried
        if not self.ansible._diff:
            result.pop("diff", None)
        return result
