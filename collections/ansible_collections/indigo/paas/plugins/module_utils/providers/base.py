# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""One interface for every site kind.

Every provider (openstack, opennebula, ec2, local) subclasses :class:`Provider`.
Tags are the only source of truth for what a deployment owns: every resource a provider creates
carries ``indigo_deployment`` (and instances also ``indigo_node`` and ``indigo_index``), so re-runs
adopt what exists and teardown finds everything without a state file.

Errors are classified so callers can decide what to do: :class:`QuotaError` (the site is full for
this request: try another site), :class:`AuthError` (credentials refused: skip the site),
:class:`TransientError` (retry with backoff), :class:`FatalError` (this site cannot do it). Any other
exception out of a provider is a bug, and is left to propagate as one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dataclasses
import random
import time
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.indigo.paas.plugins.module_utils.naming import TAG_DEPLOYMENT, TAG_INDEX, TAG_NODE  # noqa: F401


class ProviderError(Exception):
    """Base of every classified provider error."""

    kind = "fatal"

    def __init__(self, message, site=None, details=None):
        super().__init__(message)
        self.message = message
        self.site = site
        self.details = details or {}

    def to_dict(self):
        return {"class": self.kind, "message": self.message, "site": self.site}


class QuotaError(ProviderError):
    kind = "quota"


class AuthError(ProviderError):
    kind = "auth"


class TransientError(ProviderError):
    kind = "transient"


class FatalError(ProviderError):
    kind = "fatal"


ERROR_CLASSES = {cls.kind: cls for cls in (QuotaError, AuthError, TransientError, FatalError)}


@dataclasses.dataclass
class VolumeSpec:
    """A block volume attached to an instance (TOSCA BlockStorage + AttachesTo)."""

    name: str
    size_gb: int
    device: Optional[str] = None
    location: Optional[str] = None
    volume_type: Optional[str] = None
    volume_id: Optional[str] = None  # attach an existing volume instead of creating one


@dataclasses.dataclass
class InstanceSpec:
    """What one instance of a node template must look like.

    ``image``/``flavor`` are explicit choices; when absent, the provider matches them from the
    requirements (``num_cpus``, ``mem_mb``, ``disk_gb``, ``gpus``, ``os_distribution``,
    ``os_version``).
    """

    deployment: str
    node: str
    index: int
    image: Optional[str] = None
    flavor: Optional[str] = None
    num_cpus: Optional[int] = None
    mem_mb: Optional[int] = None
    disk_gb: Optional[int] = None
    gpus: int = 0
    gpu_vendor: Optional[str] = None
    gpu_model: Optional[str] = None
    os_distribution: Optional[str] = None
    os_version: Optional[str] = None
    ports: List[Dict[str, Any]] = dataclasses.field(default_factory=list)  # {port, protocol, remote_cidr}
    public_ip: bool = False
    network: Optional[str] = None  # existing network name/id; None = per-deployment private network
    ssh_public_key: Optional[str] = None
    user_data: Optional[str] = None
    volumes: List[VolumeSpec] = dataclasses.field(default_factory=list)
    availability_zone: Optional[str] = None
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def name(self):
        return "%s-%s-%d" % (self.deployment, self.node, self.index)

    @property
    def tags(self):
        return {TAG_DEPLOYMENT: self.deployment, TAG_NODE: self.node, TAG_INDEX: str(self.index)}


@dataclasses.dataclass
class Instance:
    """An instance as the site reports it."""

    id: str
    name: str
    site: str
    deployment: str
    node: str
    index: int
    status: str  # provider status normalised to: building, active, stopped, error, deleted
    private_ips: List[str] = dataclasses.field(default_factory=list)
    public_ips: List[str] = dataclasses.field(default_factory=list)
    flavor: Optional[str] = None
    image: Optional[str] = None
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict)
    # what the create call made along with this instance (floating IP, volumes, and the deployment's
    # network, group or key when this create was the one to make them): Resource objects, not reported
    # by to_dict (the engine reports them as the call's created_resources)
    created_resources: List["Resource"] = dataclasses.field(default_factory=list, repr=False, compare=False)

    @property
    def address(self):
        """The address Ansible connects to: public if any, else private."""
        if self.public_ips:
            return self.public_ips[0]
        return self.private_ips[0] if self.private_ips else None

    def to_dict(self):
        data = dataclasses.asdict(self)
        del data["created_resources"]
        data["address"] = self.address
        return data


@dataclasses.dataclass
class Resource:
    """Any other deployment-owned resource (network, subnet, router, security group, volume, ip)."""

    kind: str
    id: str
    name: str
    site: str

    def to_dict(self):
        return dataclasses.asdict(self)


# The retry policy (docs/onerule.md, "One retry layer"): every call to a cloud is retried on a
# TransientError in exactly one place. Cloud providers retry each API call themselves (they know which
# calls are safe to repeat and adopt what a lost create reply made), ``api_retries`` attempts in all
# (site catalogue, default below) with exponential backoff from ``api_retry_delay`` seconds, and their SDK's
# own retries are off; such a provider sets ``retries_own_calls`` and the engine then calls it once.
# A provider without its own retries (the local site) is retried by the engine, per step.
DEFAULT_API_ATTEMPTS = 5
DEFAULT_API_RETRY_DELAY = 0.5


def api_attempts(site):
    return max(1, int(site.get("api_retries", DEFAULT_API_ATTEMPTS)))


def api_retry_delay(site):
    return float(site.get("api_retry_delay", DEFAULT_API_RETRY_DELAY))


class Provider:
    """The interface every site kind implements.

    ``site`` is one entry of the site catalogue (``name``, ``kind``, ``endpoint``, ``region``, ...);
    ``credentials`` is the resolved secret material (never logged, never returned).
    """

    kind = "abstract"
    retries_own_calls = False  # True: every API call is retried inside the provider (the engine does not)

    def __init__(self, site, credentials=None):
        self.site = dict(site or {})
        self.site_name = self.site.get("name", self.kind)
        self.credentials = dict(credentials or {})

    # -- instances -------------------------------------------------------------------------
    def find_instances(self, deployment, node=None):
        # type: (str, Optional[str]) -> List[Instance]
        """Every live instance tagged with ``deployment`` (and ``node`` if given)."""
        raise NotImplementedError

    def create_instance(self, spec):
        # type: (InstanceSpec) -> Instance
        """Ask the site for one instance; returns as soon as the site has accepted it."""
        raise NotImplementedError

    def get_instance(self, instance_id):
        # type: (str) -> Optional[Instance]
        raise NotImplementedError

    def delete_instance(self, instance_id, wait=True):
        # type: (str, bool) -> List[Resource]
        """Delete one instance and what only it used (its floating IP, its own volumes); returns those other
        resources the call deleted (the instance itself not among them)."""
        raise NotImplementedError

    # wait_active polls at most this often when set (a site whose machines boot in seconds polls faster)
    max_poll_interval = None

    def boot_failure(self, inst, instance_id):
        # type: (Instance, str) -> Optional[str]
        """Why a building instance will never become active, or None while it still may."""
        if inst.status == "error":
            return "instance %s (%s) went to ERROR: %s" % (inst.name, instance_id, inst.extra.get("fault", "no fault given"))
        return None

    def wait_active(self, instance_id, timeout=600, interval=2.0):
        # type: (str, float, float) -> Instance
        """Poll until the instance is active; a boot failure → FatalError, timeout → TransientError."""
        if self.max_poll_interval is not None:
            interval = min(interval, self.max_poll_interval)
        deadline = time.monotonic() + timeout
        while True:
            inst = self.get_instance(instance_id)
            if inst is None:
                raise FatalError("instance %s disappeared while building" % instance_id, self.site_name)
            if inst.status == "active":
                return inst
            failure = self.boot_failure(inst, instance_id)
            if failure:
                raise FatalError(failure, self.site_name)
            if time.monotonic() >= deadline:
                raise TransientError("instance %s not active after %ss (status %s)" % (inst.name, timeout, inst.status), self.site_name)
            time.sleep(interval)

    def prepare_image(self, spec):
        # type: (InstanceSpec) -> Optional[str]
        """Build the site's cached image for ``spec.extra['cached_packages']`` when the site keeps such a
        cache (the local site); returns its name, or None where the site builds no images."""
        return None

    # -- deployment-wide resources ---------------------------------------------------------
    def prepare_deployment(self, deployment, specs):
        # type: (str, List[InstanceSpec]) -> List[Resource]
        """Create or adopt what the instances need (network, security group, key pair). Idempotent; returns
        the resources this call created (none when everything existed). What a call creates or deletes is
        reported by the call itself: nothing lists the site before and after to find out."""
        return []

    def find_resources(self, deployment):
        # type: (str) -> List[Resource]
        """Every non-instance resource tagged with ``deployment``."""
        return []

    def delete_deployment(self, deployment):
        # type: (str) -> List[Resource]
        """Delete every instance and resource of ``deployment``; returns what was deleted."""
        raise NotImplementedError

    # -- monitoring ------------------------------------------------------------------------
    def health(self):
        # type: () -> Dict[str, Any]
        """``{"reachable": bool, "latency_ms": float, "error": str|None}``"""
        raise NotImplementedError

    def usage(self):
        # type: () -> Dict[str, Any]
        """Quota and usage: ``{"instances": {"limit": n, "used": n}, "cores": ..., "ram_mb": ..., "gpus": ...}``.
        A limit of ``None`` means unlimited or unknown."""
        raise NotImplementedError


def retry_transient(func, attempts=5, base_delay=0.5, max_delay=8.0, sleep=time.sleep, on_retry=None):
    # type: (Callable[[], Any], int, float, float, Callable[[float], None], Optional[Callable]) -> Any
    """Call ``func``; on TransientError retry with exponential backoff and jitter."""
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except TransientError as exc:
            if attempt == attempts:
                raise
            delay = min(max_delay, base_delay * (2 ** (attempt - 1))) * (0.5 + random.random() / 2)
            if on_retry:
                on_retry(attempt, exc, delay)
            sleep(delay)
    return None  # pragma: no cover - loop always returns or raises
