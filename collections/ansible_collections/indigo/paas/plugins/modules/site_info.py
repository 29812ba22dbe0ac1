#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: site_info
short_description: Live health and usage of one site
version_added: 0.1.0
description:
  - Asks the site's API whether it answers, how fast, and how much of its quota is in use.
  - This is the monitoring input of M(indigo.paas.broker). It never changes anything.
author: INDIGO PaaS Ansible maintainers (@indigo-dc)
extends_documentation_fragment:
  - indigo.paas.site
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Reads only.
"""

EXAMPLES = r"""
- name: Probe the local site
  indigo.paas.site_info:
    site: local
  register: local_site

- name: Probe an OpenStack site with credentials from the environment
  indigo.paas.site_info:
    site: cloud-a
    catalogue: inventories/sites
  register: cloud_a
"""

RETURN = r"""
site:
  description: The site name.
  returned: always
  type: str
  sample: local
health:
  description: Whether the API answered, its latency and the error if it did not.
  returned: always
  type: dict
  sample: {"reachable": true, "latency_ms": 12.5, "error": null}
usage:
  description:
    - Quota limits and current use per resource (C(instances), C(cores), C(ram_mb), C(gpus)).
    - A limit of null means unlimited or unknown. Empty when the site did not answer.
  returned: always
  type: dict
  sample: {"instances": {"limit": 20, "used": 3}, "cores": {"limit": 40, "used": 6}}
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

from ansible_collections.indigo.paas.plugins.module_utils.module_common import (
    IndigoModule,
    resolve_site_and_provider,
)
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import ProviderError


class SiteInfoModule(IndigoModule):
    argument_spec = {}
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        site, provider = resolve_site_and_provider(self.params)
        health = provider.health()
        usage = {}
        if health.get("reachable"):
            try:
                usage = provider.usage()
            except ProviderError as exc:
                health = dict(health, error="usage: %s" % exc.message)
        return dict(changed=False, site=site["name"], health=health, usage=usage)


def main():
    SiteInfoModule()()


if __name__ == "__main__":
    main()
