#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: instance_info
short_description: List the instances of a deployment (or of one node template) on a site
version_added: 0.1.0
description:
  - Lists live instances by the tags C(indigo_deployment) and C(indigo_node); changes nothing.
  - With O(resources=true) also lists the other resources the deployment owns on the site (networks,
    security groups, volumes, public IPs, keys).
author: INDIGO PaaS Ansible maintainers (@indigo-dc)
extends_documentation_fragment:
  - indigo.paas.site
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
options:
  deployment:
    description: The deployment id.
    type: str
    required: true
  node:
    description: Only the instances of this node template.
    type: str
  resources:
    description: Also list the deployment's other resources on the site.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Workers of a deployment
  indigo.paas.instance_info:
    deployment: slurm-demo
    node: lrms_wn
    site: recas-bari
  register: workers

- name: Their addresses
  ansible.builtin.debug:
    msg: "{{ workers.instances | map(attribute='address') | list }}"
"""

RETURN = r"""
instances:
  description: Live instances sorted by node and index (see M(indigo.paas.instance) for the fields).
  returned: success
  type: list
  elements: dict
resources:
  description: Other resources of the deployment (C(kind), C(id), C(name), C(site)), when O(resources=true).
  returned: success
  type: list
  elements: dict
error_class:
  description:
    - On failure, the class of the error, C(quota), C(auth), C(transient), C(fatal) (the site's), C(user)
      (an option or the catalogue is wrong) or C(bug) (an unexpected exception in this code).
  returned: failure
  type: str
  sample: quota
traceback:
  description: The traceback of an unexpected exception (C(error_class=bug)), to report.
  returned: failure with error_class bug
  type: str
"""

from ansible_collections.indigo.paas.plugins.module_utils.engine import Engine
from ansible_collections.indigo.paas.plugins.module_utils.naming import check_deployment, check_node
from ansible_collections.indigo.paas.plugins.module_utils.module_common import (
    IndigoModule,
    resolve_site_and_provider,
)


class InstanceInfoModule(IndigoModule):
    argument_spec = dict(
        deployment=dict(type="str", required=True),
        node=dict(type="str"),
        resources=dict(type="bool", default=False),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        check_deployment(self.params["deployment"])
        if self.params["node"] is not None:
            check_node(self.params["node"])
        site, provider = resolve_site_and_provider(self.params)
        engine = Engine(provider, log=self.log)
        instances = engine.live_instances(self.params["deployment"], self.params["node"])
        instances.sort(key=lambda inst: (inst.node, inst.index))
        result = dict(changed=False, site=site["name"], instances=[inst.to_dict() for inst in instances], resources=[])
        if self.params["resources"]:
            result["resources"] = [r.to_dict() for r in engine.find_deployment(self.params["deployment"])[1]]
        return result


def main():
    InstanceInfoModule()()


if __name__ == "__main__":
    main()
