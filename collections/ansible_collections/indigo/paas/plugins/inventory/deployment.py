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
import json
import os

from ansible.errors import AnsibleParserError
from ansible.inventory.host import Host
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.release import __version__ as ANSIBLE_CORE_VERSION
from ansible.utils.display import Display
from ansible.utils.path import basedir

# Only light modules here: module_common would import every cloud SDK, and a warm cache needs none of them.
from ansible_collections.indigo.paas.plugins.module_utils.credentials import CredentialError, resolve_credentials
from ansible_collections.indigo.paas.plugins.module_utils.providers import get_provider
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import ProviderError
from ansible_collections.indigo.paas.plugins.module_utils.naming import is_deployment_id
from ansible_collections.indigo.paas.plugins.module_utils.sites import (
    SiteCatalogueError,
    default_catalogue_path,
    load_catalogue,
)

display = Display()

# The cache holds one row per instance, all rows as one JSON text: ansible-core's cache envelope decodes
# and checks every string of the payload, so 10 000 rows cost 100 000 checks but one text costs one.
CACHE_FORMAT = 3
ROW_FIELDS = ("name", "node", "index", "site", "id", "status", "address", "private_ips", "public_ips", "ansible_user")
CONSTRUCT_OPTIONS = ("compose", "groups", "keyed_groups")
# ansible-core versions whose InventoryData.add_host the bulk path repeats (checked by the unit test
# tests/unit/test_inventory_bulk_add.py); any other version takes the public add_host path. Kept because
# it is needed: 10 000 instances parse in 2.18 s through it and 4.24 s through the public add_host
# (1.94x, bench/inventory.py, ansible-core 2.19).
BULK_ADD_VERSIONS = ("2.19.",)


def bulk_add_supported(data):
    return (ANSIBLE_CORE_VERSION.startswith(BULK_ADD_VERSIONS) and isinstance(getattr(data, "hosts", None), dict)
            and isinstance(getattr(data, "groups", None), dict) and hasattr(data, "_groups_dict_cache"))


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "indigo.paas.deployment"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith((".indigo_deployment.yml", ".indigo_deployment.yaml"))

    def _catalogue(self, path):
        configured = self.get_option("catalogue")
        if configured:
            return configured
        # a compiled project keeps its inventory in DIR/inventory/; the catalogue may sit in DIR/inventories/sites
        beside = default_catalogue_path(os.path.dirname(os.path.dirname(os.path.abspath(path))))
        return beside if os.path.exists(beside) else default_catalogue_path()

    @staticmethod
    def _query_site(site, deployment):
        provider = get_provider(site, resolve_credentials(site))
        user = site.get("ssh_user") or "root"
        return [[inst.name, inst.node, inst.index, inst.site, inst.id, inst.status, inst.address,
                 inst.private_ips, inst.public_ips, user] for inst in provider.find_instances(deployment)]

    def _query(self, sites, deployment):
        """Rows of every site, queried concurrently; a failing site is skipped or fatal."""
        rows = []
        if not sites:
            return rows
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(sites))) as pool:
            futures = {pool.submit(self._query_site, site, deployment): site["name"] for site in sites}
            for future in concurrent.futures.as_completed(futures):
                try:
                    rows.extend(future.result())
                except (ProviderError, CredentialError, ValueError, ImportError) as exc:
                    message = "indigo.paas.deployment: site %s skipped: %s" % (futures[future], exc)
                    if self.get_option("fail_on_site_error"):
                        raise AnsibleParserError(message)
                    display.warning(message)
        rows.sort(key=lambda row: (row[1], row[2], row[3]))  # node, index, site
        return rows

    def _list_instances(self, path, deployment):
        try:
            sites = load_catalogue(self._catalogue(path))
        except SiteCatalogueError as exc:
            raise AnsibleParserError(str(exc))
        wanted = self.get_option("sites")
        unknown = sorted(set(wanted) - {s["name"] for s in sites})
        if unknown:
            raise AnsibleParserError("%s: unknown site(s) %s" % (path, ", ".join(unknown)))
        return self._query([s for s in sites if not wanted or s["name"] in wanted], deployment)

    def _populate(self, rows, deployment):
        data = self.inventory
        key_file = self.get_option("ssh_private_key_file")
        key_file = os.path.expanduser(key_file) if key_file else None
        construct = {option: self.get_option(option) for option in CONSTRUCT_OPTIONS}
        strict = self.get_option("strict")
        everyone = data.groups[data.add_group("indigo_deployment")]
        fast = bulk_add_supported(data)
        if fast:
            source = data.current_source
            location = {"inventory_file": source, "inventory_dir": basedir(source) if source else None}
        hosts = data.hosts
        node_groups = {}  # node -> its Group, named as the inventory sanitized the node name
        for name, node, index, site, instance_id, status, address, private_ips, public_ips, user in rows:
            group = node_groups.get(node)
            if group is None:
                group = node_groups[node] = data.groups[data.add_group(node)]
            host_vars = {
                "ansible_host": address, "ansible_user": user,
                "IM_NODE_PRIVATE_IP": private_ips[0] if private_ips else None,
                "IM_NODE_PUBLIC_IP": public_ips[0] if public_ips else None,
                "IM_INFRASTRUCTURE_ID": deployment, "indigo_node": node, "indigo_index": index,
                "indigo_site": site, "indigo_instance_id": instance_id, "indigo_status": status,
            }
            for number, ip in enumerate(public_ips + private_ips):
                host_vars["IM_NODE_NET_%d_IP" % number] = ip
            if key_file:
                host_vars["ansible_ssh_private_key_file"] = key_file
            # Vars go straight into Host.vars: set_variable() validates the name and tags the value once
            # per variable, 12 calls a host. Our names are fixed and valid; plain strings stay untrusted
            # (never templated), as set_variable leaves them.
            if fast and name not in hosts:
                # what InventoryData.add_host(name, group) does, minus its per-call stat() of the source
                host = Host(name)
                host.vars = dict(location, **host_vars)
                hosts[name] = host
                group.add_host(host)
                everyone.add_host(host)
            else:
                data.add_host(name, group=group.name)
                data.add_host(name, group=everyone.name)
                hosts[name].vars.update(host_vars)
            if construct["compose"]:
                self._set_composite_vars(construct["compose"], host_vars, name, strict=strict)
            if construct["groups"]:
                self._add_host_to_composed_groups(construct["groups"], host_vars, name, strict=strict)
            if construct["keyed_groups"]:
                self._add_host_to_keyed_groups(construct["keyed_groups"], host_vars, name, strict=strict)
        if fast:
            data._groups_dict_cache = {}  # as add_host does after changing a group

    def _cache_fingerprint(self, path, deployment):
        """What the cached rows depend on: another deployment, catalogue or site filter is a cache miss."""
        return [str(deployment), str(self._catalogue(path)), sorted(str(site) for site in self.get_option("sites"))]

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        deployment = self.get_option("deployment")
        if not is_deployment_id(deployment):
            raise AnsibleParserError("%s: deployment %r must match ^[a-z][a-z0-9-]{0,40}$" % (path, deployment))

        cache_key = self.get_cache_key(path)
        fingerprint = self._cache_fingerprint(path, deployment)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        rows = None
        if use_cache:
            try:
                cached = self._cache[cache_key]
            except KeyError:
                cached = None
            if isinstance(cached, dict) and cached.get("format") == CACHE_FORMAT and cached.get("of") == fingerprint:
                rows = json.loads(cached["rows"])
            else:  # absent, or written by another version or for another configuration
                update_cache = True
        if rows is None:
            rows = self._list_instances(path, deployment)
        if update_cache:
            self._cache[cache_key] = {"format": CACHE_FORMAT, "of": fingerprint, "fields": list(ROW_FIELDS),
                                      "rows": json.dumps(rows, separators=(",", ":"))}
        self._populate(rows, deployment)
