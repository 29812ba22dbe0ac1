#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: onedata_space
short_description: Resolve (or create) a Onedata space and pick a Oneprovider (TOSCA OnedataSpace)
version_added: "0.1.0"
description:
  - Finds the Onedata space O(space) that the O(token) can see at the Onezone O(onezone) and returns its id,
    the Oneproviders supporting it and the one to use (RV(selected_provider)), which is what the TOSCA
    C(tosca.nodes.indigo.OnedataSpace) and C(OnedataServiceSpace) nodes expose as attributes.
  - With O(create=true) a missing space is created; O(state=absent) deletes the space (only for spaces a
    deployment created itself, never for a user's data space).
  - Uses the Onezone REST API v3; the token is sent only in the C(X-Auth-Token) header and never logged.
author: INDIGO PaaS Ansible maintainers (@indigo-dc)
extends_documentation_fragment:
  - indigo.paas.apps
attributes:
  check_mode:
    support: full
    description: Reports what would change without calling the service's write API.
  diff_mode:
    support: full
    description: Shows the desired and current definitions.
options:
  onezone:
    description:
      - Onezone URL or host name (TOSCA property C(onezone)); C(https://) is added to a bare host name.
    type: str
    required: true
  token:
    description:
      - Onedata access token (TOSCA property C(token)). Never logged.
    type: str
    required: true
  space:
    description:
      - Space name (TOSCA property C(space)).
    type: str
    required: true
  oneproviders:
    description:
      - Preferred Oneproviders by domain, name or id (TOSCA property C(oneproviders)); the first supporting the
        space is selected. The module fails when none of them supports it.
    type: list
    elements: str
  create:
    description:
      - Create the space when the token cannot see one of that name.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Resolve the input space of a job
  indigo.paas.onedata_space:
    onezone: onezone.example.org
    token: "{{ onedata_token }}"
    space: input-data
    oneproviders: [oneprovider.site-a.example.org]
  register: input_space

- name: Use it
  ansible.builtin.debug:
    msg: "mount {{ input_space.space_id }} from {{ input_space.selected_provider }}"
"""

RETURN = r"""
space:
  description: The space name.
  returned: always
  type: str
space_id:
  description: The space id; null when absent (or in check mode before creation).
  returned: always
  type: str
onezone:
  description: The Onezone asked.
  returned: always
  type: str
providers:
  description: Oneproviders supporting the space (C(id), C(name), C(domain), C(support_size) in bytes).
  returned: when state is present
  type: list
  elements: dict
selected_provider:
  description: Domain of the Oneprovider to use (TOSCA attribute C(selected_provider)); null when none supports it.
  returned: when state is present
  type: str
retried:
  description: Transient failures that were retried.
  returned: always
  type: list
  elements: str
error_class:
  description:
    - On failure, the class of the error, V(auth), V(quota), V(transient), V(fatal) (the service's), V(user)
      (an option is wrong) or V(bug) (an unexpected exception in this code).
  returned: failed
  type: str
traceback:
  description: The traceback of an unexpected exception (RV(error_class=bug)), to report.
  returned: failure with error_class bug
  type: str
"""

from ansible_collections.indigo.paas.plugins.module_utils.apps.common import HTTP_ARGS, AppModule
from ansible_collections.indigo.paas.plugins.module_utils.apps.onedata import Onezone, ensure_space, onezone_client


class OnedataSpaceModule(AppModule):
    argument_spec = dict(
        onezone=dict(type="str", required=True),
        token=dict(type="str", required=True, no_log=True),
        space=dict(type="str", required=True),
        oneproviders=dict(type="list", elements="str"),
        create=dict(type="bool", default=False),
    )
    argument_spec.update(HTTP_ARGS)
    module_kwargs = dict(supports_check_mode=True)

    def make_client(self, params):
        return onezone_client(params)

    def ensure(self, client, params, check_mode):
        return ensure_space(Onezone(client), params, check_mode)


def main():
    OnedataSpaceModule()()


if __name__ == "__main__":
    main()
