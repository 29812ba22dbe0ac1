"""The emulated cloud: discovery documents, routing, and Nova (compute) state.

Neutron lives in neutron.py, Glance and Cinder in storage.py. Every handler runs under the emulator
lock, so a request sees and leaves a consistent state.
"""

import re
import time

import neutron
import storage
from wire import Reply, iso, new_id, nova_error

DEFAULT_QUOTAS = {"instances": 20, "cores": 40, "ram": 81920, "key_pairs": 100, "floatingip": 20,
                  "network": 20, "subnet": 20, "router": 10, "security_group": 20, "port": 200,
                  "volumes": 20, "gigabytes": 1000}
FLAVORS = [  # (name, vcpus, ram MB, disk GB, extra_specs)
    ("m1.tiny", 1, 512, 1, {}), ("m1.small", 1, 2048, 20, {}), ("m1.medium", 2, 4096, 40, {}),
    ("m1.large", 4, 8192, 80, {}), ("m1.xlarge", 8, 16384, 160, {}),
    ("g1.large", 4, 16384, 80, {"pci_passthrough:alias": "nvidia-t4:1", "gpu_vendor": "NVIDIA", "gpu_model": "T4"}),
    ("g2.xlarge", 8, 32768, 160, {"resources:PGPU": "2", "gpu_vendor": "NVIDIA", "gpu_model": "A100"}),
]
COMPUTE_VERSION = {"id": "v2.1", "status": "CURRENT", "version": "2.79", "min_version": "2.1",
                   "updated": "2013-07-23T11:33:21Z"}


class CloudState:
    def __init__(self, emulator):
        self.emulator = emulator
        self.quotas = dict(DEFAULT_QUOTAS)
        self.servers, self.keypairs = {}, {}
        self.flavors = {}
        for number, (name, vcpus, ram, disk, specs) in enumerate(FLAVORS, start=1):
            self.flavors[str(number)] = {
                "id": str(number), "name": name, "vcpus": vcpus, "ram": ram, "disk": disk, "swap": 0,
                "OS-FLV-EXT-DATA:ephemeral": 0, "rxtx_factor": 1.0, "os-flavor-access:is_public": True,
                "OS-FLV-DISABLED:disabled": False, "description": None, "extra_specs": dict(specs), "links": []}
        self.network = neutron.Neutron(self)
        self.storage = storage.Storage(self)

    @property
    def base(self):
        return self.emulator.base_url

    def snapshot(self):
        state = {"servers": [self.server_view(s) for s in self.servers.values()],
                 "keypairs": sorted(self.keypairs)}
        state.update(self.network.snapshot())
        state.update(self.storage.snapshot())
        return state

    # -- discovery ------------------------------------------------------------------------------
    def discovery(self, path):
        def link(href):
            return [{"rel": "self", "href": self.base + href}]

        compute = dict(COMPUTE_VERSION, links=link("/compute/v2.1/"))
        network = {"id": "v2.0", "status": "CURRENT", "links": link("/network/v2.0/")}
        images = [{"id": "v2.%d" % minor, "status": "CURRENT" if minor == 16 else "SUPPORTED",
                   "links": link("/image/v2/")} for minor in range(16, -1, -1)]
        volume = {"id": "v3.0", "status": "CURRENT", "version": "3.70", "min_version": "3.0",
                  "updated": "2023-08-31T00:00:00Z", "links": link("/volume/v3/")}
        docs = {"/compute": {"versions": [compute]}, "/compute/v2.1": {"version": compute},
                "/network": {"versions": [network]}, "/image": {"versions": images},
                "/volume": {"versions": [volume]}, "/volume/v3": {"version": volume}}
        return docs.get(path)

    def route(self, method, path, query, query_list, body):
        for prefix, service in (("/compute/v2.1", self), ("/network/v2.0", self.network),
                                ("/image/v2", self.storage), ("/volume/v3/p-demo", self.storage)):
            if path.startswith(prefix + "/") or path == prefix:
                with self.emulator.lock:
                    return service.dispatch(method, prefix, path[len(prefix):], query, query_list, body)
        raise Reply(404, {"error": {"code": 404, "message": "no such service path %s" % path}})

    # -- nova -----------------------------------------------------------------------------------
    def dispatch(self, method, prefix, path, query, query_list, body):
        routes = [
            ("GET", r"/servers(/detail)?", self.list_servers), ("POST", r"/servers", self.create_server),
            ("GET", r"/servers/([^/]+)", self.get_server), ("DELETE", r"/servers/([^/]+)", self.delete_server),
            ("GET", r"/servers/([^/]+)/ips", self.get_addresses),
            ("GET", r"/servers/([^/]+)/metadata", self.get_metadata),
            ("POST", r"/servers/([^/]+)/metadata", self.update_metadata),
            ("PUT", r"/servers/([^/]+)/metadata", self.replace_metadata),
            ("GET", r"/servers/([^/]+)/tags", self.get_tags), ("PUT", r"/servers/([^/]+)/tags", self.put_tags),
            ("GET", r"/servers/([^/]+)/os-volume_attachments", self.list_attachments),
            ("POST", r"/servers/([^/]+)/os-volume_attachments", self.attach_volume),
            ("DELETE", r"/servers/([^/]+)/os-volume_attachments/([^/]+)", self.detach_volume),
            ("GET", r"/flavors(/detail)?", self.list_flavors), ("GET", r"/flavors/([^/]+)", self.get_flavor),
            ("GET", r"/flavors/([^/]+)/os-extra_specs", self.get_extra_specs),
            ("GET", r"/os-keypairs", self.list_keypairs), ("POST", r"/os-keypairs", self.create_keypair),
            ("GET", r"/os-keypairs/([^/]+)", self.get_keypair),
            ("DELETE", r"/os-keypairs/([^/]+)", self.delete_keypair),
            ("GET", r"/limits", self.limits),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                return handler(*[g for g in match.groups() if g not in (None, "/detail")], query=query, body=body)
        raise nova_error(404, "The resource could not be found.")

    def _server(self, server_id):
        server = self.servers.get(server_id)
        if server is None:
            raise nova_error(404, "Instance %s could not be found." % server_id)
        return server

    def server_view(self, server):
        if server["status"] == "BUILD" and time.monotonic() >= server["_active_at"]:
            server["status"] = "ERROR" if server["_fail"] else "ACTIVE"
            server["OS-EXT-STS:vm_state"] = server["status"].lower()
            server["OS-EXT-STS:task_state"] = None
            if server["_fail"]:
                server["fault"] = {"code": 500, "message": "No valid host was found. There are not enough hosts available.",
                                   "created": iso()}
        view = {k: v for k, v in server.items() if not k.startswith("_")}
        view["addresses"] = self.network.server_addresses(server["id"])
        view["os-extended-volumes:volumes_attached"] = [{"id": v} for v in self.storage.attached_to(server["id"])]
        return view

    def list_servers(self, query, body):
        servers = [self.server_view(s) for s in self.servers.values()]
        if query.get("name"):  # Nova treats the name filter as a regular expression
            servers = [s for s in servers if re.search(query["name"], s["name"])]
        if query.get("status"):
            servers = [s for s in servers if s["status"] == query["status"].upper()]
        return Reply(200, {"servers": servers})

    def get_server(self, server_id, query, body):
        return Reply(200, {"server": self.server_view(self._server(server_id))})

    def _check_quota(self, flavor):
        fault = self.emulator.take_fault("POST", "/servers", ("quota",))
        live = [s for s in self.servers.values()]
        used = {"instances": len(live), "cores": sum(s["_vcpus"] for s in live), "ram": sum(s["_ram"] for s in live)}
        wanted = {"instances": 1, "cores": flavor["vcpus"], "ram": flavor["ram"]}
        for resource in ("instances", "cores", "ram"):
            limit = self.quotas[resource]
            forced = fault is not None and resource == "instances"
            if forced or (limit >= 0 and used[resource] + wanted[resource] > limit):
                message = "Quota exceeded for %s: Requested %d, but already used %d of %d %s" % (
                    resource, wanted[resource], used[resource], limit, resource)
                if fault is not None and int(fault.get("status", 403)) == 413:
                    raise nova_error(413, message)
                raise nova_error(403, message)

    def create_server(self, query, body):
        spec = body.get("server") or {}
        if not spec.get("name"):
            raise nova_error(400, "Invalid input for field/attribute server. Value: %r. 'name' is a required property" % spec)
        flavor = self.flavors.get(str(spec.get("flavorRef")))
        if flavor is None:
            raise nova_error(400, "Flavor %s could not be found." % spec.get("flavorRef"))
        if not self.storage.image_exists(spec.get("imageRef")):
            raise nova_error(400, "Image %s could not be found." % spec.get("imageRef"))
        if spec.get("key_name") and spec["key_name"] not in self.keypairs:
            raise nova_error(400, "Invalid key_name provided.")
        groups = [g.get("name") for g in spec.get("security_groups") or [{"name": "default"}]]
        for group in groups:
            if group != "default" and not self.network.find_security_group(group):
                raise nova_error(400, "Security group %s not found for project %s." % (group, "p-demo"))
        networks = spec.get("networks")
        if networks in (None, "auto"):
            raise nova_error(400, "Multiple possible networks found, use a Network ID to be more specific.")
        self._check_quota(flavor)
        server_id = new_id()
        for net in networks if isinstance(networks, list) else []:
            self.network.attach_server(server_id, net.get("uuid"), net.get("port"), groups)
        fail = self.emulator.take_fault("POST", "/servers", ("server_error",)) is not None
        now = time.time()
        self.servers[server_id] = {
            "id": server_id, "name": spec["name"], "status": "BUILD", "tenant_id": "p-demo", "user_id": "u-demo",
            "metadata": dict(spec.get("metadata") or {}), "tags": [], "hostId": "",
            "image": {"id": spec["imageRef"], "links": []}, "flavor": self.embedded_flavor(flavor),
            "key_name": spec.get("key_name"), "security_groups": [{"name": g} for g in groups],
            "OS-EXT-AZ:availability_zone": spec.get("availability_zone") or "nova",
            "OS-EXT-STS:vm_state": "building", "OS-EXT-STS:task_state": "spawning", "OS-EXT-STS:power_state": 0,
            "OS-DCF:diskConfig": "MANUAL", "accessIPv4": "", "accessIPv6": "", "config_drive": "",
            "created": iso(now), "updated": iso(now), "links": [], "user_data": spec.get("user_data"),
            "_active_at": time.monotonic() + self.emulator.build_delay, "_fail": fail,
            "_vcpus": flavor["vcpus"], "_ram": flavor["ram"]}
        return Reply(202, {"server": {"id": server_id, "links": [], "OS-DCF:diskConfig": "MANUAL",
                                      "security_groups": [{"name": g} for g in groups], "adminPass": "x"}})

    @staticmethod
    def embedded_flavor(flavor):
        """A server's flavor as Nova >= 2.47 shows it (a copy, not a link)."""
        return {"original_name": flavor["name"], "vcpus": flavor["vcpus"], "ram": flavor["ram"], "disk": flavor["disk"],
                "ephemeral": 0, "swap": 0, "extra_specs": dict(flavor["extra_specs"])}

    def delete_server(self, server_id, query, body):
        self._server(server_id)
        self.storage.detach_all(server_id)
        self.network.detach_server(server_id)
        del self.servers[server_id]
        return Reply(204)

    def get_addresses(self, server_id, query, body):
        return Reply(200, {"addresses": self.network.server_addresses(self._server(server_id)["id"])})

    def get_metadata(self, server_id, query, body):
        return Reply(200, {"metadata": self._server(server_id)["metadata"]})

    def update_metadata(self, server_id, query, body):
        self._server(server_id)["metadata"].update(body.get("metadata") or {})
        return self.get_metadata(server_id, query, body)

    def replace_metadata(self, server_id, query, body):
        self._server(server_id)["metadata"] = dict(body.get("metadata") or {})
        return self.get_metadata(server_id, query, body)

    def get_tags(self, server_id, query, body):
        return Reply(200, {"tags": self._server(server_id)["tags"]})

    def put_tags(self, server_id, query, body):
        self._server(server_id)["tags"] = list(body.get("tags") or [])
        return self.get_tags(server_id, query, body)

    def list_attachments(self, server_id, query, body):
        self._server(server_id)
        return Reply(200, {"volumeAttachments": self.storage.attachments_of(server_id)})

    def attach_volume(self, server_id, query, body):
        server = self.server_view(self._server(server_id))
        if server["status"] not in ("ACTIVE", "SHUTOFF"):
            raise nova_error(409, "Cannot 'attach_volume' instance %s while it is in vm_state %s"
                             % (server_id, server["OS-EXT-STS:vm_state"]))
        spec = body.get("volumeAttachment") or {}
        return Reply(200, {"volumeAttachment": self.storage.attach(server_id, spec.get("volumeId"), spec.get("device"))})

    def detach_volume(self, server_id, volume_id, query, body):
        self._server(server_id)
        self.storage.detach(server_id, volume_id)
        return Reply(202)

    def list_flavors(self, query, body):
        return Reply(200, {"flavors": list(self.flavors.values())})

    def get_flavor(self, flavor_id, query, body):
        if flavor_id not in self.flavors:
            raise nova_error(404, "Flavor %s could not be found." % flavor_id)
        return Reply(200, {"flavor": self.flavors[flavor_id]})

    def get_extra_specs(self, flavor_id, query, body):
        return Reply(200, {"extra_specs": self.get_flavor(flavor_id, query, body).body["flavor"]["extra_specs"]})

    def list_keypairs(self, query, body):
        return Reply(200, {"keypairs": [{"keypair": k} for k in self.keypairs.values()]})

    def create_keypair(self, query, body):
        spec = body.get("keypair") or {}
        name = spec.get("name") or ""
        if name in self.keypairs:
            raise nova_error(409, "Key pair '%s' already exists." % name)
        if not spec.get("public_key", "").startswith(("ssh-", "ecdsa-")):
            raise nova_error(400, "Keypair data is invalid: failed to generate fingerprint")
        if len(self.keypairs) >= self.quotas["key_pairs"]:
            raise nova_error(403, "Quota exceeded, too many key pairs.")
        self.keypairs[name] = {"name": name, "public_key": spec["public_key"], "type": spec.get("type", "ssh"),
                               "fingerprint": "fp:%08x" % (hash(spec["public_key"]) & 0xFFFFFFFF),
                               "user_id": "u-demo", "created_at": iso()}
        return Reply(200, {"keypair": self.keypairs[name]})

    def get_keypair(self, name, query, body):
        if name not in self.keypairs:
            raise nova_error(404, "Keypair %s not found for user u-demo" % name)
        return Reply(200, {"keypair": self.keypairs[name]})

    def delete_keypair(self, name, query, body):
        self.get_keypair(name, query, body)
        del self.keypairs[name]
        return Reply(202)

    def limits(self, query, body):
        live = list(self.servers.values())
        return Reply(200, {"limits": {"rate": [], "absolute": {
            "maxTotalInstances": self.quotas["instances"], "totalInstancesUsed": len(live),
            "maxTotalCores": self.quotas["cores"], "totalCoresUsed": sum(s["_vcpus"] for s in live),
            "maxTotalRAMSize": self.quotas["ram"], "totalRAMUsed": sum(s["_ram"] for s in live),
            "maxTotalKeypairs": self.quotas["key_pairs"], "maxServerMeta": 128, "maxImageMeta": 128,
            "maxPersonality": 5, "maxPersonalitySize": 10240, "maxServerGroups": 10,
            "maxServerGroupMembers": 10, "totalServerGroupsUsed": 0,
            "maxTotalFloatingIps": -1, "totalFloatingIpsUsed": 0,
            "maxSecurityGroups": -1, "totalSecurityGroupsUsed": 0, "maxSecurityGroupRules": -1}}})
