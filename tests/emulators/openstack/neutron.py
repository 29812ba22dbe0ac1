"""Neutron v2.0: networks, subnets, routers, ports, security groups (+ rules), floating IPs, quotas,
tags. As strict as the real service about deletion order (a network with ports, a router with
interfaces, a security group in use cannot be deleted) so providers' cleanup order is tested."""

import ipaddress
import re

from wire import Reply, iso, new_id, neutron_error

COLLECTIONS = {  # URL collection -> (body key singular, quota name)
    "networks": ("network", "network"), "subnets": ("subnet", "subnet"), "routers": ("router", "router"),
    "ports": ("port", "port"), "security-groups": ("security_group", "security_group"),
    "security-group-rules": ("security_group_rule", None), "floatingips": ("floatingip", "floatingip"),
}
IGNORED_QUERY = {"limit", "marker", "sort_key", "sort_dir", "fields", "page_reverse"}


class Neutron:
    def __init__(self, cloud):
        self.cloud = cloud
        self.items = {name: {} for name in COLLECTIONS}
        public = self._add("networks", {"name": "public", "router:external": True, "shared": True})
        self._add("subnets", {"name": "public-subnet", "network_id": public["id"], "cidr": "203.0.113.0/24"})
        private = self._add("networks", {"name": "private", "shared": True})
        subnet = self._add("subnets", {"name": "private-subnet", "network_id": private["id"], "cidr": "10.0.0.0/24"})
        router = self._add("routers", {"name": "router1", "external_gateway_info": {"network_id": public["id"]}})
        self._router_interface(router, subnet["id"])
        self.preexisting = {(c, i) for c, items in self.items.items() for i in items}

    # -- generic collection handling --------------------------------------------------------------
    def _defaults(self, collection, attrs):
        base = {"id": new_id(), "name": "", "description": "", "tags": [], "project_id": "p-demo",
                "tenant_id": "p-demo", "created_at": iso(), "updated_at": iso(), "revision_number": 0}
        extra = {
            "networks": {"status": "ACTIVE", "admin_state_up": True, "shared": False, "router:external": False,
                         "subnets": [], "mtu": 1450},
            "subnets": {"ip_version": 4, "enable_dhcp": True, "gateway_ip": None, "dns_nameservers": [],
                        "allocation_pools": [], "host_routes": []},
            "routers": {"status": "ACTIVE", "admin_state_up": True, "external_gateway_info": None, "routes": []},
            "ports": {"status": "ACTIVE", "admin_state_up": True, "device_id": "", "device_owner": "",
                      "fixed_ips": [], "security_groups": []},
            "security-groups": {"security_group_rules": [], "stateful": True},
            "security-group-rules": {"direction": "ingress", "ethertype": "IPv4", "protocol": None,
                                     "port_range_min": None, "port_range_max": None, "remote_ip_prefix": None,
                                     "remote_group_id": None},
            "floatingips": {"status": "ACTIVE", "port_id": None, "fixed_ip_address": None, "router_id": None},
        }[collection]
        item = dict(base, **extra)
        item.update(attrs)
        return item

    def _add(self, collection, attrs):
        item = self._defaults(collection, attrs)
        if collection == "subnets":
            net = self._get("networks", item["network_id"])
            cidr = ipaddress.ip_network(item["cidr"])
            item["gateway_ip"] = item["gateway_ip"] or str(cidr.network_address + 1)
            item["allocation_pools"] = [{"start": str(cidr.network_address + 2), "end": str(cidr.broadcast_address - 1)}]
            item["_next"] = 10
            net["subnets"].append(item["id"])
        self.items[collection][item["id"]] = item
        return item

    def _get(self, collection, item_id):
        item = self.items[collection].get(item_id)
        if item is None:
            kind = COLLECTIONS[collection][0].title().replace("_", "")
            raise neutron_error(404, kind + "NotFound", "%s %s could not be found." % (kind, item_id))
        return item

    @staticmethod
    def view(item):
        return {k: v for k, v in item.items() if not k.startswith("_")}

    def snapshot(self):
        """What tests assert on: everything except the resources the emulator starts with."""
        return {name.replace("-", "_"): [self.view(item) for key, item in items.items()
                                         if (name, key) not in self.preexisting]
                for name, items in self.items.items()}

    def _matches(self, item, query_list):
        for key, value in query_list:
            if key in IGNORED_QUERY:
                continue
            if key in ("tags", "tags-any", "not-tags"):
                wanted = set(value.split(","))
                have = set(item.get("tags", []))
                if (key == "tags" and not wanted <= have) or (key == "tags-any" and not wanted & have) \
                        or (key == "not-tags" and wanted <= have):
                    return False
                continue
            actual = item.get(key)
            if isinstance(actual, bool):
                actual = str(actual)
            if str(actual).lower() != value.lower():
                return False
        return True

    def _check_quota(self, collection):
        quota = COLLECTIONS[collection][1]
        limit = self.cloud.quotas.get(quota, -1) if quota else -1
        if limit >= 0 and len(self.items[collection]) - self._preexisting_count(collection) >= limit:
            raise neutron_error(409, "OverQuota", "Quota exceeded for resources: ['%s']." % quota)

    def _preexisting_count(self, collection):
        return sum(1 for c, _ in self.preexisting if c == collection)

    def dispatch(self, method, prefix, path, query, query_list, body):
        path = re.sub(r"\.json$", "", path)
        match = re.fullmatch(r"/quotas/([^/]+)(/details)?", path)
        if match and method == "GET":
            return self.quotas(bool(match.group(2)))
        match = re.fullmatch(r"/routers/([^/]+)/(add|remove)_router_interface", path)
        if match and method == "PUT":
            router = self._get("routers", match.group(1))
            if match.group(2) == "add":
                return Reply(200, self._router_interface(router, body.get("subnet_id")))
            return Reply(200, self._remove_interface(router, body.get("subnet_id"), body.get("port_id")))
        match = re.fullmatch(r"/([a-z-]+)/([^/]+)/tags(?:/([^/]+))?", path)
        if match and match.group(1) in COLLECTIONS:
            item = self._get(match.group(1), match.group(2))
            if method == "PUT" and match.group(3):
                item["tags"] = sorted(set(item["tags"]) | {match.group(3)})
                return Reply(201)
            if method == "PUT":
                item["tags"] = list(body.get("tags") or [])
            elif method == "DELETE":
                item["tags"] = [t for t in item["tags"] if t != match.group(3)] if match.group(3) else []
                return Reply(204)
            return Reply(200, {"tags": item["tags"]})
        match = re.fullmatch(r"/([a-z-]+)(?:/([^/]+))?", path)
        if not match or match.group(1) not in COLLECTIONS:
            raise neutron_error(404, "HTTPNotFound", "The resource could not be found.")
        collection, item_id = match.groups()
        singular = COLLECTIONS[collection][0]
        if method == "GET" and item_id is None:
            items = [self.view(i) for i in self.items[collection].values() if self._matches(i, query_list)]
            return Reply(200, {collection.replace("-", "_"): items})
        if method == "GET":
            return Reply(200, {singular: self.view(self._get(collection, item_id))})
        if method == "POST" and item_id is None:
            return Reply(201, {singular: self.view(self.create(collection, body.get(singular) or {}))})
        if method == "PUT":
            item = self._get(collection, item_id)
            changes = dict(body.get(singular) or {})
            if collection == "floatingips" and "port_id" in changes:
                port_id = changes.pop("port_id")
                if port_id:
                    self._associate(item, port_id)
                else:
                    item.update(port_id=None, fixed_ip_address=None, router_id=None)
            item.update({k: v for k, v in changes.items() if k != "id"})
            return Reply(200, {singular: self.view(item)})
        if method == "DELETE" and item_id is not None:
            self.delete(collection, self._get(collection, item_id))
            return Reply(204)
        raise neutron_error(405, "HTTPMethodNotAllowed", "method not allowed")

    def create(self, collection, attrs):
        self._check_quota(collection)
        attrs = {k: v for k, v in attrs.items() if k != "id"}
        if collection == "subnets":
            self._get("networks", attrs.get("network_id"))
            try:
                ipaddress.ip_network(attrs.get("cidr"))
            except (TypeError, ValueError):
                raise neutron_error(400, "BadRequest", "Invalid input for cidr. Reason: '%s' is not a valid IP subnet."
                                    % attrs.get("cidr"))
        if collection == "ports":
            return self._new_port(attrs.pop("network_id", None), attrs)
        if collection == "security-groups":
            group = self._add(collection, attrs)
            for ethertype in ("IPv4", "IPv6"):
                self.create("security-group-rules", {"security_group_id": group["id"], "direction": "egress",
                                                     "ethertype": ethertype})
            return group
        if collection == "security-group-rules":
            group = self._get("security-groups", attrs.get("security_group_id"))
            rule = self._add(collection, attrs)
            group["security_group_rules"].append(self.view(rule))
            return rule
        if collection == "routers" and (attrs.get("external_gateway_info") or {}).get("network_id"):
            self._get("networks", attrs["external_gateway_info"]["network_id"])
        if collection == "floatingips":
            return self._new_floating_ip(attrs)
        return self._add(collection, attrs)

    def delete(self, collection, item):
        if collection == "networks":
            if any(p["network_id"] == item["id"] and p["device_owner"] != "network:dhcp"
                   for p in self.items["ports"].values()):
                raise neutron_error(409, "NetworkInUse", "Unable to complete operation on network %s. "
                                    "There are one or more ports still in use on the network." % item["id"])
            for subnet_id in list(item["subnets"]):
                del self.items["subnets"][subnet_id]
        if collection == "subnets":
            if any(ip["subnet_id"] == item["id"] for p in self.items["ports"].values() for ip in p["fixed_ips"]):
                raise neutron_error(409, "SubnetInUse", "Unable to complete operation on subnet %s: "
                                    "One or more ports have an IP allocation from this subnet." % item["id"])
            self.items["networks"][item["network_id"]]["subnets"].remove(item["id"])
        if collection == "routers" and any(p["device_id"] == item["id"] for p in self.items["ports"].values()):
            raise neutron_error(409, "RouterInUse", "Router %s still has ports" % item["id"])
        if collection == "security-groups":
            if any(item["id"] in p["security_groups"] for p in self.items["ports"].values()):
                raise neutron_error(409, "SecurityGroupInUse", "Security Group %s in use." % item["id"])
            for rule in item["security_group_rules"]:
                self.items["security-group-rules"].pop(rule["id"], None)
        if collection == "security-group-rules":
            group = self.items["security-groups"].get(item["security_group_id"])
            if group:
                group["security_group_rules"] = [r for r in group["security_group_rules"] if r["id"] != item["id"]]
        del self.items[collection][item["id"]]

    # -- ports, routers, floating IPs ------------------------------------------------------------
    def _new_port(self, network_id, attrs):
        network = self._get("networks", network_id)
        if not network["subnets"]:
            raise neutron_error(400, "BadRequest", "Network %s has no subnet" % network_id)
        subnet = self.items["subnets"][network["subnets"][0]]
        address = attrs.pop("_address", None)
        if address is None:
            address = str(ipaddress.ip_network(subnet["cidr"]).network_address + subnet["_next"])
            subnet["_next"] += 1
        mac = "fa:16:3e:%02x:%02x:%02x" % tuple(int(x, 16) for x in re.findall("..", new_id().replace("-", "")[:6]))
        attrs.setdefault("fixed_ips", [{"subnet_id": subnet["id"], "ip_address": address}])
        return self._add("ports", dict(attrs, network_id=network_id, mac_address=mac))

    def _router_interface(self, router, subnet_id):
        subnet = self._get("subnets", subnet_id)
        port = self._new_port(subnet["network_id"], {"device_id": router["id"], "_address": subnet["gateway_ip"],
                                                     "device_owner": "network:router_interface"})
        return {"id": router["id"], "subnet_id": subnet_id, "port_id": port["id"], "subnet_ids": [subnet_id]}

    def _remove_interface(self, router, subnet_id, port_id=None):
        for port in list(self.items["ports"].values()):
            if port["device_id"] == router["id"] and (port["id"] == port_id or any(
                    ip["subnet_id"] == subnet_id for ip in port["fixed_ips"])):
                del self.items["ports"][port["id"]]
                return {"id": router["id"], "subnet_id": subnet_id, "port_id": port["id"]}
        raise neutron_error(404, "RouterInterfaceNotFoundForSubnet",
                            "Router %s has no interface on subnet %s" % (router["id"], subnet_id))

    def _new_floating_ip(self, attrs):
        external = self._get("networks", attrs.get("floating_network_id"))
        if not external["router:external"]:
            raise neutron_error(400, "BadRequest", "Network %s is not a valid external network" % external["id"])
        subnet = self.items["subnets"][external["subnets"][0]]
        address = str(ipaddress.ip_network(subnet["cidr"]).network_address + subnet["_next"])
        subnet["_next"] += 1
        fip = self._add("floatingips", dict(attrs, floating_ip_address=address, port_id=None))
        if attrs.get("port_id"):
            try:
                self._associate(fip, attrs["port_id"])
            except Reply:
                del self.items["floatingips"][fip["id"]]
                raise
        return fip

    def _associate(self, fip, port_id):
        port = self._get("ports", port_id)
        subnet_id = port["fixed_ips"][0]["subnet_id"]
        for router in self.items["routers"].values():
            gateway = (router["external_gateway_info"] or {}).get("network_id")
            if gateway == fip["floating_network_id"] and any(
                    p["device_id"] == router["id"] and p["fixed_ips"][0]["subnet_id"] == subnet_id
                    for p in self.items["ports"].values()):
                fip.update(port_id=port_id, fixed_ip_address=port["fixed_ips"][0]["ip_address"], router_id=router["id"])
                return
        raise neutron_error(404, "ExternalGatewayForFloatingIPNotFound",
                            "External network %s is not reachable from subnet %s." % (fip["floating_network_id"], subnet_id))

    def find_security_group(self, name_or_id):
        return next((g for g in self.items["security-groups"].values() if name_or_id in (g["id"], g["name"])), None)

    def attach_server(self, server_id, network_id, port_id, group_names):
        groups = [self.find_security_group(name)["id"] for name in group_names if self.find_security_group(name)]
        if port_id:
            self._get("ports", port_id).update(device_id=server_id, device_owner="compute:nova")
            return
        self._check_quota("ports")
        self._new_port(network_id, {"device_id": server_id, "device_owner": "compute:nova", "security_groups": groups})

    def detach_server(self, server_id):
        for port in list(self.items["ports"].values()):
            if port["device_id"] == server_id:
                for fip in self.items["floatingips"].values():
                    if fip["port_id"] == port["id"]:
                        fip.update(port_id=None, fixed_ip_address=None, router_id=None)
                del self.items["ports"][port["id"]]

    def server_addresses(self, server_id):
        addresses = {}
        for port in self.items["ports"].values():
            if port["device_id"] != server_id:
                continue
            name = self.items["networks"][port["network_id"]]["name"]
            for ip in port["fixed_ips"]:
                addresses.setdefault(name, []).append({"version": 4, "addr": ip["ip_address"], "OS-EXT-IPS:type": "fixed",
                                                       "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]})
            for fip in self.items["floatingips"].values():
                if fip["port_id"] == port["id"]:
                    addresses[name].append({"version": 4, "addr": fip["floating_ip_address"], "OS-EXT-IPS:type": "floating",
                                            "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]})
        return addresses

    def quotas(self, details):
        quota = {}
        for collection, (_, name) in COLLECTIONS.items():
            if name:
                used = len(self.items[collection]) - self._preexisting_count(collection)
                limit = self.cloud.quotas.get(name, -1)
                quota[name] = {"limit": limit, "used": used, "reserved": 0} if details else limit
        return Reply(200, {"quota": quota})
