# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""OpenNebula sites through pyone (XML-RPC).

What a deployment owns is found by the attributes this provider writes into every VM's
USER_TEMPLATE at allocation time (``INDIGO_DEPLOYMENT``, ``INDIGO_NODE``, ``INDIGO_INDEX``;
OpenNebula upper-cases template keys) and into the template of the per-node security groups it
creates. No state is kept anywhere else.

Credentials: ``username`` + ``password``, or ``username`` + ``token`` (a login token), or
``token`` alone when it is a full ``user:secret`` session string.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import ipaddress
import threading
import time
import xmlrpc.client

from ansible_collections.indigo.paas.plugins.module_utils import matching
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

try:
    import pyone
    import requests

    HAS_PYONE = True
except ImportError:  # reported when a provider is instantiated, not at import
    pyone = None
    requests = None
    HAS_PYONE = False

POOL_MINE = -3  # pool filter flag: resources owned by the connected user
VM_DONE = 6
# VM_STATE numbers -> normalised status (ACTIVE is refined by the LCM state)
STATE_STATUS = {0: "building", 1: "building", 2: "building", 4: "stopped", 5: "stopped", 6: "deleted",
                7: "error", 8: "stopped", 9: "stopped", 10: "building", 11: "error"}
# LCM states of an ACTIVE VM that mean it is going away (SHUTDOWN, CANCEL, EPILOG, CLEANUP_*)
LCM_LEAVING = {11, 12, 13, 15, 23}
GPU_VENDOR_IDS = {"nvidia": "10de", "amd": "1002", "intel": "8086"}


def _as_list(value):
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list) else [value]


def _quota_number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class OpenNebulaProvider(Provider):
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

    # -- what to ask for -------------------------------------------------------------------
    def _catalogue_flavor(self, name):
        flavor = matching.flavor_named(self.site.get("flavors"), name)
        if flavor is not None:
            return flavor
        raise FatalError("site %s: flavor %r is not in the site catalogue (known: %s)" % (
            self.site_name, name, ", ".join(f.get("name", "?") for f in self.site.get("flavors") or []) or "none"),
            self.site_name)

    def _resolve_image(self, spec):
        wanted = spec.image
        if not wanted and spec.os_distribution:
            found = matching.catalogue_images(self.site.get("images"), spec.os_distribution, spec.os_version or None)
            wanted = found[0]["name"] if found else None
        if not wanted:
            raise FatalError("site %s: no image for %s (distribution %s %s): give 'image' or list one in the "
                             "site catalogue" % (self.site_name, spec.name, spec.os_distribution, spec.os_version),
                             self.site_name)
        if str(wanted).isdigit():
            return int(wanted)
        images = _as_list(getattr(self._call("imagepool.info", -2, -1, -1), "IMAGE", None))
        for image in images:
            if image.NAME == wanted:
                return int(image.ID)
        raise FatalError("site %s: image %r not found" % (self.site_name, wanted), self.site_name)

    def _resolve_network(self, name):
        networks = _as_list(getattr(self._call("vnpool.info", -2, -1, -1), "VNET", None))
        if name is None:
            if len(networks) == 1:
                return int(networks[0].ID)
            raise FatalError("site %s: no network given and the site lists none in network.private" % self.site_name,
                             self.site_name)
        for net in networks:
            if net.NAME == str(name) or str(net.ID) == str(name):
                return int(net.ID)
        raise FatalError("site %s: virtual network %r not found" % (self.site_name, name), self.site_name)

    def _resolve_vm_template(self, name):
        for template in _as_list(getattr(self._call("templatepool.info", -2, -1, -1), "VMTEMPLATE", None)):
            if template.NAME == str(name) or str(template.ID) == str(name):
                return int(template.ID)
        raise FatalError("site %s: VM template %r not found" % (self.site_name, name), self.site_name)

    def _vm_template_name(self, spec):
        return spec.extra.get("one_template") or self.options.get("template")

    def _vm_template(self, spec, created):
        num_cpus, mem_mb, disk_gb, gpus = spec.num_cpus, spec.mem_mb, spec.disk_gb, spec.gpus or 0
        if spec.flavor:
            flavor = self._catalogue_flavor(spec.flavor)
            num_cpus, mem_mb = flavor.get("num_cpus", num_cpus), flavor.get("mem_mb", mem_mb)
            disk_gb, gpus = disk_gb or flavor.get("disk_gb"), max(gpus, flavor.get("gpus") or 0)
        num_cpus, mem_mb = int(num_cpus or 1), int(mem_mb or 1024)
        # CPU is the share of physical cores the scheduler reserves; sites that overcommit set cpu_ratio < 1
        cpu = round(num_cpus * float(self.options.get("cpu_ratio", 1.0)), 2)
        cpu = int(cpu) if cpu == int(cpu) else cpu
        body = {
            "NAME": spec.name, "CPU": cpu, "VCPU": num_cpus, "MEMORY": mem_mb,
            "INDIGO_DEPLOYMENT": spec.deployment, "INDIGO_NODE": spec.node, "INDIGO_INDEX": str(spec.index),
            "LABELS": "indigo/%s" % spec.deployment,
        }
        if spec.flavor:
            body["INDIGO_FLAVOR"] = spec.flavor
        disks = []
        if not self._vm_template_name(spec):  # an instantiated VM template brings its own disk
            root = {"IMAGE_ID": self._resolve_image(spec)}
            if disk_gb:
                root["SIZE"] = int(disk_gb) * 1024
            disks.append(root)
        for volume in spec.volumes:  # volatile disks live and die with the VM; volume_id attaches an image
            disks.append({"IMAGE_ID": volume.volume_id} if volume.volume_id
                         else {"TYPE": "fs", "SIZE": int(volume.size_gb) * 1024, "FORMAT": "raw"})
        if disks:
            body["DISK"] = disks
        network = spec.network or (self.site.get("network") or {}).get("private")
        nic = {"NETWORK_ID": self._resolve_network(network)}
        if spec.ports:
            nic["SECURITY_GROUPS"] = str(self._ensure_security_group(spec.deployment, spec.node, spec.ports, created))
        nics = [nic]
        if spec.public_ip:
            public = (self.site.get("network") or {}).get("public")
            if not public:
                raise FatalError("site %s: public_ip requested but the site has no network.public" % self.site_name,
                                 self.site_name)
            nics.append(dict(nic, NETWORK_ID=self._resolve_network(public)))
        body["NIC"] = nics
        if gpus:
            if not (self.site.get("capabilities") or {}).get("gpu"):
                raise FatalError("site %s: %d GPU(s) requested but the site offers none" % (self.site_name, gpus),
                                 self.site_name)
            pci = {"CLASS": "0302"}
            if spec.gpu_vendor and spec.gpu_vendor.lower() in GPU_VENDOR_IDS:
                pci["VENDOR"] = GPU_VENDOR_IDS[spec.gpu_vendor.lower()]
            body["PCI"] = [dict(pci) for dummy in range(int(gpus))]
        context = {"NETWORK": "YES", "SET_HOSTNAME": spec.name}
        if spec.ssh_public_key:
            context["SSH_PUBLIC_KEY"] = spec.ssh_public_key.strip()
        if spec.user_data:
            # base64 keeps any byte (and "]]>") out of the XML template
            context["USER_DATA"] = base64.b64encode(spec.user_data.encode("utf-8")).decode("ascii")
            context["USER_DATA_ENCODING"] = "base64"
        body["CONTEXT"] = context
        return {"TEMPLATE": body}

    # -- security groups -------------------------------------------------------------------
    @staticmethod
    def _rules(ports):
        rules = [{"PROTOCOL": "ALL", "RULE_TYPE": "outbound"}]
        wanted = [{"port": 22, "protocol": "tcp"}] + list(ports)
        for port in wanted:
            protocol = str(port.get("protocol") or "tcp").upper()
            if protocol not in ("TCP", "UDP", "ICMP", "ALL"):
                raise FatalError("unsupported protocol %r in ports" % port.get("protocol"))
            rule = {"PROTOCOL": protocol, "RULE_TYPE": "inbound"}
            value = str(port.get("port", ""))
            low, dummy, high = value.replace(":", "-").partition("-")
            if protocol in ("TCP", "UDP"):
                if not low.isdigit() or not 0 < int(low) < 65536 or (high and not high.isdigit()):
                    raise FatalError("invalid port %r (a number 1-65535 or a range 'a-b')" % port.get("port"))
                rule["RANGE"] = "%s:%s" % (low, high) if high else low
            cidr = port.get("remote_cidr") or port.get("remote_ip_prefix")
            if cidr and cidr not in ("0.0.0.0/0", "::/0"):
                try:
                    net = ipaddress.ip_network(cidr, strict=False)
                except ValueError:
                    raise FatalError("invalid remote_cidr %r in ports" % cidr) from None
                rule["IP"], rule["SIZE"] = str(net.network_address), net.num_addresses
            if rule not in rules:
                rules.append(rule)
        return rules

    def _deployment_secgroups(self, deployment):
        pool = self._call("secgrouppool.info", POOL_MINE, -1, -1)
        return [sg for sg in _as_list(getattr(pool, "SECURITY_GROUP", None))
                if (sg.TEMPLATE or {}).get("INDIGO_DEPLOYMENT") == deployment]

    def _ensure_security_group(self, deployment, node, ports, created):
        name = "%s-%s" % (deployment, node)
        template = {"TEMPLATE": {"NAME": name, "DESCRIPTION": "indigo.paas: node %s of %s" % (node, deployment),
                                 "INDIGO_DEPLOYMENT": deployment, "INDIGO_NODE": node, "RULE": self._rules(ports)}}
        with self._secgroup_lock:  # the instances of one node are created concurrently
            for attempt in range(2):
                for sg in self._deployment_secgroups(deployment):
                    if sg.NAME == name:
                        return int(sg.ID)
                try:
                    group_id = self._call("secgroup.allocate", template)
                    created.append(Resource("security_group", str(group_id), name, self.site_name))
                    return group_id
                except FatalError as exc:
                    # another process created it between our lookup and allocate: adopt it
                    if "already taken" not in exc.message or attempt:
                        raise
        raise FatalError("site %s: cannot create security group %s" % (self.site_name, name))  # pragma: no cover

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
