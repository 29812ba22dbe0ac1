"""Glance v2 images (read-only catalogue seeded at start) and Cinder v3 volumes with attachments."""

import re
import time

from wire import Reply, cinder_error, iso, new_id

IMAGES = [  # (name, os_distro, os_version)
    ("debian-12", "debian", "12"), ("debian-13", "debian", "13"), ("ubuntu-22.04", "ubuntu", "22.04"),
    ("ubuntu-24.04", "ubuntu", "24.04"), ("centos-7", "centos", "7"),
]
IMAGE_IGNORED_QUERY = {"limit", "marker", "sort", "sort_key", "sort_dir", "member_status"}


class Storage:
    def __init__(self, cloud):
        self.cloud = cloud
        self.images = {}
        for name, distro, version in IMAGES:
            image_id = new_id()
            self.images[image_id] = {
                "id": image_id, "name": name, "status": "active", "visibility": "public", "protected": False,
                "os_distro": distro, "os_version": version, "container_format": "bare", "disk_format": "qcow2",
                "min_disk": 2, "min_ram": 0, "size": 400 * 1024 * 1024, "checksum": None, "tags": [],
                "owner": "p-admin", "os_hidden": False, "created_at": iso(), "updated_at": iso(),
                "self": "/v2/images/" + image_id, "file": "/v2/images/%s/file" % image_id, "schema": "/v2/schemas/image"}
        self.volumes = {}

    def snapshot(self):
        return {"volumes": [self.volume_view(v) for v in self.volumes.values()]}

    def image_exists(self, image_id):
        return image_id in self.images

    def dispatch(self, method, prefix, path, query, query_list, body):
        if prefix == "/image/v2":
            return self.glance(method, path, query_list)
        return self.cinder(method, path, query, body)

    # -- glance ---------------------------------------------------------------------------------
    def glance(self, method, path, query_list):
        if method == "GET" and path == "/images":
            images = [i for i in self.images.values()
                      if all(k in IMAGE_IGNORED_QUERY or str(i.get(k)) == v for k, v in query_list)]
            return Reply(200, {"images": images, "first": "/v2/images", "schema": "/v2/schemas/images"})
        match = re.fullmatch(r"/images/([^/]+)", path)
        if method == "GET" and match:
            if match.group(1) not in self.images:
                raise Reply(404, {"code": 404, "title": "Not Found",
                                  "message": "No image found with ID %s" % match.group(1)})
            return Reply(200, self.images[match.group(1)])
        raise Reply(404, {"code": 404, "title": "Not Found", "message": "The resource could not be found."})

    # -- cinder ---------------------------------------------------------------------------------
    def volume_view(self, volume):
        if volume["status"] == "creating" and time.monotonic() >= volume["_ready_at"]:
            volume["status"] = "available"
        return {k: v for k, v in volume.items() if not k.startswith("_")}

    def _volume(self, volume_id):
        if volume_id not in self.volumes:
            raise cinder_error(404, "Volume %s could not be found." % volume_id)
        return self.volumes[volume_id]

    def cinder(self, method, path, query, body):
        if method == "GET" and path in ("/volumes", "/volumes/detail"):
            volumes = [self.volume_view(v) for v in self.volumes.values()]
            if query.get("name"):
                volumes = [v for v in volumes if v["name"] == query["name"]]
            return Reply(200, {"volumes": volumes})
        if method == "POST" and path == "/volumes":
            return Reply(202, {"volume": self.volume_view(self.create_volume(body.get("volume") or {}))})
        match = re.fullmatch(r"/volumes/([^/]+)", path)
        if match and method == "GET":
            return Reply(200, {"volume": self.volume_view(self._volume(match.group(1)))})
        if match and method == "DELETE":
            volume = self.volume_view(self._volume(match.group(1)))
            if volume["status"] not in ("available", "error"):
                raise cinder_error(400, "Invalid volume: Volume status must be available or error or "
                                   "error_restoring or error_extending or error_managing and must not be "
                                   "migrating, attached, belong to a group, have snapshots, awaiting a transfer, "
                                   "or be disassociated from snapshots after volume transfer.")
            del self.volumes[match.group(1)]
            return Reply(202)
        if method == "GET" and path in ("/attachments", "/attachments/detail"):
            return Reply(200, {"attachments": [
                {"id": a["attachment_id"], "volume_id": v["id"], "instance": a["server_id"], "status": "attached",
                 "attach_mode": "rw", "attached_at": a["attached_at"], "connection_info": {}}
                for v in self.volumes.values() for a in v["attachments"]]})
        if method == "GET" and path == "/limits":
            used = list(self.volumes.values())
            return Reply(200, {"limits": {"rate": [], "absolute": {
                "maxTotalVolumes": self.cloud.quotas["volumes"], "totalVolumesUsed": len(used),
                "maxTotalVolumeGigabytes": self.cloud.quotas["gigabytes"],
                "totalGigabytesUsed": sum(v["size"] for v in used)}}})
        raise cinder_error(404, "The resource could not be found.")

    def create_volume(self, spec):
        try:
            size = int(spec.get("size"))
        except (TypeError, ValueError):
            raise cinder_error(400, "Invalid input received: size must be an integer")
        used = list(self.volumes.values())
        if len(used) + 1 > self.cloud.quotas["volumes"]:
            raise cinder_error(413, "VolumeLimitExceeded: Maximum number of volumes allowed (%d) exceeded for "
                               "quota 'volumes'." % self.cloud.quotas["volumes"])
        if sum(v["size"] for v in used) + size > self.cloud.quotas["gigabytes"]:
            raise cinder_error(413, "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds "
                               "allowed gigabytes quota.")
        volume_id = new_id()
        self.volumes[volume_id] = {
            "id": volume_id, "name": spec.get("name"), "size": size, "status": "creating",
            "volume_type": spec.get("volume_type") or "__DEFAULT__", "metadata": dict(spec.get("metadata") or {}),
            "availability_zone": spec.get("availability_zone") or "nova", "attachments": [], "bootable": "false",
            "multiattach": False, "encrypted": False, "description": spec.get("description"),
            "created_at": iso(), "updated_at": iso(), "user_id": "u-demo",
            "os-vol-tenant-attr:tenant_id": "p-demo", "links": [],
            "_ready_at": time.monotonic() + self.cloud.emulator.build_delay / 4}
        return self.volumes[volume_id]

    # -- attachments (driven by Nova) --------------------------------------------------------------
    def attached_to(self, server_id):
        return [v["id"] for v in self.volumes.values() if any(a["server_id"] == server_id for a in v["attachments"])]

    def attachments_of(self, server_id):
        return [{"id": v["id"], "volumeId": v["id"], "serverId": server_id, "device": a["device"]}
                for v in self.volumes.values() for a in v["attachments"] if a["server_id"] == server_id]

    def attach(self, server_id, volume_id, device):
        volume = self.volume_view(self._volume(volume_id)) and self.volumes[volume_id]
        if volume["status"] != "available":
            raise cinder_error(400, "Invalid volume: volume %s status must be available, but current status is: %s"
                               % (volume_id, volume["status"]))
        device = device or "/dev/vd%s" % "bcdefghijklmnop"[len(self.attached_to(server_id))]
        volume["attachments"].append({"server_id": server_id, "attachment_id": new_id(), "volume_id": volume_id,
                                      "device": device, "id": volume_id, "attached_at": iso()})
        volume["status"] = "in-use"
        return {"id": volume_id, "volumeId": volume_id, "serverId": server_id, "device": device}

    def detach(self, server_id, volume_id):
        volume = self._volume(volume_id)
        before = len(volume["attachments"])
        volume["attachments"] = [a for a in volume["attachments"] if a["server_id"] != server_id]
        if len(volume["attachments"]) == before:
            raise cinder_error(404, "Volume %s is not attached to server %s" % (volume_id, server_id))
        if not volume["attachments"]:
            volume["status"] = "available"

    def detach_all(self, server_id):
        for volume_id in self.attached_to(server_id):
            self.detach(server_id, volume_id)
