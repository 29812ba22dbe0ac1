# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""EC2 images (AMIs) and instance types for the provider (ec2.EC2Provider), instance types matched by
the one rule of module_utils/matching.py. A mixin over the provider's _call/_paged."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.indigo.paas.plugins.module_utils import matching
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import FatalError

DEFAULT_INSTANCE_TYPE = "t3.micro"


class EC2ImagesMixin:
    """The AMI and the instance type of a spec."""

    def _image_id(self, spec):
        catalogue = self.site.get("images") or []
        wanted = spec.image
        if not wanted:
            found = matching.catalogue_images(catalogue, spec.os_distribution, spec.os_version or None) \
                if spec.os_distribution else catalogue[:1]
            if found:
                wanted = found[0].get("id") or found[0]["name"]
            else:
                raise FatalError("no image of site %s matches distribution=%s version=%s"
                                 % (self.site_name, spec.os_distribution, spec.os_version), self.site_name)
        for image in catalogue:
            if image["name"] == wanted and image.get("id"):
                return image["id"]
        if wanted.startswith("ami-"):
            return wanted
        images = self._call("describe_images", Filters=[{"Name": "name", "Values": [wanted]}]).get("Images", [])
        if not images:
            raise FatalError("image %r not found on site %s" % (wanted, self.site_name), self.site_name)
        return sorted(images, key=lambda i: i.get("CreationDate", ""))[-1]["ImageId"]

    def _known_types(self):
        if self._instance_types is None:
            types = []
            for item in self._paged("describe_instance_types", "InstanceTypes"):
                gpus = sum(g.get("Count", 0) for g in (item.get("GpuInfo") or {}).get("Gpus", []))
                types.append({"name": item["InstanceType"], "num_cpus": item["VCpuInfo"]["DefaultVCpus"],
                              "mem_mb": item["MemoryInfo"]["SizeInMiB"], "gpus": gpus})
            self._instance_types = types
        return self._instance_types

    def _instance_type(self, spec):
        if spec.flavor:
            return spec.flavor
        if not (spec.num_cpus or spec.mem_mb or spec.gpus):
            flavors = self.site.get("flavors") or []
            return flavors[0]["name"] if flavors else DEFAULT_INSTANCE_TYPE
        candidates = self.site.get("flavors") or self._known_types()
        needs = matching.needs_key(spec.num_cpus, spec.mem_mb, 0, spec.gpus, spec.gpu_vendor, spec.gpu_model)
        best = matching.smallest_flavor(candidates, needs)
        if best is None:
            raise FatalError("no instance type of site %s has %s vCPU, %s MiB, %s GPU"
                             % (self.site_name, spec.num_cpus, spec.mem_mb, spec.gpus), self.site_name)
        return best["name"]
