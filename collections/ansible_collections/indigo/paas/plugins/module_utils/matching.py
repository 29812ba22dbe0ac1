# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""Image and flavor matching, once for the broker and every provider.

Rules:
- an image is named exactly; a distribution matches case-insensitively ("Ubuntu" = "ubuntu"), a version
  as text ("22.04" = 22.04 read from YAML);
- a flavor fits when it has at least the CPUs, MB of RAM, GB of disk (when asked) and GPUs asked; a GPU
  vendor or model, when asked together with GPUs, is found case-insensitively inside the flavor's GPU text;
  the smallest fitting flavor wins, ordered by (GPUs, CPUs, RAM, disk, name) so a CPU-only node never takes
  a GPU flavor that happens to be small;
- ``instance_type`` names a flavor exactly: that one or none.

Flavors are plain dicts ``{name, num_cpus, mem_mb, disk_gb, gpus, gpu_vendor, gpu_model}`` (the site
catalogue's shape); a provider turns its cloud's flavor objects into these.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def same_distribution(a, b):
    return str(a or "").lower() == str(b or "").lower()


def image_matches(entry, distribution=None, version=None):
    """Whether one catalogue image entry is of ``distribution`` (and ``version`` when given)."""
    return same_distribution(entry.get("distribution"), distribution) and (
        version is None or version == "" or str(entry.get("version")) == str(version))


def catalogue_images(images, distribution, version=None):
    """The catalogue image entries of ``distribution`` (and ``version``), in catalogue order
    (``image_matches`` over the list, inlined: the broker asks once per site)."""
    wanted = str(distribution or "").lower()
    if version is None or version == "":
        return [entry for entry in images or () if str(entry.get("distribution") or "").lower() == wanted]
    version = str(version)
    return [entry for entry in images or ()
            if str(entry.get("distribution") or "").lower() == wanted and str(entry.get("version")) == version]


def image_named(images, name):
    for entry in images or ():
        if entry.get("name") == name:
            return entry
    return None


def flavor_table(flavors, with_gpu_text=True):
    """Flavor dicts as the rows matching compares, smallest first (the order the first fit searches):
    (gpus, cpus, mem, disk, name, GPU text). Without ``with_gpu_text`` (nobody asks for a GPU vendor or
    model) the text is left empty."""
    table = [(int(f.get("gpus") or 0), int(f.get("num_cpus") or 0), int(f.get("mem_mb") or 0),
              int(f.get("disk_gb") or 0), str(f.get("name", "")),
              ("%s %s" % (f.get("gpu_vendor") or "", f.get("gpu_model") or "")).lower() if with_gpu_text else "")
             for f in flavors or ()]
    table.sort()
    return table


def needs_key(num_cpus=0, mem_mb=0, disk_gb=0, gpus=0, gpu_vendor=None, gpu_model=None, max_cpus=None,
              max_mem_mb=None):
    """What a node asks of a flavor, as the hashable key ``first_fit`` takes (vendor and model only count
    with GPUs; ``max_*``: the upper bounds of a range the template asked for, None for none)."""
    gpus = int(gpus or 0)
    return (int(num_cpus or 0), int(mem_mb or 0), int(disk_gb or 0), gpus,
            str(gpu_vendor or "").lower() if gpus else "", str(gpu_model or "").lower() if gpus else "",
            max_cpus, max_mem_mb)


def first_fit(table, needs):
    """Name of the first (smallest) flavor row of ``table`` meeting ``needs`` (a ``needs_key``), or None."""
    cpus, mem, disk, gpus, vendor, model, max_cpus, max_mem = needs
    if max_cpus is not None or max_mem is not None:
        table = [f for f in table if (max_cpus is None or f[1] <= max_cpus) and (max_mem is None or f[2] <= max_mem)]
    for f_gpus, f_cpus, f_mem, f_disk, name, text in table:
        if (f_cpus >= cpus and f_mem >= mem and f_gpus >= gpus and (not disk or f_disk >= disk)
                and (not vendor or vendor in text) and (not model or model in text)):
            return name
    return None


def smallest_flavor(flavors, needs):
    """The flavor dict of ``flavors`` that ``first_fit`` picks for ``needs``, or None."""
    name = first_fit(flavor_table(flavors), needs)
    return None if name is None else flavor_named(flavors, name)


def flavor_named(flavors, name):
    """The flavor called exactly ``name`` (an instance_type), or None."""
    for flavor in flavors or ():
        if flavor.get("name") == name:
            return flavor
    return None
