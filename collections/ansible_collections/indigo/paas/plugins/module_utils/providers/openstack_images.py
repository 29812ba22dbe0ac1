# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""OpenStack images and flavors for the provider (``openstack.OpenStackProvider``), matched by the one
rule of ``module_utils/matching.py``. A mixin over the provider's ``_api``/``_parallel``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.indigo.paas.plugins.module_utils import matching
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import FatalError


def parse_gpus(extra_specs):
    """GPUs a flavor gives: PCI passthrough aliases (``alias:count,...``) or placement PGPU/VGPU."""
    specs = extra_specs or {}
    count = 0
    for alias in str(specs.get("pci_passthrough:alias") or "").split(","):
        if alias.strip():
            count += int(alias.partition(":")[2] or 1)
    for key in ("resources:PGPU", "resources:VGPU"):
        count += int(specs.get(key) or 0)
    return count


class OpenStackImagesMixin:
    """The image and the flavor of a spec, cached per provider."""

    def _resolve_image(self, spec):
        wanted = spec.image
        if not wanted:
            found = matching.catalogue_images(self.site.get("images"), spec.os_distribution, spec.os_version) \
                if spec.os_distribution else []
            wanted = found[0]["name"] if found else None
        key = wanted or (spec.os_distribution, spec.os_version)
        if key in self._images:
            return self._images[key]
        if wanted:
            image = self._api("finding image %s" % wanted, "image.find_image", wanted, ignore_missing=True)
            if image is None:
                raise FatalError("image %s not found on site %s" % (wanted, self.site_name), self.site_name)
        elif spec.os_distribution:
            candidates = [i for i in self._api("listing images", "image.images", status="active")
                          if matching.same_distribution(i.os_distro, spec.os_distribution)
                          and (spec.os_version is None or str(i.os_version) == str(spec.os_version)
                               or str(i.os_version or "").startswith("%s." % spec.os_version))]
            if not candidates:
                raise FatalError("no image for %s %s on site %s" % (
                    spec.os_distribution, spec.os_version or "(any version)", self.site_name), self.site_name)
            # newest version first ("12" > "9"), then the most recently uploaded build of it
            image = max(candidates, key=lambda i: ([int(n) for n in re.findall(r"\d+", str(i.os_version or ""))],
                                                   i.created_at or ""))
        else:
            raise FatalError("node %s: give an image or an os distribution" % spec.node, self.site_name)
        self._images[key] = image
        return image

    def _resolve_flavor(self, spec):
        if spec.flavor:
            flavor = self._api("finding flavor %s" % spec.flavor, "compute.find_flavor", spec.flavor,
                               ignore_missing=True)
            if flavor is None:
                raise FatalError("flavor %s not found on site %s" % (spec.flavor, self.site_name), self.site_name)
            return flavor
        with self._flavor_lock:
            if self._flavors is None:
                flavors = self._api("listing flavors", "compute.flavors", details=True)
                if not any(flavor.extra_specs for flavor in flavors):  # Nova < 2.61 lists them without
                    fetched = self._parallel([lambda f=f: self._api("reading flavor extra specs",
                                                                    "compute.fetch_flavor_extra_specs", f)
                                              for f in flavors])
                    for flavor, with_specs in zip(flavors, fetched):
                        flavor.extra_specs = with_specs.extra_specs
                self._flavors = [f for f in flavors if not f.is_disabled]
        gpus = int(spec.gpus or 0)
        # the one matching rule (module_utils/matching.py); Nova's extra specs carry the GPU vendor and model
        rows = sorted((parse_gpus(f.extra_specs), f.vcpus, f.ram, f.disk, f.name,
                       " ".join(str(v) for v in (f.extra_specs or {}).values()).lower()) for f in self._flavors)
        name = matching.first_fit(rows, matching.needs_key(spec.num_cpus, spec.mem_mb, spec.disk_gb, gpus,
                                                           spec.gpu_vendor, spec.gpu_model))
        if name is None:
            raise FatalError("no flavor on site %s with >= %s cpus, %s MB RAM, %s GB disk, %d GPUs"
                             % (self.site_name, spec.num_cpus, spec.mem_mb, spec.disk_gb, gpus), self.site_name)
        return next(f for f in self._flavors if f.name == name)
