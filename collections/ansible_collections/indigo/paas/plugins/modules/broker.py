#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: broker
short_description: Rank sites for a deployment request, with the reason for every site kept or dropped
version_added: 0.1.0
description:
  - Applies hard filters (SLA of the user's group, quota against request plus current use, flavors,
    images, GPUs, InfiniBand/SGX/CUDA capabilities, placement policies, required data, reachability) and
    ranks the sites left by a weighted score whose weights are plain data.
  - A site without monitoring data is kept with a penalty, not dropped.
  - When no single site takes the whole request and O(allow_split=true), nodes are placed on different
    sites (hybrid clusters).
  - Pure computation on the controller; with O(probe=true) it first reads each site's health and usage
    through its provider, like M(indigo.paas.site_info).
author: INDIGO PaaS Ansible maintainers (@indigo-dc)
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Reads only.
options:
  request:
    description:
      - What the deployment needs, usually written by the compiler into C(indigo_request).
      - C(nodes) is a list of mappings with C(name), C(count), C(num_cpus), C(mem_mb), C(disk_gb), C(gpus),
        C(gpu_vendor), C(gpu_model), C(cuda_version), C(image), C(instance_type), C(os_distribution),
        C(os_version), C(infiniband), C(sgx).
      - A node naming C(instance_type) keeps only sites with a flavor of that name (used as is); a
        GPU-bearing instance type counts as a GPU request.
      - Optional keys C(group), C(pinned_sites), C(forbidden_sites), C(node_sites), C(data), C(data_required).
    type: dict
    required: true
  group:
    description: The user group whose SLAs apply; overrides C(request.group).
    type: str
  catalogue:
    description:
      - Path of the site catalogue (a directory of C(*.yml) or one file).
      - Defaults to E(INDIGO_SITES), then C(inventories/sites) of the current directory.
    type: path
  sites:
    description: Only rank these sites of the catalogue (default every site).
    type: list
    elements: str
  health:
    description: Health per site name, as returned by M(indigo.paas.site_info) (C(reachable), C(latency_ms)).
    type: dict
  usage:
    description: Usage per site name, as returned by M(indigo.paas.site_info).
    type: dict
  probe:
    description: Read health and usage of every site through its provider first.
    type: bool
    default: false
  rules:
    description:
      - Scoring rules, merged over the defaults. C(weights) maps criterion to weight
        (C(sla_priority), C(headroom), C(latency), C(data_locality), C(price));
        C(no_monitoring_penalty) is subtracted for sites without health data.
    type: dict
  allow_split:
    description: Place nodes on different sites when no single site takes them all.
    type: bool
    default: false
  site:
    description:
      - Accepted so that a C(site) default of the action group C(indigo.paas.site) (in C(module_defaults))
        does not fail this module; the broker ranks every site of the catalogue (or O(sites)) and ignores it.
    type: raw
"""

EXAMPLES = r"""
- name: Rank the catalogue for a Slurm cluster
  indigo.paas.broker:
    request:
      nodes:
        - {name: lrms_server, count: 1, num_cpus: 2, mem_mb: 4096}
        - {name: lrms_wn, count: 4, num_cpus: 4, mem_mb: 8192}
    group: biology
    probe: true
  register: ranking

- name: Show why each site was kept or dropped
  ansible.builtin.debug:
    msg: "{{ item.site }}: {{ item.reasons | join('; ') }}"
  loop: "{{ ranking.ranking }}"
"""

RETURN = r"""
ranking:
  description: Every site, kept ones first and best first, with C(site), C(kept), C(score), C(reasons),
    C(dropped) (why the site was dropped, empty when kept), C(criteria) (the numbers behind the score) and
    C(flavors) (node to flavor chosen).
  returned: always
  type: list
  elements: dict
  sample: [{"site": "cloud-a", "kept": true, "score": 14.2, "reasons": ["kept: headroom 0.80, sla_priority 1.00"]}]
best:
  description: The first kept site, or null when every site was dropped.
  returned: always
  type: str
placement:
  description: Node to site, when O(allow_split=true) and no single site was kept; null otherwise or when impossible.
  returned: always
  type: dict
"""

import concurrent.futures
import os

from ansible_collections.indigo.paas.plugins.module_utils import broker
from ansible_collections.indigo.paas.plugins.module_utils.credentials import CredentialError, resolve_credentials
from ansible_collections.indigo.paas.plugins.module_utils.module_common import IndigoModule
from ansible_collections.indigo.paas.plugins.module_utils.naming import UserError
from ansible_collections.indigo.paas.plugins.module_utils.providers import get_provider
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import ProviderError
from ansible_collections.indigo.paas.plugins.module_utils.sites import (
    SiteCatalogueError,
    default_catalogue_path,
    load_catalogue,
)


def probe_site(site):
    """(health, usage) of one site; a failure to probe is a health record, never an exception."""
    try:
        provider = get_provider(site, resolve_credentials(site, os.environ))
        health = provider.health()
        usage = provider.usage() if health.get("reachable") else None
        return health, usage
    except (ProviderError, CredentialError, ValueError, ImportError, NotImplementedError) as exc:
        return {"reachable": False, "latency_ms": None, "error": str(exc)}, None


class BrokerModule(IndigoModule):
    site_options = False  # ranks the catalogue; `site` below only absorbs an action-group default
    module_kwargs = dict(supports_check_mode=True)
    argument_spec = dict(
        request=dict(type="dict", required=True),
        group=dict(type="str"),
        catalogue=dict(type="path"),
        sites=dict(type="list", elements="str"),
        health=dict(type="dict"),
        usage=dict(type="dict"),
        probe=dict(type="bool", default=False),
        rules=dict(type="dict"),
        allow_split=dict(type="bool", default=False),
        site=dict(type="raw"),  # a group default of action group `site`; not used
    )

    def run(self):
        params = self.params
        sites = load_catalogue(params["catalogue"] or default_catalogue_path())
        if params["sites"]:
            unknown = sorted(set(params["sites"]) - {s["name"] for s in sites})
            if unknown:
                raise SiteCatalogueError("unknown site(s) %s" % ", ".join(unknown))
            sites = [s for s in sites if s["name"] in params["sites"]]
        try:
            request = broker.Request.from_dict(params["request"])
        except (TypeError, ValueError) as exc:  # a request key of the wrong type: the caller's mistake
            raise UserError("request: %s" % exc)
        if params["group"]:
            request.group = params["group"]
        health = dict(params["health"] or {})
        usage = dict(params["usage"] or {})
        if params["probe"]:
            with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(sites) or 1)) as pool:
                for site, (h, u) in zip(sites, pool.map(probe_site, sites)):
                    health[site["name"]] = h
                    if u is not None:
                        usage[site["name"]] = u
        ranking = broker.rank(request, sites, health, usage, params["rules"])
        best = next((r.site for r in ranking if r.kept), None)
        placement = None
        if best is None and params["allow_split"]:
            placement = broker.split(request, sites, health, usage, params["rules"])
        return dict(changed=False, ranking=broker.rankings_to_list(ranking), best=best, placement=placement)


def main():
    BrokerModule()()


if __name__ == "__main__":
    main()
