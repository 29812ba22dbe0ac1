# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""OpenStack provider, through openstacksdk: connection, API calls, servers, teardown and monitoring here;
networking (``openstack_network.py``), volumes (``openstack_volumes.py``), images and flavors
(``openstack_images.py``) in mixins of their own.

What a deployment owns is found by tags, never by a state file: servers carry the ``indigo_*`` keys
in their metadata; networks, subnets, routers, security groups and floating IPs carry the Neutron tag
``indigo_deployment=<id>``; volumes carry ``indigo_deployment`` in their Cinder metadata; the key pair
is named ``indigo-<id>`` (key pairs have no tags). Teardown deletes in the order Neutron requires
(servers, floating IPs, volumes, router interfaces, routers, networks, security groups).

Site options read here (besides the catalogue contract): ``network.public`` (external network for
routers and floating IPs), ``network.cidr`` / ``network.dns_nameservers`` (per-deployment subnet),
``api_retries``/``api_retry_delay`` (backoff on transient errors), ``poll_interval``,
``delete_timeout``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import concurrent.futures
import ipaddress
import threading
import time

from ansible_collections.indigo.paas.plugins.module_utils.naming import DEPLOYMENT_PATTERN, is_deployment_id
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (
    TAG_DEPLOYMENT, TAG_INDEX, TAG_NODE, AuthError, FatalError, Instance, Provider, ProviderError,
    QuotaError, Resource, TransientError, api_attempts, api_retry_delay, retry_transient)
# the provider's concerns, one file each; parse_gpus is re-exported (a public name of this module)
from ansible_collections.indigo.paas.plugins.module_utils.providers.openstack_images import (  # noqa: F401  pylint: disable=unused-import
    OpenStackImagesMixin, parse_gpus)
from ansible_collections.indigo.paas.plugins.module_utils.providers.openstack_network import OpenStackNetworkMixin
from ansible_collections.indigo.paas.plugins.module_utils.providers.openstack_volumes import OpenStackVolumesMixin

try:
    import openstack
    from openstack import exceptions as sdk_exceptions
    from keystoneauth1 import exceptions as ks_exceptions
    import requests
    HAS_OPENSTACKSDK = True
except ImportError:  # reported as a FatalError when the provider is used, not at import
    HAS_OPENSTACKSDK = False

STATUS_MAP = {"ACTIVE": "active", "BUILD": "building", "ERROR": "error", "DELETED": "deleted",
              "SOFT_DELETED": "deleted", "SHUTOFF": "stopped", "SUSPENDED": "stopped", "PAUSED": "stopped",
              "SHELVED": "stopped", "SHELVED_OFFLOADED": "stopped", "STOPPED": "stopped"}
TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


def classify_error(exc, site=None, action=None):
    """Map an SDK/keystoneauth/requests exception onto the provider error classes."""
    if isinstance(exc, ProviderError):
        return exc
    prefix = "%s: " % action if action else ""
    text = "%s%s" % (prefix, getattr(exc, "details", None) or exc)
    status = getattr(exc, "status_code", None) or getattr(exc, "http_status", None)
    if isinstance(exc, ks_exceptions.SSLError):
        return FatalError("%sTLS verification failed (%s)" % (prefix, exc), site)
    if isinstance(exc, ks_exceptions.DiscoveryFailure):
        # keystoneauth turns connection errors during identity discovery into this one exception
        return TransientError("%sno Keystone v3 answer at the auth_url (%s)" % (prefix, exc), site)
    if isinstance(exc, (ks_exceptions.RetriableConnectionFailure, ks_exceptions.ConnectFailure,
                        requests.ConnectionError, requests.Timeout, sdk_exceptions.ResourceTimeout)):
        return TransientError(text, site)
    if isinstance(exc, (ks_exceptions.MissingAuthPlugin, ks_exceptions.MissingRequiredOptions,
                        ks_exceptions.Unauthorized)) or status == 401:
        return AuthError("%scredentials refused or incomplete (%s)" % (prefix, exc), site)
    if status == 413 or (status in (403, 409) and "quota" in text.lower()):
        return QuotaError(text, site)
    if status in TRANSIENT_STATUS:
        return TransientError(text, site)
    return FatalError(text, site)


def _field(value, name):
    """A field of a nested body that the SDK gives as a Resource or a plain dict, depending on version."""
    if value is None:
        return None
    return getattr(value, name, None) if not isinstance(value, dict) or hasattr(value, "_body") else value.get(name)


class OpenStackProvider(OpenStackNetworkMixin, OpenStackVolumesMixin, OpenStackImagesMixin, Provider):
    kind = "openstack"
    retries_own_calls = True  # every SDK call goes through _api / _create_server (openstacksdk itself does not retry)

    def __init__(self, site, credentials=None):
        super(OpenStackProvider, self).__init__(site, credentials)
        self.retries = api_attempts(self.site)  # the one retry layer (providers/base.py)
        self.retry_delay = api_retry_delay(self.site)
        self.poll_interval = float(self.site.get("poll_interval", 2.0))
        self.delete_timeout = float(self.site.get("delete_timeout", 600))
        self._conn = None
        self._conn_lock = threading.Lock()
        self._prepare_lock = threading.Lock()  # creates of one deployment share one network, group, key
        self._flavor_lock = threading.Lock()
        self._prepared = {}
        self._networks = {}
        self._flavors = None
        self._images = {}

    # -- connection and API calls -------------------------------------------------------------------
    @property
    def conn(self):
        with self._conn_lock:
            if self._conn is None:
                if not HAS_OPENSTACKSDK:
                    raise FatalError("the openstacksdk Python package is required for OpenStack sites", self.site_name)
                try:
                    self._conn = openstack.connection.Connection(app_name="indigo.paas", **self._connection_options())
                except Exception as exc:  # bad clouds.yaml, unknown auth type: nothing was sent yet
                    raise classify_error(exc, self.site_name, "connecting to site %s" % self.site_name)
            return self._conn

    def _connection_options(self):
        creds = self.credentials
        options = {"region_name": self.site.get("region") or creds.get("region_name")}
        if "verify_tls" in self.site or not creds.get("cloud"):
            options["verify"] = creds.get("cacert") or bool(self.site.get("verify_tls", True))
        if creds.get("cloud"):
            options["cloud"] = creds["cloud"]
            return options
        auth_url = creds.get("auth_url") or self.site.get("endpoint")
        if not auth_url:
            raise FatalError("site %s: no endpoint (Keystone auth_url) and no clouds.yaml cloud" % self.site_name, self.site_name)
        auth_type = creds.get("auth_type") or (
            "v3oidcaccesstoken" if creds.get("access_token") else
            "v3applicationcredential" if creds.get("application_credential_secret") else
            "v3token" if creds.get("token") else "password")
        fields = {
            "password": ("username", "user_id", "password", "user_domain_name", "user_domain_id"),
            "v3applicationcredential": ("application_credential_id", "application_credential_name",
                                        "application_credential_secret", "username", "user_domain_name"),
            "v3oidcaccesstoken": ("access_token", "identity_provider", "protocol"),
            "v3token": ("token",), "token": ("token",),
        }.get(auth_type)
        if fields is None:
            raise AuthError("site %s: unsupported auth_type %r" % (self.site_name, auth_type), self.site_name)
        scope = () if auth_type == "v3applicationcredential" else (
            "project_name", "project_id", "project_domain_name", "project_domain_id")
        auth = {key: creds[key] for key in fields + scope if creds.get(key)}
        auth["auth_url"] = auth_url
        options.update(auth_type=auth_type, auth=auth)
        return options

    def _api(self, action, func, *args, **kwargs):
        """One SDK call: classified errors, transient ones retried with backoff.
        Generators are drained inside, so listing errors are classified too."""
        def attempt():
            try:
                result = self._sdk(func)(*args, **kwargs)
                return list(result) if hasattr(result, "__next__") else result
            except Exception as exc:
                raise classify_error(exc, self.site_name, action)
        return retry_transient(attempt, attempts=self.retries, base_delay=self.retry_delay)

    def _sdk(self, func):
        """``"compute.servers"`` → the bound proxy method. Resolved inside the classified call because
        the first proxy access authenticates and discovers endpoints, which can fail like any call."""
        if not isinstance(func, str):
            return func
        service, method = func.split(".", 1)
        return getattr(getattr(self.conn, service), method)

    @staticmethod
    def _parallel(calls, workers=8):
        """Run independent API calls at once (each pays the cloud's latency); results in order, and
        the first error is raised only after every call has finished, so nothing runs unobserved."""
        if len(calls) <= 1:
            return [call() for call in calls]
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(calls))) as pool:
            futures = [pool.submit(call) for call in calls]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]
        return [f.result() for f in futures]

    def _get_or_none(self, action, func, resource_id):
        """A GET that answers None for 404 (one call; ``find_*`` would add a listing on a miss)."""
        def get():
            try:
                return self._sdk(func)(resource_id)
            except sdk_exceptions.NotFoundException:
                return None
        return self._api(action, get)

    def _check_deployment(self, deployment):
        if not is_deployment_id(deployment):
            raise FatalError("invalid deployment id %r (expected %s)" % (deployment, DEPLOYMENT_PATTERN), self.site_name)

    # -- instances ------------------------------------------------------------------------------------
    def _to_instance(self, server):
        meta = server.metadata or {}
        private, public = [], []
        for entries in (server.addresses or {}).values():
            for entry in entries:
                address = entry.get("addr")
                floating = entry.get("OS-EXT-IPS:type") == "floating"
                if floating or (address and ipaddress.ip_address(address).is_global):
                    public.append(address)
                elif address:
                    private.append(address)
        flavor = server.flavor
        fault = server.fault or {}
        try:
            index = int(meta.get(TAG_INDEX, -1))
        except ValueError:
            index = -1
        return Instance(
            id=server.id, name=server.name, site=self.site_name, deployment=meta.get(TAG_DEPLOYMENT, ""),
            node=meta.get(TAG_NODE, ""), index=index, status=STATUS_MAP.get(server.status, "building"),
            private_ips=private, public_ips=public, flavor=_field(flavor, "original_name") or _field(flavor, "name") or _field(flavor, "id"),
            image=_field(server.image, "id"),
            extra={"fault": fault.get("message"), "key_name": server.key_name,
                   "availability_zone": server.availability_zone,
                   "volumes": [v.get("id") for v in server.attached_volumes or []]})

    def find_instances(self, deployment, node=None):
        self._check_deployment(deployment)
        # Nova filters names by regular expression server-side; metadata is checked exactly here.
        servers = self._api("listing servers", "compute.servers", details=True, name="^%s-" % deployment)
        found = [self._to_instance(s) for s in servers
                 if (s.metadata or {}).get(TAG_DEPLOYMENT) == deployment
                 and (node is None or (s.metadata or {}).get(TAG_NODE) == node)]
        return sorted((i for i in found if i.status != "deleted"), key=lambda i: (i.node, i.index))

    def get_instance(self, instance_id):
        server = self._get_or_none("reading server %s" % instance_id, "compute.get_server", instance_id)
        return None if server is None else self._to_instance(server)

    def wait_active(self, instance_id, timeout=600, interval=None):
        return super(OpenStackProvider, self).wait_active(instance_id, timeout, interval or self.poll_interval)

    def create_instance(self, spec):
        self._check_deployment(spec.deployment)
        prepared, created = self._prepare_node(spec)
        image, flavor = self._resolve_image(spec), self._resolve_flavor(spec)
        attrs = {"name": spec.name, "image_id": image.id, "flavor_id": flavor.id,
                 "networks": [{"uuid": prepared["network_id"]}],
                 "security_groups": [{"name": prepared["security_group"]}], "metadata": spec.tags}
        if prepared.get("key_name"):
            attrs["key_name"] = prepared["key_name"]
        if spec.user_data:
            attrs["user_data"] = base64.b64encode(spec.user_data.encode("utf-8")).decode("ascii")
        if spec.availability_zone:
            attrs["availability_zone"] = spec.availability_zone
        server = self._create_server(spec, attrs)
        try:
            if spec.public_ip or spec.volumes:
                self.wait_active(server.id, timeout=float(self.site.get("build_timeout", 900)))
                for volume in spec.volumes:
                    self._attach_volume(server.id, spec, volume, created)
                if spec.public_ip:
                    self._attach_floating_ip(server.id, spec.deployment, prepared, created)
                instance = self.get_instance(server.id)
            else:  # Nova's create answer has no addresses yet: describe the accepted server without another call
                instance = Instance(id=server.id, name=spec.name, site=self.site_name, deployment=spec.deployment,
                                    node=spec.node, index=spec.index, status="building", flavor=flavor.name,
                                    image=image.id)
            instance.created_resources = created
            return instance
        except Exception as exc:
            try:  # nothing half-built survives a failed create
                self.delete_instance(server.id, wait=True)
            except ProviderError as cleanup:
                if isinstance(exc, ProviderError):
                    exc.details["cleanup_error"] = cleanup.message
            raise

    def _create_server(self, spec, attrs):
        """POST /servers with backoff; before a retry, adopt a server the failed call did create."""
        calls = []

        def attempt():
            if calls:
                for instance in self.find_instances(spec.deployment, spec.node):
                    if instance.index == spec.index:
                        return instance
            calls.append(1)
            try:
                return self._sdk("compute.create_server")(**attrs)
            except Exception as exc:
                raise classify_error(exc, self.site_name, "creating server %s" % spec.name)
        return retry_transient(attempt, attempts=self.retries, base_delay=self.retry_delay)

    def delete_instance(self, instance_id, wait=True):
        server = self._get_or_none("reading server %s" % instance_id, "compute.get_server", instance_id)
        if server is None:
            return []
        deployment = (server.metadata or {}).get(TAG_DEPLOYMENT)
        deleted = []
        for fip in self._server_floating_ips(server.id, deployment):
            self._api("deleting floating IP %s" % fip.id, "network.delete_ip", fip, ignore_missing=True)
            deleted.append(Resource("floating_ip", fip.id, fip.floating_ip_address or "", self.site_name))
        volumes = self._owned_volumes(deployment, server.name) if deployment else []
        self._api("deleting server %s" % server.name, "compute.delete_server", server.id, ignore_missing=True)
        if wait:
            self._wait_gone([server.id])
            for volume in volumes:
                self._delete_volume(volume.id)
                deleted.append(Resource("volume", volume.id, volume.name, self.site_name))
        return deleted

    def _wait_gone(self, server_ids):
        deadline = time.monotonic() + self.delete_timeout
        pending = list(server_ids)
        while pending:
            if len(pending) == 1:
                pending = [sid for sid in pending
                           if self._get_or_none("reading server %s" % sid, "compute.get_server", sid) is not None]
            else:  # one listing per round instead of one GET per server
                listed = {server.id for server in self._api("listing servers", "compute.servers", details=False)}
                pending = [sid for sid in pending if sid in listed]
            if pending and time.monotonic() >= deadline:
                raise TransientError("servers %s not deleted after %ss" % (", ".join(pending), self.delete_timeout),
                                     self.site_name)
            if pending:
                time.sleep(self.poll_interval)

    # -- deployment-wide resources ----------------------------------------------------------------------
    def prepare_deployment(self, deployment, specs):
        self._check_deployment(deployment)
        created = []
        for spec in specs:
            created += self._prepare_node(spec)[1]
        return created

    def _prepare_node(self, spec):
        """(what the node's servers need, the Resources this call created: none once prepared)."""
        created = []
        with self._prepare_lock:
            key = (spec.deployment, spec.node)
            if key not in self._prepared:
                network_key = (spec.deployment, spec.network)
                calls = [lambda: self._ensure_security_group(spec, created),
                         lambda: self._ensure_keypair(spec.deployment, spec.ssh_public_key, created),
                         lambda: self._resolve_image(spec), lambda: self._resolve_flavor(spec)]
                if network_key not in self._networks:
                    calls.append(lambda: self._ensure_network(spec, created))
                results = self._parallel(calls)
                if network_key not in self._networks:
                    self._networks[network_key] = results[-1]
                network_id, external_id = self._networks[network_key]
                self._prepared[key] = {"network_id": network_id, "external_network_id": external_id,
                                       "security_group": results[0], "key_name": results[1]}
            return self._prepared[key], created

    # -- teardown and inventory of resources ----------------------------------------------------------------
    def find_resources(self, deployment):
        self._check_deployment(deployment)
        kinds = (("floating_ip", "ips"), ("router", "routers"), ("subnet", "subnets"), ("network", "networks"),
                 ("security_group", "security_groups"))
        listings = self._parallel([lambda lister=lister: self._tagged(lister, deployment) for _kind, lister in kinds] + [
            lambda: self._owned_volumes(deployment),
            lambda: self._api("reading key pair", "compute.find_keypair", "indigo-%s" % deployment,
                              ignore_missing=True)])
        found = [Resource(kind, item.id, item.name or getattr(item, "floating_ip_address", ""), self.site_name)
                 for (kind, _lister), items in zip(kinds, listings) for item in items]
        found += [Resource("volume", volume.id, volume.name, self.site_name) for volume in listings[-2]]
        if listings[-1] is not None:
            found.append(Resource("keypair", listings[-1].name, listings[-1].name, self.site_name))
        return found

    def _delete_resource(self, resource):
        if resource.kind == "floating_ip":
            self._api("deleting floating IP", "network.delete_ip", resource.id, ignore_missing=True)
        elif resource.kind == "volume":
            self._delete_volume(resource.id)
        elif resource.kind == "router":
            for port in self._api("listing router ports", "network.ports", device_id=resource.id):
                if port.device_owner == "network:router_interface":
                    self._api("removing router interface", "network.remove_interface_from_router", resource.id,
                              port=port.id)
            self._api("deleting router", "network.delete_router", resource.id, ignore_missing=True)
        elif resource.kind in ("subnet", "network", "security_group"):
            self._api("deleting %s" % resource.kind, "network.delete_%s" % resource.kind, resource.id,
                      ignore_missing=True)
        else:
            self._api("deleting key pair", "compute.delete_keypair", resource.id, ignore_missing=True)
        return resource

    def delete_deployment(self, deployment):
        self._check_deployment(deployment)
        instances = self.find_instances(deployment)
        deleted = [Resource("instance", i.id, i.name, self.site_name) for i in instances]
        # all deletes at once, then one wait: teardown takes one deletion's time, not N
        deletes = [lambda i=instance: self._api("deleting server %s" % i.name, "compute.delete_server", i.id,
                                                ignore_missing=True) for instance in instances]
        self._parallel(deletes, workers=16)
        self._wait_gone([i.id for i in instances])
        resources = self.find_resources(deployment)
        # Neutron's order: what uses a subnet (floating IPs, router interfaces) before the subnet, ports
        # (gone with the servers) before security groups, subnets before their network
        for stage in (("floating_ip", "volume", "router", "keypair"), ("subnet", "security_group"), ("network",)):
            deleted += self._parallel([lambda r=resource: self._delete_resource(r)
                                       for resource in resources if resource.kind in stage])
        with self._prepare_lock:
            self._prepared = {k: v for k, v in self._prepared.items() if k[0] != deployment}
            self._networks = {k: v for k, v in self._networks.items() if k[0] != deployment}
        return deleted

    # -- monitoring -------------------------------------------------------------------------------------------
    def health(self):
        start = time.monotonic()
        try:
            session = self.conn.session
            session.auth.invalidate()  # time a real token request, not the cached token
            session.get_token()
            return {"reachable": True, "latency_ms": (time.monotonic() - start) * 1000.0, "error": None}
        except Exception as exc:
            error = classify_error(exc, self.site_name, "token request")
            return {"reachable": error.kind == "auth", "latency_ms": (time.monotonic() - start) * 1000.0,
                    "error": error.message, "error_class": error.kind}

    def usage(self):
        limits = self._api("reading limits", "compute.get_limits").absolute

        def pair(limit, used):
            return {"limit": None if limit is None or int(limit) < 0 else int(limit), "used": int(used or 0)}
        result = {"instances": pair(limits.instances, limits.instances_used),
                  "cores": pair(limits.total_cores, limits.total_cores_used),
                  "ram_mb": pair(limits.total_ram, limits.total_ram_used),
                  "gpus": {"limit": None, "used": None}}
        try:
            quota = self._api("reading network quota",
                              lambda: self.conn.network.get_quota(self.conn.current_project_id, details=True))
            fips = quota.floating_ips or {}
            result["floating_ips"] = pair(fips.get("limit"), fips.get("used"))
        except FatalError:  # Neutron without the quota details extension: floating IP use stays unknown
            result["floating_ips"] = {"limit": None, "used": None}
        return result
