# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""OpenNebula sites through pyone (XML-RPC): calls, VMs, teardown and monitoring here; what a VM is asked
for (opennebula_templates.py) in a mixin of its own.

What a deployment owns is found by the attributes this provider writes into every VM's
USER_TEMPLATE at allocation time (``INDIGO_DEPLOYMENT``, ``INDIGO_NODE``, ``INDIGO_INDEX``;
OpenNebula upper-cases template keys) and into the template of the per-node security groups it
creates. No state is kept anywhere else.

Credentials: ``username`` + ``password``, or ``username`` + ``token`` (a login token), or
``token`` alone when it is a full ``user:secret`` session string.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import threading
import time
import xmlrpc.client

from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (
    DEFAULT_API_ATTEMPTS,
    DEFAULT_API_RETRY_DELAY,
    AuthError,
    FatalError,
    Instance,
    Provider,
    ProviderError,
    QuotaError,
    Resource,
    TransientError,
    api_attempts,
    api_retry_delay,
    retry_transient,
)
# what a VM is asked for (image, network, VM template, flavor, security groups), a file of its own
from ansible_collections.indigo.paas.plugins.module_utils.providers.opennebula_templates import (
    POOL_MINE, OpenNebulaTemplatesMixin, _as_list)

try:
    import pyone
    import requests

    HAS_PYONE = True
except ImportError:  # reported when a provider is instantiated, not at import
    pyone = None
    requests = None
    HAS_PYONE = False

VM_DONE = 6
# VM_STATE numbers -> normalised status (ACTIVE is refined by the LCM state)
STATE_STATUS = {0: "building", 1: "building", 2: "building", 4: "stopped", 5: "stopped", 6: "deleted",
                7: "error", 8: "stopped", 9: "stopped", 10: "building", 11: "error"}
# LCM states of an ACTIVE VM that mean it is going away (SHUTDOWN, CANCEL, EPILOG, CLEANUP_*)
LCM_LEAVING = {11, 12, 13, 15, 23}


def _quota_number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class OpenNebulaProvider(OpenNebulaTemplatesMixin, Provider):
    kind = "opennebula"
    retries_own_calls = True  # every XML-RPC call goes through _call (retried) or create's adopting loop
    retry_attempts = DEFAULT_API_ATTEMPTS
    retry_base_delay = DEFAULT_API_RETRY_DELAY
    delete_timeout = 300.0
    poll_interval = 1.0

    def __init__(self, site, credentials=None):
        super(OpenNebulaProvider, self).__init__(site, credentials)
        if not HAS_PYONE:
            raise FatalError("site %s: the pyone Python package is required for OpenNebula sites" % self.site_name,
                             self.site_name)
        endpoint = self.site.get("endpoint")
        if not endpoint:
            raise FatalError("site %s: no 'endpoint' (the XML-RPC URL, e.g. https://one.example.org:2633/RPC2)"
                             % self.site_name, self.site_name)
        self.endpoint = endpoint
        self.retry_attempts, self.retry_base_delay = api_attempts(self.site), api_retry_delay(self.site)
        self.one = pyone.OneServer(endpoint, session=self._session(),
                                   https_verify=bool(self.site.get("verify_tls", True)))
        # site-specific options: template (a VM template to instantiate), cpu_ratio (CPU per VCPU)
        self.options = self.site.get("opennebula") or {}
        self._secgroup_lock = threading.Lock()

    def _session(self):
        creds = self.credentials
        user = creds.get("username") or creds.get("user")
        if creds.get("token"):
            if user:
                return "%s:%s" % (user, creds["token"])
            if ":" in creds["token"]:
                return creds["token"]
            raise AuthError("site %s: an OpenNebula token needs a 'username'" % self.site_name, self.site_name)
        if user and creds.get("password"):
            return "%s:%s" % (user, creds["password"])
        raise AuthError("site %s: OpenNebula credentials need 'username' and 'password' (or 'token')"
                        % self.site_name, self.site_name)

    # -- calls and error classes -----------------------------------------------------------
    def _classify(self, exc, method):
        where = "site %s: one.%s: " % (self.site_name, method)
        message = str(exc)
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, pyone.OneException):
            if "quota" in message.lower():
                return QuotaError(where + message, self.site_name)
            if isinstance(exc, pyone.OneAuthenticationException):
                return AuthError(where + "credentials refused: " + message, self.site_name)
            if isinstance(exc, pyone.OneAuthorizationException):
                return AuthError(where + "not authorized: " + message, self.site_name)
            if isinstance(exc, pyone.OneInternalException):
                return TransientError(where + message, self.site_name)
            if isinstance(exc, pyone.OneNoExistsException):
                return FatalError(where + message, self.site_name, details={"missing": True})
            return FatalError(where + message, self.site_name)
        if isinstance(exc, xmlrpc.client.ProtocolError):
            text = "HTTP %s from %s" % (exc.errcode, self.endpoint)
            if exc.errcode >= 500 or exc.errcode == 429:
                return TransientError(where + text, self.site_name)
            if exc.errcode in (401, 403):
                return AuthError(where + text, self.site_name)
            return FatalError(where + text, self.site_name)
        if isinstance(exc, requests.exceptions.SSLError):
            return FatalError(where + "TLS verification failed for %s (install the CA, or set verify_tls: false "
                                      "for a test site): %s" % (self.endpoint, message), self.site_name)
        if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                            ConnectionError, TimeoutError)):
            return TransientError(where + "cannot reach %s: %s" % (self.endpoint, message), self.site_name)
        return FatalError(where + "%s: %s" % (type(exc).__name__, message), self.site_name)

    def _call_once(self, method, *args):
        func = self.one
        for part in method.split("."):
            func = getattr(func, part)
        try:
            return func(*args)
        except Exception as exc:  # pylint: disable=broad-except  # every failure leaves here classified
            raise self._classify(exc, method) from exc

    def _call(self, method, *args):
        """A call that is safe to repeat: retried on transient errors with backoff."""
        return retry_transient(lambda: self._call_once(method, *args), attempts=self.retry_attempts,
                               base_delay=self.retry_base_delay)

    def _info_or_none(self, method, oid):
        try:
            return self._call(method, int(oid))
        except FatalError as exc:
            if exc.details.get("missing"):
                return None
            raise

    # -- conversion ------------------------------------------------------------------------
    def _public_networks(self):
        net = self.site.get("network") or {}
        return {net["public"]} if net.get("public") else set()

    def _to_instance(self, vm):
        tags = vm.USER_TEMPLATE or {}
        state, lcm = int(vm.STATE), int(vm.LCM_STATE)
        status = STATE_STATUS.get(state, "error")
        lcm_name = pyone.LCM_STATE(lcm).name if lcm < len(pyone.LCM_STATE) else str(lcm)
        if state == 3:
            if lcm == 3:
                status = "active"
            elif "FAILURE" in lcm_name or lcm_name == "UNKNOWN":
                status = "error"
            elif lcm in LCM_LEAVING:
                status = "deleted"
            else:
                status = "building"
        private, public = [], []
        for nic in _as_list((vm.TEMPLATE or {}).get("NIC")):
            ip = nic.get("IP") or nic.get("EXTERNAL_IP")
            if not ip:
                continue
            if nic.get("NETWORK") in self._public_networks() or not ipaddress.ip_address(ip).is_private:
                public.append(ip)
            else:
                private.append(ip)
        disks = _as_list((vm.TEMPLATE or {}).get("DISK"))
        extra = {"state": pyone.VM_STATE(state).name if state < len(pyone.VM_STATE) else str(state),
                 "lcm_state": lcm_name}
        if status == "error":
            extra["fault"] = "VM %s is in state %s/%s" % (vm.ID, extra["state"], lcm_name)
        try:
            index = int(tags.get("INDIGO_INDEX", -1))
        except ValueError:
            index = -1
        return Instance(
            id=str(vm.ID), name=vm.NAME, site=self.site_name, deployment=tags.get("INDIGO_DEPLOYMENT", ""),
            node=tags.get("INDIGO_NODE", ""), index=index, status=status, private_ips=private, public_ips=public,
            flavor=tags.get("INDIGO_FLAVOR") or "cpu=%s,mem=%sMB" % (
                (vm.TEMPLATE or {}).get("VCPU"), (vm.TEMPLATE or {}).get("MEMORY")),
            image=disks[0].get("IMAGE") if disks else None, extra=extra)

    # -- instances -------------------------------------------------------------------------
    def _tagged_vms(self, deployment, node=None):
        """Every VM of ours carrying the deployment tag, including ones being deleted."""
        pool = self._call("vmpool.infoextended", POOL_MINE, -1, -1, -1, "INDIGO_DEPLOYMENT=%s" % deployment)
        found = []
        for vm in _as_list(getattr(pool, "VM", None)):
            tags = vm.USER_TEMPLATE or {}
            if tags.get("INDIGO_DEPLOYMENT") == deployment and (node is None or tags.get("INDIGO_NODE") == node):
                found.append(vm)
        return found

    def find_instances(self, deployment, node=None):
        instances = [self._to_instance(vm) for vm in self._tagged_vms(deployment, node)]
        live = [inst for inst in instances if inst.status != "deleted"]
        return sorted(live, key=lambda inst: (inst.node, inst.index, int(inst.id)))

    def _vm_id(self, instance_id):
        try:
            return int(instance_id)
        except (TypeError, ValueError):
            raise FatalError("site %s: %r is not an OpenNebula VM id" % (self.site_name, instance_id),
                             self.site_name) from None

    def get_instance(self, instance_id):
        vm = self._info_or_none("vm.info", self._vm_id(instance_id))
        # oned keeps DONE VMs in its database; for callers they no longer exist
        return self._to_instance(vm) if vm is not None and int(vm.STATE) != VM_DONE else None

    def create_instance(self, spec):
        created = []
        template = self._vm_template(spec, created)
        attempted = []

        def allocate_once():
            # A transient error may hide a VM that was created (the answer got lost): adopt it
            # instead of creating a second VM with the same index.
            if attempted:
                for inst in self.find_instances(spec.deployment, spec.node):
                    if inst.index == spec.index:
                        return inst.id
            attempted.append(True)
            if self._vm_template_name(spec):
                template_id = self._resolve_vm_template(self._vm_template_name(spec))
                return self._call_once("template.instantiate", template_id, spec.name, False, template, False)
            return self._call_once("vm.allocate", template, False)

        vm_id = retry_transient(allocate_once, attempts=self.retry_attempts, base_delay=self.retry_base_delay)
        instance = self.get_instance(vm_id)
        if instance is None:
            raise FatalError("site %s: VM %s vanished right after allocation" % (self.site_name, vm_id), self.site_name)
        instance.created_resources = created
        return instance

    def delete_instance(self, instance_id, wait=True):
        self._terminate(instance_id)
        if wait:
            self._wait_gone([str(instance_id)])
        return []  # a VM's disks are volatile: they go with it, and nothing else is the VM's own

    def _terminate(self, instance_id):
        try:
            self._call("vm.action", "terminate-hard", self._vm_id(instance_id))
        except FatalError as exc:
            inst = self.get_instance(instance_id)
            if inst is None or inst.status == "deleted":
                return  # already gone or going: deleting is idempotent
            raise exc

    def _wait_gone(self, ids):
        deadline = time.monotonic() + self.delete_timeout
        pending = set(ids)
        interval = min(0.1, self.poll_interval)  # a pending VM goes at once; a running one takes a while
        while pending:
            for oid in sorted(pending):
                vm = self._info_or_none("vm.info", oid)
                if vm is None or int(vm.STATE) == VM_DONE:
                    pending.discard(oid)
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise TransientError("site %s: VMs %s not deleted after %ss" % (
                    self.site_name, ", ".join(sorted(pending)), self.delete_timeout), self.site_name)
            time.sleep(interval)
            interval = min(self.poll_interval, interval * 2)

    # -- deployment-wide -------------------------------------------------------------------
    def prepare_deployment(self, deployment, specs):
        created, nodes = [], set()
        for spec in specs:
            if spec.ports and spec.node not in nodes:
                nodes.add(spec.node)
                self._ensure_security_group(deployment, spec.node, spec.ports, created)
        return created

    def find_resources(self, deployment):
        return [Resource("security_group", str(sg.ID), sg.NAME, self.site_name)
                for sg in self._deployment_secgroups(deployment)]

    def delete_deployment(self, deployment):
        deleted = []
        vms = self._tagged_vms(deployment)
        for vm in vms:
            if int(vm.STATE) != VM_DONE:
                self._terminate(vm.ID)
                deleted.append(Resource("instance", str(vm.ID), vm.NAME, self.site_name))
        # A security group cannot be deleted while a VM still uses it: wait for every VM first.
        self._wait_gone([str(vm.ID) for vm in vms])
        for sg in self._deployment_secgroups(deployment):
            try:
                self._call("secgroup.delete", int(sg.ID))
            except FatalError as exc:
                if not exc.details.get("missing"):
                    raise
            deleted.append(Resource("security_group", str(sg.ID), sg.NAME, self.site_name))
        return deleted

    # -- monitoring ------------------------------------------------------------------------
    def health(self):
        start = time.monotonic()
        try:
            version = self._call_once("system.version")
        except ProviderError as exc:
            return {"reachable": not isinstance(exc, TransientError), "latency_ms": None,
                    "error": "%s: %s" % (exc.kind, exc.message)}
        return {"reachable": True, "latency_ms": round((time.monotonic() - start) * 1000.0, 1), "error": None,
                "version": version}

    def usage(self):
        user = self._call("user.info", -1)
        quota = _as_list(getattr(getattr(user, "VM_QUOTA", None), "VM", None))
        default = getattr(getattr(user, "DEFAULT_USER_QUOTAS", None), "VM_QUOTA", None)
        default = _as_list(getattr(default, "VM", None))

        def limit(metric):
            value = _quota_number(getattr(quota[0], metric, None)) if quota else None
            if value == -1 and default:  # -1: the default quota applies
                value = _quota_number(getattr(default[0], metric, None))
            return None if value is None or value < 0 else value  # -2 (or -1 left): unlimited

        if quota:
            used = {m: _quota_number(getattr(quota[0], m + "_USED", None)) or 0 for m in ("VMS", "CPU", "MEMORY")}
        else:  # no quota record yet: count our live VMs
            pool = self._call("vmpool.info", POOL_MINE, -1, -1, -1)
            vms = _as_list(getattr(pool, "VM", None))
            used = {"VMS": len(vms), "CPU": sum(float((vm.TEMPLATE or {}).get("CPU") or 0) for vm in vms),
                    "MEMORY": sum(int((vm.TEMPLATE or {}).get("MEMORY") or 0) for vm in vms)}

        def as_int(value):
            return None if value is None else int(value)

        return {"instances": {"limit": as_int(limit("VMS")), "used": int(used["VMS"])},
                "cores": {"limit": limit("CPU"), "used": used["CPU"]},
                "ram_mb": {"limit": as_int(limit("MEMORY")), "used": int(used["MEMORY"])},
                "gpus": {"limit": None, "used": 0}}
