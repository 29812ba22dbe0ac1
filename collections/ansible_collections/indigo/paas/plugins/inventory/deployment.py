# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: deployment
short_description: Every instance of one INDIGO deployment, across the sites of a catalogue
version_added: 0.1.0
description:
  - Lists the instances tagged C(indigo_deployment=<deployment>) on every site of the site catalogue
    (or the sites named in O(sites)), querying the sites concurrently.
  - Hosts are named C(<deployment>-<node>-<index>) and grouped per TOSCA node template, plus the group
    C(indigo_deployment). Host variables keep the Infrastructure Manager contract (C(IM_NODE_PRIVATE_IP),
    C(IM_NODE_PUBLIC_IP), C(IM_INFRASTRUCTURE_ID), C(IM_NODE_NET_<n>_IP)) so INDIGO-era playbooks work.
  - Only instances are hosts; applications (Marathon, Chronos, Helm) never are.
  - The configuration file name must end with C(.indigo_deployment.yml) or C(.indigo_deployment.yaml).
author: INDIGO PaaS Ansible maintainers (@indigo-dc)
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin.
    required: true
    choices: [indigo.paas.deployment]
    type: str
  deployment:
    description: The deployment id.
    required: true
    type: str
  catalogue:
    description:
      - Path of the site catalogue (a directory of C(*.yml) files or one file).
      - Defaults to E(INDIGO_SITES), then C(inventories/sites) next to the inventory file's directory parent,
        then of the current directory.
    type: path
  sites:
    description: Only these sites of the catalogue. Default every site.
    type: list
    elements: str
    default: []
  ssh_private_key_file:
    description: Set as C(ansible_ssh_private_key_file) of every host.
    type: path
  fail_on_site_error:
    description:
      - Fail when a site cannot be queried (credentials missing, site unreachable).
      - By default such a site is skipped with a warning, so one broken site does not hide the others.
    type: bool
    default: false
"""

EXAMPLES = r"""
# slurm-demo.indigo_deployment.yml
plugin: indigo.paas.deployment
deployment: slurm-demo
catalogue: ~/indigo/inventories/sites
ssh_private_key_file: ~/.indigo/deployments/slurm-demo/ssh/id_ed25519
keyed_groups:
  - key: indigo_site
    prefix: site
compose:
  ansible_host: IM_NODE_PRIVATE_IP
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/indigo-inventory
"""

import concurrent.futures
import os

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display

from ansible_collections.indigo.paas.plugins.module_utils.credentials import CredentialError, resolve_credentials
from ansible_collections.indigo.paas.plugins.module_utils.providers import get_provider
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import ProviderError
from ansible_collections.indigo.paas.plugins.module_utils.sites import (
    SiteCatalogueError,
    default_catalogue_path,
    load_catalogue,
)
from ansible_collections.indigo.paas.plugins.module_utils.module_common import DEPLOYMENT_RE

display = Display()


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "indigo.paas.deployment"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith((".indigo_deployment.yml", ".indigo_deployment.yaml"))

    def _catalogue(self, path):
        configured = self.get_option("catalogue")
        if configured:
            return configured
        if os.environ.get("INDIGO_SITES"):
            return os.environ["INDIGO_SITES"]
        # a compiled project keeps its inventory in DIR/inventory/; the catalogue may sit in DIR/inventories/sites
        beside = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(path))), "inventories", "sites")
        return beside if os.path.exists(beside) else default_catalogue_path()

    def _query_site(self, site, deployment):
        provider = get_provider(site, resolve_credentials(site))
        user = site.get("ssh_user") or "root"
        return [dict(inst.to_dict(), ansible_user=user) for inst in provider.find_instances(deployment)]

    def _query(self, sites, deployment):
        """Instance dicts of every site, queried concurrently; a failing site is skipped or fatal."""
        results = []
        if not sites:
            return results
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(sites))) as pool:
            futures = {pool.submit(self._query_site, site, deployment): site["name"] for site in sites}
            for future in concurrent.futures.as_completed(futures):
                try:
                    results.extend(future.result())
                except (ProviderError, CredentialError, ValueError, ImportError) as exc:
                    message = "indigo.paas.deployment: site %s skipped: %s" % (futures[future], exc)
                    if self.get_option("fail_on_site_error"):
                        raise AnsibleParserError(message)
                    display.warning(message)
        results.sort(key=lambda inst: (inst["node"], inst["index"], inst["site"]))
        return results

    def _host_vars(self, inst, deployment):
        private = inst["private_ips"][0] if inst["private_ips"] else None
        public = inst["public_ips"][0] if inst["public_ips"] else None
        host_vars = {
            "ansible_host": inst["address"], "ansible_user": inst["ansible_user"],
            "IM_NODE_PRIVATE_IP": private, "IM_NODE_PUBLIC_IP": public, "IM_INFRASTRUCTURE_ID": deployment,
            "indigo_node": inst["node"], "indigo_index": inst["index"], "indigo_site": inst["site"],
            "indigo_instance_id": inst["id"], "indigo_status": inst["status"],
        }
        for number, address in enumerate(inst["public_ips"] + inst["private_ips"]):
            host_vars["IM_NODE_NET_%d_IP" % number] = address
        if self.get_option("ssh_private_key_file"):
            host_vars["ansible_ssh_private_key_file"] = os.path.expanduser(self.get_option("ssh_private_key_file"))
        return host_vars

    def _populate(self, instances, deployment):
        strict = self.get_option("strict")
        self.inventory.add_group("indigo_deployment")
        for inst in instances:
            host = inst["name"]
            group = self.inventory.add_group(inst["node"])
            self.inventory.add_host(host, group=group)
            self.inventory.add_host(host, group="indigo_deployment")
            host_vars = self._host_vars(inst, deployment)
            for key, value in host_vars.items():
                self.inventory.set_variable(host, key, value)
            self._set_composite_vars(self.get_option("compose"), host_vars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), host_vars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host_vars, host, strict=strict)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        deployment = self.get_option("deployment")
        if not isinstance(deployment, str) or not DEPLOYMENT_RE.match(deployment):
            raise AnsibleParserError("%s: deployment %r must match ^[a-z][a-z0-9-]{0,40}$" % (path, deployment))

        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        instances = None
        if use_cache:
            try:
                instances = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if instances is None:
            try:
                sites = load_catalogue(self._catalogue(path))
            except SiteCatalogueError as exc:
                raise AnsibleParserError(str(exc))
            wanted = self.get_option("sites")
            unknown = sorted(set(wanted) - {s["name"] for s in sites})
            if unknown:
                raise AnsibleParserError("%s: unknown site(s) %s" % (path, ", ".join(unknown)))
            instances = self._query([s for s in sites if not wanted or s["name"] in wanted], deployment)
        if update_cache:
            self._cache[cache_key] = instances
        self._populate(instances, deployment)
