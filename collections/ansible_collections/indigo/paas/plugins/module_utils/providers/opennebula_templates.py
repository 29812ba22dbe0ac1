# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""What an OpenNebula VM is asked for, for the provider (opennebula.OpenNebulaProvider): its image,
network, VM template and catalogue flavor, and the per-node security groups (tagged in their template
with INDIGO_DEPLOYMENT). A mixin over the provider's _call."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import ipaddress

from ansible_collections.indigo.paas.plugins.module_utils import matching
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import FatalError, Resource

POOL_MINE = -3  # pool filter flag: resources owned by the connected user
GPU_VENDOR_IDS = {"nvidia": "10de", "amd": "1002", "intel": "8086"}


def _as_list(value):
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list) else [value]


class OpenNebulaTemplatesMixin:
    """The VM template of a spec and the security groups of its node."""

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
