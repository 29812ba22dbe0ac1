# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""OpenStack (Cinder) volumes for the provider (``openstack.OpenStackProvider``): a node's own volumes
carry ``indigo_deployment`` and ``indigo_instance`` in their metadata. A mixin over the provider's ``_api``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (
    TAG_DEPLOYMENT, FatalError, Resource, TransientError)


class OpenStackVolumesMixin:
    """Create, attach, wait for and delete a deployment's volumes."""

    def _owned_volumes(self, deployment, instance_name=None):
        volumes = self._api("listing volumes", "block_storage.volumes", details=True)
        return [v for v in volumes if (v.metadata or {}).get(TAG_DEPLOYMENT) == deployment
                and (instance_name is None or (v.metadata or {}).get("indigo_instance") == instance_name)]

    def _attach_volume(self, server_id, spec, volume_spec, created):
        volume_id = volume_spec.volume_id
        if volume_id is None:
            name = "%s-%s" % (spec.name, volume_spec.name)
            existing = [v for v in self._owned_volumes(spec.deployment, spec.name) if v.name == name]
            if existing:
                volume = existing[0]
            else:
                volume = self._api(
                    "creating volume %s" % name, "block_storage.create_volume", size=int(volume_spec.size_gb),
                    name=name, volume_type=volume_spec.volume_type, availability_zone=spec.availability_zone,
                    metadata=dict(spec.tags, indigo_instance=spec.name, indigo_volume=volume_spec.name))
                created.append(Resource("volume", volume.id, volume.name or name, self.site_name))
            volume_id = volume.id
        volume = self._wait_volume(volume_id, ("available", "in-use"))
        if volume.status == "in-use":
            return
        self._api("attaching volume %s" % volume_id, "compute.create_volume_attachment", server_id,
                  volume=volume_id, device=volume_spec.device)

    def _wait_volume(self, volume_id, statuses):
        deadline = time.monotonic() + self.delete_timeout
        while True:
            volume = self._api("reading volume %s" % volume_id, "block_storage.get_volume", volume_id)
            if volume.status in statuses:
                return volume
            if volume.status.startswith("error"):
                raise FatalError("volume %s is in status %s" % (volume_id, volume.status), self.site_name)
            if time.monotonic() >= deadline:
                raise TransientError("volume %s still %s" % (volume_id, volume.status), self.site_name)
            time.sleep(min(self.poll_interval, 1.0))

    def _delete_volume(self, volume_id):
        self._wait_volume(volume_id, ("available", "error"))
        self._api("deleting volume %s" % volume_id, "block_storage.delete_volume", volume_id,
                  ignore_missing=True)
