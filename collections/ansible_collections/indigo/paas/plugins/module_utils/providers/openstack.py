# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""OpenStack provider, through openstacksdk.

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
import re
import threading
import time

from ansible_collections.indigo.paas.plugins.module_utils import matching
from ansible_collections.indigo.paas.plugins.module_utils.naming import DEPLOYMENT_PATTERN, is_deployment_id
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (
    TAG_DEPLOYMENT, TAG_INDEX, TAG_NODE, AuthError, FatalError, Instance, Provider, ProviderError,
    QuotaError, Resource, TransientError, api_attempts, api_retry_delay, retry_transient)

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


def parse_gpus(extra_specs):
    """GPUs a flavor gives: PCI passthrough aliases (``alias:count,...``) or placement PGPU/VGPU."""
    specs = extra_specs or {}
    count = 0
    for alias in str(specs.get("pci_passthrough:alias") or "").split(","):
        if alias.strip():
            count += int(alias.partition(":")[2] or 1)
    for key in ("resources:PGPU", "resources:VGPU"):
        count += int(specs.get(key) or 0)
    return count


def _field(value, name):
    """A field of a nested body that the SDK gives as a Resource or a plain dict, depending on version."""
    if value is None:
        return None
    return getattr(value, name, None) if not isinstance(value, dict) or hasattr(value, "_body") else value.get(name)


class OpenStackProvider(Provider):
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

    @staticmethod
    def _tag(deployment):
        return "%s=%s" % (TAG_DEPLOYMENT, deployment)

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

    # -- floating IPs and volumes ----------------------------------------------------------------------
    def _server_floating_ips(self, server_id, deployment):
        if not deployment:
            return []
        ports = self._api("listing ports", "network.ports", device_id=server_id)
        return [fip for port in ports
                for fip in self._api("listing floating IPs", "network.ips", port_id=port.id)
                if self._tag(deployment) in (fip.tags or [])]

    def _attach_floating_ip(self, server_id, deployment, prepared, created):
        if self._server_floating_ips(server_id, deployment):
            return
        external = prepared.get("external_network_id")
        if not external:
            raise FatalError("public_ip requested but site %s has no external network" % self.site_name, self.site_name)
        ports = self._api("listing ports", "network.ports", device_id=server_id)
        if not ports:
            raise FatalError("server %s has no port to attach a floating IP to" % server_id, self.site_name)
        fip = self._api("allocating a floating IP", "network.create_ip", floating_network_id=external)
        try:
            self._api("tagging floating IP", "network.set_tags", fip, [self._tag(deployment)])
            self._api("associating floating IP", "network.update_ip", fip, port_id=ports[0].id)
        except ProviderError:
            self._api("releasing floating IP", "network.delete_ip", fip, ignore_missing=True)
            raise
        created.append(Resource("floating_ip", fip.id, fip.floating_ip_address or "", self.site_name))

    def _owned_volumes(self, deployment, instance_name=None):
        volumes = self._api("listing volumes", "block_storage.volumes", details=True)
        return [v for v in volumes if (v.metadata or {}).get(TAG_DEPLOYMENT) == deployment
                and (instance_name is None or (v.metadata or {}).get("indigo_instance") == instance_name)]

    def _attach_volume(self, server_id, spec, volume_spec, created):
        volume_id = volume_spec.volume_id
        if volume_id is None:
            name = "%s-%s" % (spec.name, volume_spec.name)
            existing = [v for v in self._owned_volumes(spec.deployment, spec.name) if v.name == name]
            if existing:
                volume = existing[0]
            else:
                volume = self._api(
                    "creating volume %s" % name, "block_storage.create_volume", size=int(volume_spec.size_gb),
                    name=name, volume_type=volume_spec.volume_type, availability_zone=spec.availability_zone,
                    metadata=dict(spec.tags, indigo_instance=spec.name, indigo_volume=volume_spec.name))
                created.append(Resource("volume", volume.id, volume.name or name, self.site_name))
            volume_id = volume.id
        volume = self._wait_volume(volume_id, ("available", "in-use"))
        if volume.status == "in-use":
            return
        self._api("attaching volume %s" % volume_id, "compute.create_volume_attachment", server_id,
                  volume=volume_id, device=volume_spec.device)

    def _wait_volume(self, volume_id, statuses):
        deadline = time.monotonic() + self.delete_timeout
        while True:
            volume = self._api("reading volume %s" % volume_id, "block_storage.get_volume", volume_id)
            if volume.status in statuses:
                return volume
            if volume.status.startswith("error"):
                raise FatalError("volume %s is in status %s" % (volume_id, volume.status), self.site_name)
            if time.monotonic() >= deadline:
                raise TransientError("volume %s still %s" % (volume_id, volume.status), self.site_name)
            time.sleep(min(self.poll_interval, 1.0))

    def _delete_volume(self, volume_id):
        self._wait_volume(volume_id, ("available", "error"))
        self._api("deleting volume %s" % volume_id, "block_storage.delete_volume", volume_id,
                  ignore_missing=True)

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

    def _tagged(self, kind, deployment, **filters):
        return self._api("listing %s" % kind, "network." + kind, tags=self._tag(deployment), **filters)

    def _create_tagged(self, kind, deployment, creator, deleter, created, **attrs):
        """Create with the tag in the body (Neutron's tag-creation extension); where the cloud refuses
        that, create then tag at once, deleting a resource that cannot be tagged: teardown could never
        find it. The new resource is added to ``created`` (kind as find_resources names it)."""
        try:
            resource = self._api("creating %s" % kind, creator, tags=[self._tag(deployment)], **attrs)
        except FatalError as exc:
            if "tags" not in exc.message:
                raise
            resource = self._api("creating %s" % kind, creator, **attrs)
            try:
                self._api("tagging %s" % kind, "network.set_tags", resource, [self._tag(deployment)])
            except ProviderError:
                self._api("deleting %s" % kind, deleter, resource, ignore_missing=True)
                raise
        created.append(Resource(kind.replace(" ", "_"), resource.id, resource.name or "", self.site_name))
        return resource

    def _external_network(self):
        name = (self.site.get("network") or {}).get("public")
        if name:
            network = self._api("finding network %s" % name, "network.find_network", name, ignore_missing=True)
            if network is None:
                raise FatalError("public network %s not found on site %s" % (name, self.site_name), self.site_name)
            return network.id
        externals = self._api("listing external networks", "network.networks", is_router_external=True)
        return externals[0].id if externals else None

    def _ensure_network(self, spec, created):
        """The site's network, or the deployment's own network + subnet + router. Independent calls
        go out together: on a slow API this chain is what a first deployment waits for."""
        name = spec.network or (self.site.get("network") or {}).get("private")
        if name:
            external_id, network = self._parallel([self._external_network, lambda: self._api(
                "finding network %s" % name, "network.find_network", name, ignore_missing=True)])
            if network is None:
                raise FatalError("network %s not found on site %s" % (name, self.site_name), self.site_name)
            return network.id, external_id
        deployment, label = spec.deployment, "indigo-%s" % spec.deployment
        site_network = self.site.get("network") or {}
        external_id, networks, subnets, routers = self._parallel([
            self._external_network, lambda: self._tagged("networks", deployment),
            lambda: self._tagged("subnets", deployment), lambda: self._tagged("routers", deployment)])
        network = networks[0] if networks else self._create_tagged(
            "network", deployment, "network.create_network", "network.delete_network", created, name=label)
        subnets = [s for s in subnets if s.network_id == network.id]

        def subnet_call():
            return subnets[0] if subnets else self._create_tagged(
                "subnet", deployment, "network.create_subnet", "network.delete_subnet", created, network_id=network.id,
                name=label, ip_version=4, cidr=site_network.get("cidr", "10.10.0.0/24"),
                dns_nameservers=site_network.get("dns_nameservers", []))

        def router_call():
            if routers or not external_id:
                return routers[0] if routers else None
            return self._create_tagged("router", deployment, "network.create_router", "network.delete_router",
                                       created, name=label, external_gateway_info={"network_id": external_id})
        subnet, router = self._parallel([subnet_call, router_call])
        if router is not None:
            interfaces = self._api("listing router ports", "network.ports", device_id=router.id, network_id=network.id)
            if not interfaces:
                self._api("adding router interface", "network.add_interface_to_router", router, subnet=subnet.id)
        return network.id, external_id

    def _ensure_security_group(self, spec, created):
        name = "indigo-%s-%s" % (spec.deployment, spec.node)
        groups = self._tagged("security_groups", spec.deployment, name=name)
        group = groups[0] if groups else self._create_tagged(
            "security group", spec.deployment, "network.create_security_group", "network.delete_security_group", created, name=name,
            description="indigo.paas deployment %s node %s" % (spec.deployment, spec.node))
        wanted = [("tcp", 22, 22, "0.0.0.0/0", None), (None, None, None, None, group.id)]
        for port in spec.ports:
            protocol = str(port.get("protocol") or "tcp").lower()
            if protocol not in ("tcp", "udp", "icmp"):
                raise FatalError("port %r: protocol must be tcp, udp or icmp" % (port,), self.site_name)
            low, high = (str(port.get("port", "")).split("-", 1) + [""])[:2]
            if protocol != "icmp" and not low.isdigit():
                raise FatalError("port %r: 'port' must be a number or a range like 8000-8100" % (port,), self.site_name)
            bounds = (None, None) if protocol == "icmp" else (int(low), int(high or low))
            wanted.append((protocol,) + bounds + (port.get("remote_cidr") or "0.0.0.0/0", None))
        rules = group.security_group_rules or []  # listings and creations carry the rules
        have = {(r.get("protocol"), r.get("port_range_min"), r.get("port_range_max"), r.get("remote_ip_prefix"),
                 r.get("remote_group_id")) for r in rules if r.get("direction") == "ingress"}
        missing = [rule for rule in dict.fromkeys(wanted) if rule not in have]
        self._parallel([lambda r=rule: self._api(
            "adding security group rule", "network.create_security_group_rule", security_group_id=group.id,
            direction="ingress", ethertype="IPv4", protocol=r[0], port_range_min=r[1], port_range_max=r[2],
            remote_ip_prefix=r[3], remote_group_id=r[4]) for rule in missing])
        return group.name

    def _ensure_keypair(self, deployment, public_key, created):
        if not public_key:
            return None
        name = "indigo-%s" % deployment
        existing = self._api("reading key pair", "compute.find_keypair", name, ignore_missing=True)
        if existing is not None and (existing.public_key or "").split()[:2] == public_key.split()[:2]:
            return name
        if existing is not None:  # the deployment's key was rotated: the key pair follows it
            self._api("deleting key pair", "compute.delete_keypair", name, ignore_missing=True)
        self._api("creating key pair", "compute.create_keypair", name=name, public_key=public_key.strip())
        if existing is None:  # a rotated key replaces the deployment's key pair of the same name
            created.append(Resource("keypair", name, name, self.site_name))
        return name

    # -- image and flavor matching ------------------------------------------------------------------------
    def _resolve_image(self, spec):
        wanted = spec.image
        if not wanted:
            found = matching.catalogue_images(self.site.get("images"), spec.os_distribution, spec.os_version) \
                if spec.os_distribution else []
            wanted = found[0]["name"] if found else None
        key = wanted or (spec.os_distribution, spec.os_version)
        if key in self._images:
            return self._images[key]
        if wanted:
            image = self._api("finding image %s" % wanted, "image.find_image", wanted, ignore_missing=True)
            if image is None:
                raise FatalError("image %s not found on site %s" % (wanted, self.site_name), self.site_name)
        elif spec.os_distribution:
            candidates = [i for i in self._api("listing images", "image.images", status="active")
                          if matching.same_distribution(i.os_distro, spec.os_distribution)
                          and (spec.os_version is None or str(i.os_version) == str(spec.os_version)
                               or str(i.os_version or "").startswith("%s." % spec.os_version))]
            if not candidates:
                raise FatalError("no image for %s %s on site %s" % (
                    spec.os_distribution, spec.os_version or "(any version)", self.site_name), self.site_name)
            # newest version first ("12" > "9"), then the most recently uploaded build of it
            image = max(candidates, key=lambda i: ([int(n) for n in re.findall(r"\d+", str(i.os_version or ""))],
                                                   i.created_at or ""))
        else:
            raise FatalError("node %s: give an image or an os distribution" % spec.node, self.site_name)
        self._images[key] = image
        return image

    def _resolve_flavor(self, spec):
        if spec.flavor:
            flavor = self._api("finding flavor %s" % spec.flavor, "compute.find_flavor", spec.flavor,
                               ignore_missing=True)
            if flavor is None:
                raise FatalError("flavor %s not found on site %s" % (spec.flavor, self.site_name), self.site_name)
            return flavor
        with self._flavor_lock:
            if self._flavors is None:
                flavors = self._api("listing flavors", "compute.flavors", details=True)
                if not any(flavor.extra_specs for flavor in flavors):  # Nova < 2.61 lists them without
                    fetched = self._parallel([lambda f=f: self._api("reading flavor extra specs",
                                                                    "compute.fetch_flavor_extra_specs", f)
                                              for f in flavors])
                    for flavor, with_specs in zip(flavors, fetched):
                        flavor.extra_specs = with_specs.extra_specs
                self._flavors = [f for f in flavors if not f.is_disabled]
        gpus = int(spec.gpus or 0)
        # the one matching rule (module_utils/matching.py); Nova's extra specs carry the GPU vendor and model
        rows = sorted((parse_gpus(f.extra_specs), f.vcpus, f.ram, f.disk, f.name,
                       " ".join(str(v) for v in (f.extra_specs or {}).values()).lower()) for f in self._flavors)
        name = matching.first_fit(rows, matching.needs_key(spec.num_cpus, spec.mem_mb, spec.disk_gb, gpus,
                                                           spec.gpu_vendor, spec.gpu_model))
        if name is None:
            raise FatalError("no flavor on site %s with >= %s cpus, %s MB RAM, %s GB disk, %d GPUs"
                             % (self.site_name, spec.num_cpus, spec.mem_mb, spec.disk_gb, gpus), self.site_name)
        return next(f for f in self._flavors if f.name == name)

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
