# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""AWS EC2 provider (boto3): calls, instances, teardown and monitoring here; networking
(``ec2_network.py``) and images and instance types (``ec2_images.py``) in mixins of their own.

What a deployment owns on EC2, all tagged ``indigo_deployment``: instances (plus ``indigo_node`` and
``indigo_index``), a VPC with one subnet, an internet gateway and a route table when the site names
no network, one security group per node template (port 22 plus the node's endpoint ports), a key pair,
Elastic IPs for ``public_ip`` and EBS volumes. Teardown finds them by tag and deletes them in
dependency order.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time
import uuid

try:
    import boto3
    import botocore.config
    import botocore.exceptions
    HAS_BOTO3 = True
except ImportError:  # reported by the module through missing_required_lib
    HAS_BOTO3 = False

from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (
    TAG_DEPLOYMENT,
    TAG_INDEX,
    TAG_NODE,
    AuthError,
    FatalError,
    Instance,
    Provider,
    QuotaError,
    Resource,
    TransientError,
    api_attempts,
    api_retry_delay,
    retry_transient,
)
# the provider's concerns, one file each: networking (VPC, groups, key) and images/instance types
from ansible_collections.indigo.paas.plugins.module_utils.providers.ec2_images import EC2ImagesMixin
from ansible_collections.indigo.paas.plugins.module_utils.providers.ec2_network import EC2NetworkMixin, _tag_spec

QUOTA_CODES = frozenset((
    "InstanceLimitExceeded", "VcpuLimitExceeded", "InsufficientInstanceCapacity", "AddressLimitExceeded",
    "VolumeLimitExceeded", "VpcLimitExceeded", "SecurityGroupLimitExceeded", "MaxSpotInstanceCountExceeded",
    "InsufficientAddressCapacity", "ResourceLimitExceeded",
))
AUTH_CODES = frozenset((
    "AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken",
    "AccessDenied", "AccessDeniedException", "OptInRequired", "Blocked", "UnrecognizedClientException",
))
TRANSIENT_CODES = frozenset((
    "Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable", "Unavailable",
    "InternalError", "InternalFailure", "RequestTimeout", "RequestExpired", "IncorrectState",
    # AWS frees network interfaces some seconds after instances terminate: retrying is the fix
    "DependencyViolation",
))
STATUS = {"pending": "building", "running": "active", "stopping": "stopped", "stopped": "stopped",
          "shutting-down": "deleted", "terminated": "deleted"}
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
MAX_PAGE = 1000  # DescribeInstances MaxResults upper bound
DEVICE_LETTERS = "fghijklmnop"


def classify(exc, site=None):
    """Turn a botocore exception into the interface's error classes."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = "EC2 %s: %s" % (code, error.get("Message", str(exc)))
        if code in QUOTA_CODES:
            return QuotaError(message, site, {"code": code})
        if code in AUTH_CODES:
            return AuthError(message, site, {"code": code})
        if code in TRANSIENT_CODES or status >= 500:
            return TransientError(message, site, {"code": code})
        return FatalError(message, site, {"code": code})
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return AuthError("EC2: no credentials found (site credentials or the AWS environment)", site)
    if isinstance(exc, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                        botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError)):
        return TransientError("EC2 endpoint unreachable: %s" % exc, site)
    return FatalError("EC2: %s" % exc, site)


def _tags(resource):
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags") or []}


class EC2Provider(EC2NetworkMixin, EC2ImagesMixin, Provider):
    kind = "aws"
    retries_own_calls = True  # every call goes through _call / _paged (retried); botocore's retries are off

    def __init__(self, site, credentials=None):
        super().__init__(site, credentials)
        if not HAS_BOTO3:
            raise FatalError("the aws site kind needs the boto3 Python library", self.site_name)
        creds = self.credentials
        session = boto3.session.Session(
            aws_access_key_id=creds.get("access_key") or creds.get("aws_access_key_id"),
            aws_secret_access_key=creds.get("secret_key") or creds.get("aws_secret_access_key"),
            aws_session_token=creds.get("session_token") or creds.get("aws_session_token"),
            region_name=self.site.get("region") or "us-east-1",
        )
        # botocore's own retries off: the provider's _call is the one retry layer (providers/base.py)
        config = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"},
                                        max_pool_connections=64, connect_timeout=10, read_timeout=60)
        self.retry_attempts, self.retry_delay = api_attempts(self.site), api_retry_delay(self.site)
        # boto3 clients are thread-safe (sessions are not): one client shared by the engine's workers
        self.client = session.client("ec2", endpoint_url=self.site.get("endpoint") or None,
                                     verify=self.site.get("verify_tls", True), config=config)
        self._lock = threading.Lock()
        self._contexts = {}
        self._instance_types = None

    def _call_once(self, method, **kwargs):
        try:
            return getattr(self.client, method)(**kwargs)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise classify(exc, self.site_name) from exc

    def _call(self, method, **kwargs):
        """One EC2 call, retried on transient errors (RunInstances carries a ClientToken: a repeat after a
        lost answer returns the instance the first call made)."""
        return retry_transient(lambda: self._call_once(method, **kwargs), attempts=self.retry_attempts,
                               base_delay=self.retry_delay)

    def _paged(self, method, key, **kwargs):
        """Every item of a paginated listing, the whole listing retried on transient errors."""
        def listing():
            try:
                return [item for page in self.client.get_paginator(method).paginate(**kwargs)
                        for item in page.get(key, [])]
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                raise classify(exc, self.site_name) from exc
        return retry_transient(listing, attempts=self.retry_attempts, base_delay=self.retry_delay)

    # -- instances -------------------------------------------------------------------------
    def _to_instance(self, raw):
        tags = _tags(raw)
        try:
            index = int(tags.get(TAG_INDEX, "-1"))
        except ValueError:
            index = -1
        public = [raw["PublicIpAddress"]] if raw.get("PublicIpAddress") else []
        private = [raw["PrivateIpAddress"]] if raw.get("PrivateIpAddress") else []
        return Instance(
            id=raw["InstanceId"], name=tags.get("Name", raw["InstanceId"]), site=self.site_name,
            deployment=tags.get(TAG_DEPLOYMENT, ""), node=tags.get(TAG_NODE, ""), index=index,
            status=STATUS.get(raw.get("State", {}).get("Name"), "error"), private_ips=private, public_ips=public,
            flavor=raw.get("InstanceType"), image=raw.get("ImageId"),
            extra={"availability_zone": raw.get("Placement", {}).get("AvailabilityZone"),
                   "state_reason": (raw.get("StateReason") or {}).get("Message"),
                   # the EBS volumes EC2 made at launch and deletes on termination (tagged as the instance)
                   "owned_volumes": [m["Ebs"]["VolumeId"] for m in raw.get("BlockDeviceMappings") or []
                                     if (m.get("Ebs") or {}).get("DeleteOnTermination") and m["Ebs"].get("VolumeId")]},
        )

    def _describe(self, filters=None, ids=None):
        kwargs = {"Filters": filters or []}
        if ids:
            kwargs["InstanceIds"] = ids
        else:  # the largest page EC2 allows (default: the service's choice; moto's is 100 reservations)
            kwargs["PaginationConfig"] = {"PageSize": MAX_PAGE}
        for reservation in self._paged("describe_instances", "Reservations", **kwargs):
            yield from reservation["Instances"]

    def find_instances(self, deployment, node=None):
        # filtered server-side: EC2 sends only this deployment's live instances (terminated ones linger an hour)
        filters = [{"Name": "instance-state-name", "Values": LIVE_STATES},
                   {"Name": "tag:%s" % TAG_DEPLOYMENT, "Values": [deployment]}]
        if node:
            filters.append({"Name": "tag:%s" % TAG_NODE, "Values": [node]})
        live = (self._to_instance(raw) for raw in self._describe(filters) if raw.get("State", {}).get("Name") in LIVE_STATES)
        return sorted(live, key=lambda i: (i.node, i.index))

    def get_instance(self, instance_id):
        try:
            found = list(self._describe(ids=[instance_id]))
        except FatalError as exc:
            if exc.details.get("code") == "InvalidInstanceID.NotFound":
                return None
            raise
        return self._to_instance(found[0]) if found else None

    def create_instance(self, spec):
        context, created = self._context(spec.deployment, spec)
        tags = dict(spec.tags, Name=spec.name)
        kwargs = {
            "ImageId": self._image_id(spec), "InstanceType": self._instance_type(spec), "MinCount": 1, "MaxCount": 1,
            "SubnetId": context["subnet_id"], "SecurityGroupIds": [context["security_groups"][spec.node]],
            "TagSpecifications": [_tag_spec("instance", tags), _tag_spec("volume", tags)],
            "BlockDeviceMappings": self._block_devices(spec),
        }
        if context.get("key_name"):
            kwargs["KeyName"] = context["key_name"]
        if spec.user_data:
            kwargs["UserData"] = spec.user_data
        if spec.availability_zone:
            kwargs["Placement"] = {"AvailabilityZone": spec.availability_zone}
        if not kwargs["BlockDeviceMappings"]:
            del kwargs["BlockDeviceMappings"]
        kwargs["ClientToken"] = "%s-%s" % (spec.name[:31], uuid.uuid4().hex)  # one per create, kept over retries
        raw = self._call("run_instances", **kwargs)["Instances"][0]
        instance_id = raw["InstanceId"]
        try:
            if spec.public_ip or any(v.volume_id for v in spec.volumes):
                self._wait_state(instance_id, "running")
            if spec.public_ip:
                created.append(self._attach_public_ip(instance_id, tags))
            for position, volume in enumerate(spec.volumes):
                if volume.volume_id:
                    device = volume.device or "/dev/sd%s" % DEVICE_LETTERS[position]
                    self._call("attach_volume", VolumeId=volume.volume_id, InstanceId=instance_id, Device=device)
        except Exception:
            self.delete_instance(instance_id, wait=False)  # never leave a half-built instance behind
            raise
        instance = self.get_instance(instance_id) or self._to_instance(raw)
        instance.created_resources = created + [Resource("volume", volume_id, spec.name, self.site_name)
                                                for volume_id in instance.extra["owned_volumes"]]
        return instance

    def _block_devices(self, spec):
        mappings = []
        if spec.disk_gb:
            mappings.append({"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": int(spec.disk_gb), "DeleteOnTermination": True}})
        for position, volume in enumerate(spec.volumes):
            if volume.volume_id:
                continue
            ebs = {"VolumeSize": int(volume.size_gb), "DeleteOnTermination": True}
            if volume.volume_type:
                ebs["VolumeType"] = volume.volume_type
            mappings.append({"DeviceName": volume.device or "/dev/sd%s" % DEVICE_LETTERS[position], "Ebs": ebs})
        return mappings

    def _wait_state(self, instance_id, state, timeout=300):
        deadline = time.monotonic() + timeout
        while True:
            found = list(self._describe(ids=[instance_id]))
            current = found[0]["State"]["Name"] if found else "terminated"
            if current == state:
                return
            if time.monotonic() > deadline:
                raise TransientError("EC2 instance %s still %s after %ss" % (instance_id, current, timeout), self.site_name)
            time.sleep(1.0)

    def _attach_public_ip(self, instance_id, tags):
        address = self._call("allocate_address", Domain="vpc", TagSpecifications=[_tag_spec("elastic-ip", tags)])
        self._call("associate_address", AllocationId=address["AllocationId"], InstanceId=instance_id)
        return Resource("elastic_ip", address["AllocationId"], tags.get("Name") or address.get("PublicIp", ""), self.site_name)

    def _release_addresses(self, filters):
        released = []
        for address in self._call("describe_addresses", Filters=filters).get("Addresses", []):
            if address.get("AssociationId"):
                self._call("disassociate_address", AssociationId=address["AssociationId"])
            self._call("release_address", AllocationId=address["AllocationId"])
            released.append(Resource("elastic_ip", address["AllocationId"], _tags(address).get("Name") or address.get("PublicIp", ""),
                                     self.site_name))
        return released

    def delete_instance(self, instance_id, wait=True):
        instance = self.get_instance(instance_id)
        if instance is None or instance.status == "deleted":
            return []
        deleted = self._release_addresses([{"Name": "instance-id", "Values": [instance_id]}])
        try:
            self._call("terminate_instances", InstanceIds=[instance_id])
        except FatalError as exc:
            if exc.details.get("code") == "InvalidInstanceID.NotFound":
                return deleted
            raise
        if wait:
            self._wait_state(instance_id, "terminated")
            deleted += [Resource("volume", volume_id, instance.name, self.site_name)
                        for volume_id in instance.extra["owned_volumes"]]
        return deleted

    # -- teardown and inventory of resources ------------------------------------------------
    def find_resources(self, deployment):
        found = []
        for method, key, kind, id_key in (
            ("describe_addresses", "Addresses", "elastic_ip", "AllocationId"),
            ("describe_volumes", "Volumes", "volume", "VolumeId"),
            ("describe_security_groups", "SecurityGroups", "security_group", "GroupId"),
            ("describe_key_pairs", "KeyPairs", "key_pair", "KeyName"),
            ("describe_route_tables", "RouteTables", "route_table", "RouteTableId"),
            ("describe_internet_gateways", "InternetGateways", "internet_gateway", "InternetGatewayId"),
            ("describe_subnets", "Subnets", "subnet", "SubnetId"),
            ("describe_vpcs", "Vpcs", "vpc", "VpcId"),
        ):
            for item in self._find_tagged(method, key, deployment):
                if kind == "volume" and item.get("State") == "deleted":
                    continue
                found.append(Resource(kind, item[id_key], _tags(item).get("Name", item[id_key]), self.site_name))
        return found

    def delete_deployment(self, deployment):
        deleted = self._release_addresses([{"Name": "tag:%s" % TAG_DEPLOYMENT, "Values": [deployment]}])
        instances = self.find_instances(deployment)
        if instances:
            self._call("terminate_instances", InstanceIds=[i.id for i in instances])
            for inst in instances:
                self._wait_state(inst.id, "terminated")
                deleted.append(Resource("instance", inst.id, inst.name, self.site_name))
        for resource in self.find_resources(deployment):
            self._delete_resource(resource)
            deleted.append(resource)
        with self._lock:
            self._contexts.pop(deployment, None)
        return deleted

    def _delete_resource(self, resource):
        if resource.kind == "elastic_ip":
            self._call("release_address", AllocationId=resource.id)
        elif resource.kind == "volume":
            self._call("delete_volume", VolumeId=resource.id)
        elif resource.kind == "security_group":
            self._call("delete_security_group", GroupId=resource.id)
        elif resource.kind == "key_pair":
            self._call("delete_key_pair", KeyName=resource.id)
        elif resource.kind == "route_table":
            table = self._call("describe_route_tables", RouteTableIds=[resource.id])["RouteTables"][0]
            for association in table.get("Associations", []):
                if not association.get("Main"):
                    self._call("disassociate_route_table", AssociationId=association["RouteTableAssociationId"])
            self._call("delete_route_table", RouteTableId=resource.id)
        elif resource.kind == "internet_gateway":
            gateway = self._call("describe_internet_gateways", InternetGatewayIds=[resource.id])["InternetGateways"][0]
            for attachment in gateway.get("Attachments", []):
                self._call("detach_internet_gateway", InternetGatewayId=resource.id, VpcId=attachment["VpcId"])
            self._call("delete_internet_gateway", InternetGatewayId=resource.id)
        elif resource.kind == "subnet":
            self._call("delete_subnet", SubnetId=resource.id)
        elif resource.kind == "vpc":
            self._call("delete_vpc", VpcId=resource.id)

    # -- monitoring ------------------------------------------------------------------------
    def health(self):
        start = time.monotonic()
        try:
            self._call("describe_availability_zones")
            return {"reachable": True, "latency_ms": (time.monotonic() - start) * 1000.0, "error": None}
        except (AuthError, TransientError, FatalError, QuotaError) as exc:
            return {"reachable": False, "latency_ms": (time.monotonic() - start) * 1000.0, "error": exc.message}

    def usage(self):
        attributes = self._call("describe_account_attributes", AttributeNames=["max-instances"]).get("AccountAttributes", [])
        limit = None
        for attribute in attributes:
            for value in attribute.get("AttributeValues", []):
                limit = int(value["AttributeValue"])
        used = sum(1 for _raw in self._describe([{"Name": "instance-state-name", "Values": ["pending", "running"]}]))
        return {"instances": {"limit": limit, "used": used}, "cores": {"limit": None, "used": None},
                "ram_mb": {"limit": None, "used": None}, "gpus": {"limit": None, "used": None}}
