"""What OpenNebula's answers are made of: its error codes and VM states (include/Request.h,
include/VirtualMachine.h), the attributes oned keeps in a VM's TEMPLATE, and the virtual networks and VMs
the in-memory cloud (cloud.py) holds, each with its XML document."""

import ipaddress
import itertools

import templates as tpl

# Error codes of the XML-RPC API (include/Request.h)
AUTHENTICATION, AUTHORIZATION, NO_EXISTS, ACTION, XML_RPC_API, INTERNAL, ALLOCATE = (
    0x0100, 0x0200, 0x0400, 0x0800, 0x1000, 0x2000, 0x4000)

# VM_STATE and LCM_STATE numbers (include/VirtualMachine.h)
INIT, PENDING, HOLD, ACTIVE, STOPPED, SUSPENDED, DONE, FAILED, POWEROFF = range(9)
STATE_NAMES = ["INIT", "PENDING", "HOLD", "ACTIVE", "STOPPED", "SUSPENDED", "DONE", "FAILED", "POWEROFF"]
LCM_INIT, PROLOG, BOOT, RUNNING = 0, 1, 2, 3
EPILOG, SHUTDOWN, CANCEL = 11, 12, 13
SHUTDOWN_POWEROFF, BOOT_POWEROFF = 18, 20
BOOT_FAILURE = 36

# Attributes oned keeps in TEMPLATE; everything else a user sends goes to USER_TEMPLATE.
SYSTEM_ATTRIBUTES = {
    "CPU", "VCPU", "VCPU_MAX", "MEMORY", "MEMORY_MAX", "DISK", "NIC", "NIC_ALIAS", "NIC_DEFAULT",
    "CONTEXT", "OS", "GRAPHICS", "VIDEO", "FEATURES", "INPUT", "RAW", "PCI", "TOPOLOGY", "NUMA_NODE",
    "SECURITY_GROUP_RULE", "TEMPLATE_ID", "VMID", "CPU_MODEL", "SCHED_ACTION", "SNAPSHOT", "TPM",
}


class OneError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def permissions_xml():
    bits = dict(OWNER_U=1, OWNER_M=1, OWNER_A=0, GROUP_U=0, GROUP_M=0, GROUP_A=0,
                OTHER_U=0, OTHER_M=0, OTHER_A=0)
    return "<PERMISSIONS>%s</PERMISSIONS>" % "".join(tpl.element(k, v) for k, v in bits.items())


class Network:
    def __init__(self, oid, name, cidr, bridge):
        self.id, self.name, self.bridge = oid, name, bridge
        self.net = ipaddress.ip_network(cidr)
        self.leases = {}  # ip -> vm id

    def lease(self, vm_id):
        for host in itertools.islice(self.net.hosts(), 1, None):  # .1 is the gateway
            if str(host) not in self.leases:
                self.leases[str(host)] = vm_id
                return str(host)
        raise OneError(ACTION, "Cannot get IP/MAC lease from virtual network %d." % self.id)

    def xml(self):
        size = self.net.num_addresses - 3
        ar = ("<AR_POOL><AR><AR_ID>0</AR_ID><IP>%s</IP><SIZE>%d</SIZE><TYPE>IP4</TYPE>"
              "<USED_LEASES>%d</USED_LEASES><LEASES/></AR></AR_POOL>") % (
                  self.net.network_address + 2, size, len(self.leases))
        return ("<VNET><ID>%d</ID><UID>0</UID><GID>0</GID><UNAME>oneadmin</UNAME><GNAME>oneadmin</GNAME>"
                "<NAME>%s</NAME><LOCK/>%s<CLUSTERS><ID>0</ID></CLUSTERS><BRIDGE>%s</BRIDGE>"
                "<BRIDGE_TYPE>linux</BRIDGE_TYPE><STATE>1</STATE><PREV_STATE>0</PREV_STATE>"
                "<PARENT_NETWORK_ID/><VN_MAD>bridge</VN_MAD><PHYDEV/><VLAN_ID/><OUTER_VLAN_ID/>"
                "<VLAN_ID_AUTOMATIC>0</VLAN_ID_AUTOMATIC><OUTER_VLAN_ID_AUTOMATIC>0</OUTER_VLAN_ID_AUTOMATIC>"
                "<USED_LEASES>%d</USED_LEASES><VROUTERS/><UPDATED_VMS/><OUTDATED_VMS/><UPDATING_VMS/>"
                "<ERROR_VMS/>%s%s</VNET>") % (
                    self.id, tpl.escape(self.name), permissions_xml(), self.bridge, len(self.leases),
                    tpl.to_xml("TEMPLATE", [["NETWORK_ADDRESS", str(self.net.network_address)],
                                            ["NETWORK_MASK", str(self.net.netmask)]]), ar)


class VM:
    def __init__(self, oid, user, name, template, user_template, now, step, fail, hold):
        self.id, self.user, self.name = oid, user, name
        self.template, self.user_template = template, user_template
        self.stime = int(now)
        self.step = step
        self.etime = 0
        if hold:
            self.schedule = [(now, HOLD, LCM_INIT)]
        else:
            self.schedule = [(now, PENDING, LCM_INIT)]
            self._plan_boot(now, fail)

    def _plan_boot(self, now, fail):
        self.schedule += [(now + self.step, ACTIVE, PROLOG), (now + 2 * self.step, ACTIVE, BOOT),
                          (now + 3 * self.step, ACTIVE, BOOT_FAILURE if fail else RUNNING)]

    def state(self, now):
        current = self.schedule[0]
        for entry in self.schedule:
            if entry[0] <= now:
                current = entry
        return current[1], current[2]

    def replan(self, now, steps):
        """Drop the future of the schedule and follow ``steps`` ([(delay, state, lcm)]) from now."""
        self.schedule = [e for e in self.schedule if e[0] <= now]
        self.schedule += [(now + delay, state, lcm) for delay, state, lcm in steps]

    def xml(self, now):
        state, lcm = self.state(now)
        return ("<VM><ID>%d</ID><UID>%d</UID><GID>%d</GID><UNAME>%s</UNAME><GNAME>users</GNAME>"
                "<NAME>%s</NAME>%s<LAST_POLL>0</LAST_POLL><STATE>%d</STATE><LCM_STATE>%d</LCM_STATE>"
                "<PREV_STATE>%d</PREV_STATE><PREV_LCM_STATE>%d</PREV_LCM_STATE><RESCHED>0</RESCHED>"
                "<STIME>%d</STIME><ETIME>%d</ETIME><DEPLOY_ID/><MONITORING/><SCHED_ACTIONS/>%s%s"
                "<HISTORY_RECORDS/></VM>") % (
                    self.id, self.user["id"], self.user["gid"], self.user["name"], tpl.escape(self.name),
                    permissions_xml(), state, lcm, state, lcm, self.stime, self.etime,
                    tpl.to_xml("TEMPLATE", self.template), tpl.to_xml("USER_TEMPLATE", self.user_template))
