"""In-memory OpenNebula: users and quotas, images, VM templates, virtual networks, security groups
and VMs with their state machine, answering with the XML documents oned returns.

Every public ``api_*`` method implements one XML-RPC method (without the session argument) and
returns the body of a successful answer or raises :class:`OneError` with OpenNebula's error code.
"""

import itertools
import threading
import time

import templates as tpl
from objects import (  # noqa: F401  (the error codes are the emulator's public names too)
    ACTION, ACTIVE, ALLOCATE, AUTHENTICATION, AUTHORIZATION, BOOT_FAILURE, BOOT_POWEROFF, CANCEL, DONE,
    EPILOG, HOLD, INTERNAL, LCM_INIT, NO_EXISTS, PENDING, POWEROFF, RUNNING, SHUTDOWN, SHUTDOWN_POWEROFF,
    STATE_NAMES, STOPPED, SUSPENDED, SYSTEM_ATTRIBUTES, VM, XML_RPC_API, Network, OneError, permissions_xml,
)


class Cloud:
    """The whole site. One lock: calls are short and oned serialises writes too."""

    def __init__(self, username="indigo", password="secret", token=None, step_delay=0.1):
        self.lock = threading.RLock()
        self.user = {"id": 2, "gid": 1, "name": username, "password": password, "token": token}
        self.step_delay = step_delay
        self.quota = {"VMS": -2, "CPU": -2, "MEMORY": -2}  # -2 unlimited, -1 the default quota applies
        self.default_quota = {"VMS": -2, "CPU": -2, "MEMORY": -2}
        self.fail_boot = 0
        self.ids = {"vm": itertools.count(0), "secgroup": itertools.count(100)}
        self.vms = {}
        self.secgroups = {0: ("default", [["DESCRIPTION", "default security group"]])}
        self.images = {0: ("debian-13", 2048), 1: ("ubuntu-24.04", 3072), 2: ("centos-7", 8192)}
        self.vm_templates = {0: ("debian-13-small", [["CPU", "1"], ["VCPU", "1"], ["MEMORY", "1024"],
                                                    ["DISK", [["IMAGE_ID", "0"]]],
                                                    ["NIC", [["NETWORK_ID", "0"]]]])}
        self.networks = {0: Network(0, "private", "10.10.0.0/16", "br0"),
                         1: Network(1, "public", "192.0.2.0/24", "br1")}

    # -- helpers ---------------------------------------------------------------------------
    def now(self):
        return time.time()

    def _vm(self, oid):
        vm = self.vms.get(int(oid))
        if vm is None:
            raise OneError(NO_EXISTS, "Error getting virtual machine [%d]." % int(oid))
        return vm

    def _live_vms(self, now):
        return [vm for vm in self.vms.values() if vm.state(now)[0] != DONE]

    def _release_done(self, now):
        for vm in self.vms.values():
            if vm.state(now)[0] == DONE and not vm.etime:
                vm.etime = int(now)
                for net in self.networks.values():
                    for ip in [ip for ip, owner in net.leases.items() if owner == vm.id]:
                        del net.leases[ip]

    def _usage(self, now):
        live = self._live_vms(now)
        return {"VMS": len(live),
                "CPU": sum(float(tpl.get(vm.template, "CPU", "0")) for vm in live),
                "MEMORY": sum(int(tpl.get(vm.template, "MEMORY", "0")) for vm in live)}

    def _check_quota(self, cpu, memory):
        used = self._usage(self.now())
        for metric, wanted in (("VMS", 1), ("CPU", cpu), ("MEMORY", memory)):
            limit = self.quota[metric] if self.quota[metric] != -1 else self.default_quota[metric]
            if limit >= 0 and used[metric] + wanted > limit:
                raise OneError(AUTHORIZATION, "User [%d] : user [%d] limit of %s reached for %s quota in VM."
                               % (self.user["id"], self.user["id"], limit, metric))

    def quota_exceeded_error(self):
        return OneError(AUTHORIZATION, "User [%d] : user [%d] limit of %d reached for VMS quota in VM."
                        % (self.user["id"], self.user["id"], self._usage(self.now())["VMS"]))

    def authenticate(self, session):
        user, _, secret = (session or "").partition(":")
        if user != self.user["name"] or secret not in (self.user["password"], self.user["token"]) or not secret:
            raise OneError(AUTHENTICATION, "User couldn't be authenticated, aborting call.")

    # -- system ----------------------------------------------------------------------------
    def api_system_version(self):
        return "7.0.0"

    def api_system_config(self):
        return ("<OPENNEBULA_CONFIGURATION><DEFAULT_DEVICE_PREFIX>vd</DEFAULT_DEVICE_PREFIX>"
                "<MAC_PREFIX>02:00</MAC_PREFIX><PORT>2633</PORT><VM_SUBMIT_ON_HOLD>NO</VM_SUBMIT_ON_HOLD>"
                "</OPENNEBULA_CONFIGURATION>")

    # -- user ------------------------------------------------------------------------------
    def api_user_info(self, oid=-1, decrypt=False):
        if int(oid) not in (-1, self.user["id"]):
            raise OneError(NO_EXISTS, "Error getting user [%d]." % int(oid))
        with self.lock:
            used = self._usage(self.now())
        quota = "".join(tpl.element(m, self.quota[m]) + tpl.element(m + "_USED", used[m]) for m in sorted(self.quota))
        quota += "<RUNNING_VMS>-2</RUNNING_VMS><RUNNING_VMS_USED>%d</RUNNING_VMS_USED>" % used["VMS"]
        quota += "<SYSTEM_DISK_SIZE>-2</SYSTEM_DISK_SIZE><SYSTEM_DISK_SIZE_USED>0</SYSTEM_DISK_SIZE_USED>"
        default = ("<DEFAULT_USER_QUOTAS><DATASTORE_QUOTA/><NETWORK_QUOTA/><VM_QUOTA><VM>%s</VM></VM_QUOTA>"
                   "<IMAGE_QUOTA/></DEFAULT_USER_QUOTAS>") % "".join(
                       tpl.element(m, self.default_quota[m]) for m in sorted(self.default_quota))
        return ("<USER><ID>%d</ID><GID>%d</GID><GROUPS><ID>%d</ID></GROUPS><GNAME>users</GNAME><NAME>%s</NAME>"
                "<PASSWORD>x</PASSWORD><AUTH_DRIVER>core</AUTH_DRIVER><ENABLED>1</ENABLED><LOGIN_TOKEN/>"
                "<TEMPLATE/><DATASTORE_QUOTA/><NETWORK_QUOTA/><VM_QUOTA><VM>%s</VM></VM_QUOTA><IMAGE_QUOTA/>%s</USER>"
                ) % (self.user["id"], self.user["gid"], self.user["gid"], self.user["name"], quota, default)

    # -- images, templates, networks ---------------------------------------------------------
    def _image_xml(self, oid):
        name, size = self.images[oid]
        return ("<IMAGE><ID>%d</ID><UID>0</UID><GID>0</GID><UNAME>oneadmin</UNAME><GNAME>oneadmin</GNAME>"
                "<NAME>%s</NAME><LOCK/>%s<TYPE>0</TYPE><DISK_TYPE>0</DISK_TYPE><PERSISTENT>0</PERSISTENT>"
                "<REGTIME>0</REGTIME><MODTIME>0</MODTIME><SOURCE/><PATH/><FORMAT>qcow2</FORMAT><FS/>"
                "<SIZE>%d</SIZE><STATE>1</STATE><PREV_STATE>0</PREV_STATE><RUNNING_VMS>0</RUNNING_VMS>"
                "<CLONING_OPS>0</CLONING_OPS><CLONING_ID>-1</CLONING_ID><TARGET_SNAPSHOT>-1</TARGET_SNAPSHOT>"
                "<DATASTORE_ID>1</DATASTORE_ID><DATASTORE>default</DATASTORE><VMS/><CLONES/><APP_CLONES/>"
                "%s<SNAPSHOTS><ALLOW_ORPHANS>NO</ALLOW_ORPHANS><CURRENT_BASE>-1</CURRENT_BASE>"
                "<NEXT_SNAPSHOT>0</NEXT_SNAPSHOT></SNAPSHOTS></IMAGE>") % (
                    oid, tpl.escape(name), permissions_xml(), size,
                    tpl.to_xml("TEMPLATE", [["DEV_PREFIX", "vd"]]))

    def api_image_info(self, oid, decrypt=False):
        if int(oid) not in self.images:
            raise OneError(NO_EXISTS, "Error getting image [%d]." % int(oid))
        return self._image_xml(int(oid))

    def api_imagepool_info(self, flag=-2, start=-1, end=-1):
        return "<IMAGE_POOL>%s</IMAGE_POOL>" % "".join(self._image_xml(i) for i in sorted(self.images))

    def _vm_template_xml(self, oid):
        name, body = self.vm_templates[oid]
        return ("<VMTEMPLATE><ID>%d</ID><UID>0</UID><GID>0</GID><UNAME>oneadmin</UNAME><GNAME>oneadmin</GNAME>"
                "<NAME>%s</NAME><LOCK/>%s<REGTIME>0</REGTIME>%s</VMTEMPLATE>") % (
                    oid, tpl.escape(name), permissions_xml(), tpl.to_xml("TEMPLATE", body))

    def api_template_info(self, oid, extended=False, decrypt=False):
        if int(oid) not in self.vm_templates:
            raise OneError(NO_EXISTS, "Error getting template [%d]." % int(oid))
        return self._vm_template_xml(int(oid))

    def api_templatepool_info(self, flag=-2, start=-1, end=-1):
        return "<VMTEMPLATE_POOL>%s</VMTEMPLATE_POOL>" % "".join(
            self._vm_template_xml(i) for i in sorted(self.vm_templates))

    def api_vn_info(self, oid, decrypt=False):
        if int(oid) not in self.networks:
            raise OneError(NO_EXISTS, "Error getting virtual network [%d]." % int(oid))
        with self.lock:
            return self.networks[int(oid)].xml()

    def api_vnpool_info(self, flag=-2, start=-1, end=-1):
        with self.lock:
            return "<VNET_POOL>%s</VNET_POOL>" % "".join(self.networks[i].xml() for i in sorted(self.networks))

    # -- security groups -------------------------------------------------------------------
    def _secgroup_xml(self, oid):
        name, body = self.secgroups[oid]
        return ("<SECURITY_GROUP><ID>%d</ID><UID>%d</UID><GID>%d</GID><UNAME>%s</UNAME><GNAME>users</GNAME>"
                "<NAME>%s</NAME>%s<UPDATED_VMS/><OUTDATED_VMS/><UPDATING_VMS/><ERROR_VMS/>%s</SECURITY_GROUP>"
                ) % (oid, self.user["id"], self.user["gid"], self.user["name"], tpl.escape(name),
                     permissions_xml(), tpl.to_xml("TEMPLATE", body))

    def api_secgroup_allocate(self, text):
        body = tpl.parse(text)
        name = tpl.get(body, "NAME")
        if not name:
            raise OneError(ALLOCATE, "No NAME in template for Security Group.")
        with self.lock:
            if any(sg[0] == name for sg in self.secgroups.values()):
                raise OneError(ALLOCATE, "NAME is already taken by SECGROUP %s." % name)
            oid = next(self.ids["secgroup"])
            self.secgroups[oid] = (name, [p for p in body if p[0] != "NAME"])
            return oid

    def api_secgroup_info(self, oid, decrypt=False):
        with self.lock:
            if int(oid) not in self.secgroups:
                raise OneError(NO_EXISTS, "Error getting security group [%d]." % int(oid))
            return self._secgroup_xml(int(oid))

    def api_secgrouppool_info(self, flag=-2, start=-1, end=-1):
        with self.lock:
            return "<SECURITY_GROUP_POOL>%s</SECURITY_GROUP_POOL>" % "".join(
                self._secgroup_xml(i) for i in sorted(self.secgroups))

    def api_secgroup_delete(self, oid):
        oid = int(oid)
        with self.lock:
            if oid not in self.secgroups:
                raise OneError(NO_EXISTS, "Error getting security group [%d]." % oid)
            if oid == 0:
                raise OneError(ACTION, "The default security group (ID 0) cannot be deleted.")
            now = self.now()
            self._release_done(now)
            users = [vm.id for vm in self._live_vms(now)
                     for nic in tpl.get_all(vm.template, "NIC")
                     if str(oid) in tpl.vector_get(nic, "SECURITY_GROUPS", "").split(",")]
            if users:
                raise OneError(ACTION, "Cannot delete security group. The security group has VMs using it")
            del self.secgroups[oid]
            return oid

    # -- VMs -------------------------------------------------------------------------------
    def _fill_nics(self, body, vm_id):
        for nic in tpl.get_all(body, "NIC"):
            net_ref = tpl.vector_get(nic, "NETWORK_ID")
            name = tpl.vector_get(nic, "NETWORK")
            matches = [n for n in self.networks.values()
                       if (net_ref is not None and str(n.id) == str(net_ref)) or (name and n.name == name)]
            if not matches:
                raise OneError(ALLOCATE, "Error allocating a new virtual machine template. Cannot get virtual "
                                         "network %s." % (net_ref if net_ref is not None else name))
            net = matches[0]
            for sg_id in [s for s in tpl.vector_get(nic, "SECURITY_GROUPS", "").split(",") if s]:
                if int(sg_id) not in self.secgroups:
                    raise OneError(ALLOCATE, "Error allocating a new virtual machine template. Error getting "
                                             "security group [%s]." % sg_id)
            for key, value in (("NETWORK", net.name), ("NETWORK_ID", str(net.id)), ("BRIDGE", net.bridge),
                               ("IP", net.lease(vm_id))):
                tpl.vector_set(nic, key, value)
        for index, nic in enumerate(tpl.get_all(body, "NIC")):
            tpl.vector_set(nic, "NIC_ID", str(index))

    def _fill_disks(self, body):
        for index, disk in enumerate(tpl.get_all(body, "DISK")):
            image_ref = tpl.vector_get(disk, "IMAGE_ID")
            name = tpl.vector_get(disk, "IMAGE")
            matches = [i for i, (n, _) in self.images.items()
                       if (image_ref is not None and str(i) == str(image_ref)) or (name and n == name)]
            if image_ref is None and name is None:
                continue  # volatile disk
            if not matches:
                raise OneError(ALLOCATE, "Error allocating a new virtual machine template. Error getting image "
                                         "[%s]." % (image_ref if image_ref is not None else name))
            tpl.vector_set(disk, "IMAGE_ID", str(matches[0]))
            tpl.vector_set(disk, "IMAGE", self.images[matches[0]][0])
            tpl.vector_set(disk, "DISK_ID", str(index))
            tpl.vector_set(disk, "TARGET", "vd" + "abcdefgh"[index])

    def allocate(self, body, hold=False, name=None):
        name = name or tpl.get(body, "NAME")
        system = [p for p in body if p[0] in SYSTEM_ATTRIBUTES]
        user = [p for p in body if p[0] not in SYSTEM_ATTRIBUTES and p[0] != "NAME"]
        if tpl.get(system, "MEMORY") is None or tpl.get(system, "CPU") is None:
            raise OneError(ALLOCATE, "Error allocating a new virtual machine template. No MEMORY or CPU in template.")
        try:
            cpu, memory = float(tpl.get(system, "CPU")), int(tpl.get(system, "MEMORY"))
        except ValueError:
            raise OneError(ALLOCATE, "Error allocating a new virtual machine template. CPU/MEMORY must be numbers.")
        with self.lock:
            now = self.now()
            self._release_done(now)
            self._check_quota(cpu, memory)
            oid = next(self.ids["vm"])
            self._fill_disks(system)
            self._fill_nics(system, oid)
            fail = self.fail_boot > 0
            self.fail_boot -= 1 if fail else 0
            system.append(["VMID", str(oid)])
            self.vms[oid] = VM(oid, self.user, name or "one-%d" % oid, system, user, now, self.step_delay,
                               fail, hold)
            return oid

    def api_vm_allocate(self, text, hold=False):
        try:
            return self.allocate(tpl.parse(text), hold=bool(hold))
        except tpl.TemplateSyntaxError as exc:
            raise OneError(ALLOCATE, "Error allocating a new virtual machine template. Parse error: %s" % exc)

    def api_template_instantiate(self, oid, name="", hold=False, extra="", persistent=False):
        if int(oid) not in self.vm_templates:
            raise OneError(NO_EXISTS, "Error getting template [%d]." % int(oid))
        body = [[k, [list(p) for p in v] if isinstance(v, list) else v] for k, v in self.vm_templates[int(oid)][1]]
        try:
            body = tpl.merge(body, tpl.parse(extra)) + [["TEMPLATE_ID", str(int(oid))]]
        except tpl.TemplateSyntaxError as exc:
            raise OneError(ALLOCATE, "Error parsing extra template: %s" % exc)
        return self.allocate(body, hold=bool(hold), name=name or None)

    def api_vm_info(self, oid, decrypt=False):
        with self.lock:
            now = self.now()
            self._release_done(now)
            return self._vm(oid).xml(now)

    def api_vm_update(self, oid, text, merge_mode=0):
        with self.lock:
            vm = self._vm(oid)
            update = tpl.parse(text)
            vm.user_template = tpl.merge(vm.user_template, update) if int(merge_mode) == 1 else update
            return vm.id

    def api_vm_action(self, action, oid):
        with self.lock:
            now = self.now()
            vm = self._vm(oid)
            state, lcm = vm.state(now)
            step = self.step_delay
            if action in ("terminate", "terminate-hard"):
                if state in (PENDING, HOLD, POWEROFF, STOPPED, SUSPENDED) or lcm == BOOT_FAILURE:
                    vm.replan(now, [(0, DONE, LCM_INIT)])
                elif state == ACTIVE and lcm == RUNNING:
                    first = CANCEL if action == "terminate-hard" else SHUTDOWN
                    vm.replan(now, [(0, ACTIVE, first), (step, ACTIVE, EPILOG), (2 * step, DONE, LCM_INIT)])
                elif state == ACTIVE and action == "terminate-hard":  # hard recover of a VM in transition
                    vm.replan(now, [(0, ACTIVE, EPILOG), (step, DONE, LCM_INIT)])
                else:
                    raise self._bad_action(action, state, lcm)
            elif action in ("poweroff", "poweroff-hard") and state == ACTIVE and lcm == RUNNING:
                vm.replan(now, [(0, ACTIVE, SHUTDOWN_POWEROFF), (step, POWEROFF, LCM_INIT)])
            elif action == "resume" and state == POWEROFF:
                vm.replan(now, [(0, ACTIVE, BOOT_POWEROFF), (step, ACTIVE, RUNNING)])
            elif action == "release" and state == HOLD:
                vm.replan(now, [(0, PENDING, LCM_INIT)])
                vm._plan_boot(now, False)
            elif action in ("hold",) and state == PENDING:
                vm.replan(now, [(0, HOLD, LCM_INIT)])
            else:
                raise self._bad_action(action, state, lcm)
            return vm.id

    @staticmethod
    def _bad_action(action, state, lcm):
        return OneError(ACTION, 'Error performing action "%s": This action is not available for state %s'
                        % (action, STATE_NAMES[state] if lcm == LCM_INIT else "ACTIVE (LCM %d)" % lcm))

    def api_vmpool_info(self, flag=-2, start=-1, end=-1, state_filter=-1, kv_filter=""):
        with self.lock:
            now = self.now()
            self._release_done(now)
            flag, start, end, state_filter = int(flag), int(start), int(end), int(state_filter)
            vms = sorted(self.vms.values(), key=lambda v: v.id)
            if flag >= 0 and flag != self.user["id"]:
                vms = []
            if state_filter == -1:
                vms = [vm for vm in vms if vm.state(now)[0] != DONE]
            elif state_filter >= 0:
                vms = [vm for vm in vms if vm.state(now)[0] == state_filter]
            if kv_filter:
                key, _, value = kv_filter.partition("=")
                key = key.strip().upper()
                vms = [vm for vm in vms
                       if (key == "NAME" and vm.name == value)
                       or value in [v for k, v in vm.user_template + vm.template if k == key]]
            if end < -1:  # pagination: start is an offset, -end the page size
                vms = vms[max(start, 0):max(start, 0) - end]
            elif start >= 0 or end >= 0:
                vms = [vm for vm in vms if vm.id >= max(start, 0) and (end < 0 or vm.id <= end)]
            return "<VM_POOL>%s</VM_POOL>" % "".join(vm.xml(now) for vm in vms)

    # -- test support ----------------------------------------------------------------------
    def dump(self):
        with self.lock:
            now = self.now()
            self._release_done(now)
            return {
                "vms": [{"id": vm.id, "name": vm.name, "state": vm.state(now)[0], "lcm_state": vm.state(now)[1],
                         "user_template": {k: v for k, v in vm.user_template if not isinstance(v, list)},
                         "cpu": tpl.get(vm.template, "CPU"), "memory": tpl.get(vm.template, "MEMORY"),
                         "context": dict(tpl.get(vm.template, "CONTEXT", [])),
                         "nics": [dict(nic) for nic in tpl.get_all(vm.template, "NIC")],
                         "disks": [dict(disk) for disk in tpl.get_all(vm.template, "DISK")]}
                        for vm in self._live_vms(now)],
                "done_vms": sum(1 for vm in self.vms.values() if vm.state(now)[0] == DONE),
                "secgroups": [{"id": i, "name": sg[0], "template": {k: v for k, v in sg[1] if not isinstance(v, list)}}
                              for i, sg in sorted(self.secgroups.items()) if i != 0],
                "leases": {n.name: len(n.leases) for n in self.networks.values()},
                "quota": dict(self.quota),
            }
