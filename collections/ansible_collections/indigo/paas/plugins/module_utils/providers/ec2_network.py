# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""EC2 networking for the provider (ec2.EC2Provider): the deployment's VPC, subnet, internet gateway
and route table (when the site names no network), a security group per node template and the key pair,
all tagged indigo_deployment. A mixin over the provider's _call; what it creates is reported in
the created list it is given."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (
    TAG_DEPLOYMENT, TAG_NODE, FatalError, Resource)

VPC_CIDR = "10.77.0.0/16"
SUBNET_CIDR = "10.77.0.0/20"


def _tag_spec(resource_type, tags):
    return {"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}


class EC2NetworkMixin:
    """What the instances of one deployment share: network, groups by node, key pair."""

    def _context(self, deployment, spec):
        with self._lock:
            context = self._contexts.get(deployment)
        if context is None or spec.node not in context["security_groups"]:
            return self._prepare(deployment, [spec])
        return context, []

    def _find_tagged(self, method, key, deployment, extra_filters=None):
        filters = [{"Name": "tag:%s" % TAG_DEPLOYMENT, "Values": [deployment]}] + (extra_filters or [])
        return self._call(method, Filters=filters).get(key, [])

    def prepare_deployment(self, deployment, specs):
        return self._prepare(deployment, specs)[1]

    def _prepare(self, deployment, specs):
        """(the deployment's subnet, VPC, groups by node and key, the Resources this call created)."""
        with self._lock:  # one network and one group per node even when workers race here
            context = dict(self._contexts.get(deployment) or {"security_groups": {}})
            context["security_groups"] = dict(context["security_groups"])
            tags = {TAG_DEPLOYMENT: deployment}
            created = []
            if "subnet_id" not in context:
                context.update(self._network(deployment, specs, tags, created))
            for spec in specs:
                if spec.node not in context["security_groups"]:
                    context["security_groups"][spec.node] = self._security_group(deployment, spec, context["vpc_id"],
                                                                                 tags, created)
                if spec.ssh_public_key and not context.get("key_name"):
                    context["key_name"] = self._key_pair(deployment, spec.ssh_public_key, tags, created)
            self._contexts[deployment] = context
            return context, created

    def _network(self, deployment, specs, tags, created):
        named = next((s.network for s in specs if s.network), None) or (self.site.get("network") or {}).get("private")
        if named:
            subnets = self._call("describe_subnets", Filters=[{"Name": "subnet-id" if named.startswith("subnet-") else "tag:Name",
                                                              "Values": [named]}]).get("Subnets", [])
            if not subnets:
                raise FatalError("subnet %r not found on site %s" % (named, self.site_name), self.site_name)
            return {"subnet_id": subnets[0]["SubnetId"], "vpc_id": subnets[0]["VpcId"]}
        vpcs = self._find_tagged("describe_vpcs", "Vpcs", deployment)
        if vpcs:
            vpc_id = vpcs[0]["VpcId"]
        else:
            vpc_id = self._call("create_vpc", CidrBlock=VPC_CIDR, TagSpecifications=[_tag_spec("vpc", dict(tags, Name=deployment))])["Vpc"]["VpcId"]
            created.append(Resource("vpc", vpc_id, deployment, self.site_name))
        subnets = self._find_tagged("describe_subnets", "Subnets", deployment)
        if subnets:
            subnet_id = subnets[0]["SubnetId"]
        else:
            subnet_id = self._call("create_subnet", VpcId=vpc_id, CidrBlock=SUBNET_CIDR,
                                   TagSpecifications=[_tag_spec("subnet", dict(tags, Name=deployment))])["Subnet"]["SubnetId"]
            created.append(Resource("subnet", subnet_id, deployment, self.site_name))
        if not self._find_tagged("describe_internet_gateways", "InternetGateways", deployment):
            # public IPs need a route to the internet; cheap enough to always set up
            gateway = self._call("create_internet_gateway", TagSpecifications=[_tag_spec("internet-gateway", tags)])
            gateway_id = gateway["InternetGateway"]["InternetGatewayId"]
            self._call("attach_internet_gateway", InternetGatewayId=gateway_id, VpcId=vpc_id)
            table = self._call("create_route_table", VpcId=vpc_id, TagSpecifications=[_tag_spec("route-table", tags)])
            table_id = table["RouteTable"]["RouteTableId"]
            self._call("create_route", RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway_id)
            self._call("associate_route_table", RouteTableId=table_id, SubnetId=subnet_id)
            created += [Resource("internet_gateway", gateway_id, gateway_id, self.site_name),
                        Resource("route_table", table_id, table_id, self.site_name)]
        return {"subnet_id": subnet_id, "vpc_id": vpc_id}

    def _security_group(self, deployment, spec, vpc_id, tags, created):
        name = "%s-%s" % (deployment, spec.node)
        found = self._find_tagged("describe_security_groups", "SecurityGroups", deployment,
                                  [{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [vpc_id]}])
        if found:
            group_id = found[0]["GroupId"]
        else:
            group_id = self._call("create_security_group", GroupName=name, VpcId=vpc_id,
                                  Description="indigo deployment %s node %s" % (deployment, spec.node),
                                  TagSpecifications=[_tag_spec("security-group", dict(tags, **{TAG_NODE: spec.node}))])["GroupId"]
            created.append(Resource("security_group", group_id, group_id, self.site_name))
        rules = {(22, "tcp", "0.0.0.0/0")}
        for port in spec.ports or []:
            rules.add((int(port["port"]), (port.get("protocol") or "tcp").lower(), port.get("remote_cidr") or "0.0.0.0/0"))
        existing = set()
        for perm in (found[0].get("IpPermissions") if found else []) or []:
            for ip_range in perm.get("IpRanges", []):
                existing.add((perm.get("FromPort"), perm.get("IpProtocol"), ip_range.get("CidrIp")))
        missing = sorted(rules - existing)
        if missing:
            self._call("authorize_security_group_ingress", GroupId=group_id, IpPermissions=[
                {"IpProtocol": proto, "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]} for port, proto, cidr in missing])
        return group_id

    def _key_pair(self, deployment, public_key, tags, created):
        name = "indigo-%s" % deployment
        if self._call("describe_key_pairs", Filters=[{"Name": "key-name", "Values": [name]}]).get("KeyPairs"):
            return name
        self._call("import_key_pair", KeyName=name, PublicKeyMaterial=public_key.encode(),
                   TagSpecifications=[_tag_spec("key-pair", tags)])
        created.append(Resource("key_pair", name, name, self.site_name))
        return name
