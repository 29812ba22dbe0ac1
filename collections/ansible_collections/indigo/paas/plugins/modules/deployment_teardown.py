#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: deployment_teardown
short_description: Delete everything a deployment owns on a site
version_added: 0.1.0
description:
  - Finds every instance and resource tagged C(indigo_deployment=<deployment>) on the site and deletes
    them in dependency order (public IPs, instances, volumes, security groups, keys, routers, subnets,
    networks).
  - A second run finds nothing and reports C(changed=false).
author: INDIGO PaaS Ansible maintainers (@indigo-dc)
extends_documentation_fragment:
  - indigo.paas.site
attributes:
  check_mode:
    support: full
    description: Lists what would be deleted and deletes nothing.
options:
  deployment:
    description: The deployment id.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Tear the deployment down on every site it may use
  indigo.paas.deployment_teardown:
    deployment: slurm-demo
    site: "{{ item }}"
  loop: [recas-bari, aws-ireland]
"""

RETURN = r"""
deleted:
  description: What was deleted (or would be, in check mode), each with C(kind), C(id), C(name), C(site).
  returned: success
  type: list
  elements: dict
  sample: [{kind: instance, id: i-0abc, name: slurm-demo-lrms_wn-0, site: aws-ireland}]
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
from ansible_collections.indigo.paas.plugins.module_utils.naming import check_deployment
from ansible_collections.indigo.paas.plugins.module_utils.module_common import (
    IndigoModule,
    resolve_site_and_provider,
)


class DeploymentTeardownModule(IndigoModule):
    argument_spec = dict(deployment=dict(type="str", required=True))
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        check_deployment(self.params["deployment"])
        site, provider = resolve_site_and_provider(self.params)
        deleted = Engine(provider, log=self.log).teardown(self.params["deployment"], check_mode=self.check_mode)
        return dict(changed=bool(deleted), deleted=deleted, site=site["name"])


def main():
    DeploymentTeardownModule()()


if __name__ == "__main__":
    main()
