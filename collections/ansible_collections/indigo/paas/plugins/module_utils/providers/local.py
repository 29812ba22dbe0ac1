# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""The ``local`` site: systemd-nspawn nodes on the controller machine.

The host tooling (bridge, apt proxy, base image, overlay roots, network namespaces, machines) lives in
this collection's ``module_utils/localsite`` (standard library only); this provider maps it onto the Provider interface so the generic
engine drives local nodes exactly like cloud instances. Tags live in each node's metadata file. The
module using this provider must run on the controller (localhost) as root, which is the case for the
compiled ``deploy.yml``.

Error classes: not root / tool missing / bad settings → fatal; the node does not fit the host's
CPUs, RAM or address range → quota; the node does not answer SSH in time → transient (the node is
removed first, so a retry starts clean).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.indigo.paas.plugins.module_utils import localsite
from ansible_collections.indigo.paas.plugins.module_utils.localsite import host as localsite_host

from ansible_collections.indigo.paas.plugins.module_utils import matching
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (
    TAG_DEPLOYMENT,
    TAG_INDEX,
    TAG_NODE,
    FatalError,
    Instance,
    Provider,
    QuotaError,
    Resource,
    TransientError,
)

DEFAULT_CPUS = 1
DEFAULT_MEM_MB = 512
SUPPORTED_DISTRIBUTIONS = ("debian", None, "")


class LocalProvider(Provider):
    """Nodes on this machine; ``site['local']`` holds bridge, subnet and state_dir."""

    kind = "local"

    def __init__(self, site, credentials=None):
        super(LocalProvider, self).__init__(site, credentials)
        try:
            self.cfg = localsite.LocalSiteConfig.from_site(self.site)
        except (TypeError, ValueError) as exc:
            raise FatalError("site %s: invalid local settings: %s" % (self.site_name, exc), self.site_name)
        self.localsite = localsite.LocalSite(self.cfg)
        self._prepared = False

    # -- helpers ---------------------------------------------------------------------------
    def _call(self, func, *args, **kwargs):
        """Run a local-site operation, turning its errors into the classified provider errors."""
        try:
            return func(*args, **kwargs)
        except localsite.CapacityError as exc:
            raise QuotaError(str(exc), self.site_name)
        except localsite.NodeTimeout as exc:
            raise TransientError(str(exc), self.site_name)
        except localsite.LocalSiteError as exc:
            raise FatalError(str(exc), self.site_name)
        except OSError as exc:
            raise FatalError("local site: %s" % exc, self.site_name)

    def _ensure_ready(self):
        if not self._prepared:
            self._call(self.localsite.ensure_ready)
            self._prepared = True

    def _to_instance(self, record):
        index = record.tags.get(TAG_INDEX, "0")
        return Instance(
            id=record.name, name=record.name, site=self.site_name,
            deployment=record.tags.get(TAG_DEPLOYMENT, ""), node=record.tags.get(TAG_NODE, ""),
            index=int(index) if str(index).isdigit() else 0, status=record.status,
            # Local nodes are reachable from this machine only: the one address is both the private
            # address and the address the deployment is reached at ("public" from the controller).
            private_ips=[record.address], public_ips=[record.address],
            flavor="%dcpu-%dmb" % (record.cpus, record.mem_mb), image=record.layer or "debian-%s" % self.cfg.suite,
            extra={"hostname": record.hostname, "pid": record.pid, "host_key": record.host_key,
                   "known_hosts_file": str(self.cfg.known_hosts_file),
                   # what nodes of other local sites dial for the published ports (the site's floating IP)
                   "public_endpoint": self.cfg.bridge_ip if getattr(record, "published", None) else None},
        )

    def _size(self, spec):
        cpus, mem_mb = spec.num_cpus, spec.mem_mb
        if spec.flavor:
            flavor = matching.flavor_named(self.site.get("flavors"), spec.flavor)
            if flavor is None:
                raise FatalError("flavor %r is not in the catalogue of site %s" % (spec.flavor, self.site_name), self.site_name)
            cpus, mem_mb = cpus or flavor.get("num_cpus"), mem_mb or flavor.get("mem_mb")
        return int(cpus or DEFAULT_CPUS), int(mem_mb or DEFAULT_MEM_MB)

    # -- instances -------------------------------------------------------------------------
    def find_instances(self, deployment, node=None):
        tags = {TAG_DEPLOYMENT: deployment}
        if node is not None:
            tags[TAG_NODE] = node
        return [self._to_instance(r) for r in self._call(self.localsite.nodes, **tags)]

    def create_instance(self, spec):
        distribution = (spec.os_distribution or "").lower() or None
        if distribution not in SUPPORTED_DISTRIBUTIONS:
            raise FatalError("the local site runs Debian %s nodes only, not %s" % (self.cfg.suite, spec.os_distribution),
                             self.site_name)
        if spec.volumes:
            raise FatalError("the local site has no block volumes (node %s asks for %d)" % (spec.node, len(spec.volumes)),
                             self.site_name)
        cpus, mem_mb = self._size(spec)
        self._ensure_ready()
        record = self._call(
            self.localsite.create_node, spec.name, spec.tags, cpus=cpus, mem_mb=mem_mb, gpus=spec.gpus,
            ssh_public_key=spec.ssh_public_key, wait=True, publish=self._published_ports(spec),
            packages=self._cached_packages(spec),
        )
        return self._to_instance(record)

    @staticmethod
    def _cached_packages(spec):
        return sorted(set((spec.extra or {}).get("cached_packages") or []))

    def prepare_image(self, spec):
        """Build the site's cached package layer for the spec now (a deploy warms what scale-outs use)."""
        packages = self._cached_packages(spec)
        if not packages:
            return None
        self._ensure_ready()
        return self._call(self.localsite.ensure_layer, packages)

    def _published_ports(self, spec):
        """A public address on the local site: the node's ports other than SSH, relayed from the bridge."""
        if not (spec.public_ip and self.cfg.publish_ports):
            return []
        return sorted({(int(p["port"]), str(p.get("protocol") or "tcp").lower()) for p in spec.ports or []
                       if p.get("port") and int(p["port"]) != 22})

    def get_instance(self, instance_id):
        record = self._call(self.localsite.get, instance_id)
        return self._to_instance(record) if record else None

    def delete_instance(self, instance_id, wait=True):
        self._call(self.localsite.delete_node, instance_id)
        return []  # a node owns nothing else on the site

    # Local nodes boot in seconds: poll faster than the cloud default.
    max_poll_interval = 0.3

    def boot_failure(self, inst, instance_id):
        # A node whose machine stopped (killed, crashed) never comes back by itself: fail at once
        # instead of waiting out the timeout.
        if inst.status == "stopped":
            return "instance %s stopped while booting" % instance_id
        return super().boot_failure(inst, instance_id)

    # -- deployment-wide -------------------------------------------------------------------
    def find_resources(self, deployment):
        return []  # nodes share the site's bridge and proxy: a deployment owns only its nodes

    def delete_deployment(self, deployment):
        deleted = self._call(self.localsite.delete_deployment, deployment)
        return [Resource(kind="instance", id=name, name=name, site=self.site_name) for name in deleted]

    # -- monitoring ------------------------------------------------------------------------
    def health(self):
        started = time.monotonic()
        try:
            localsite_host.check_host()
            error = None
        except localsite.HostNotReady as exc:
            error = str(exc)
        return {"reachable": error is None, "latency_ms": (time.monotonic() - started) * 1000.0, "error": error}

    def usage(self):
        return self.localsite.usage()
