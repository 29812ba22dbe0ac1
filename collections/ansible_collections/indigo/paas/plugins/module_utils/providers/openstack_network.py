# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""OpenStack networking for the provider (``openstack.OpenStackProvider``): the deployment's network,
subnet and router, security groups, the key pair and floating IPs, all tagged ``indigo_deployment=<id>``
(key pairs by name). A mixin: it calls the provider's ``_api``/``_parallel`` and reports what it creates
into the ``created`` list it is given."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (
    TAG_DEPLOYMENT, FatalError, ProviderError, Resource)


class OpenStackNetworkMixin:
    """Networks, security groups, key pairs and floating IPs of one deployment."""

    @staticmethod
    def _tag(deployment):
        return "%s=%s" % (TAG_DEPLOYMENT, deployment)

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
