# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""Sizes, once for the broker, every provider, every module and the CLI.

The rule: sizes are counted in MB as clouds count flavor RAM, that is MiB (1 MB = 1024 KB), so a TOSCA
``4 GB`` and ``4 GiB`` are both a 4096 MB flavor. TOSCA's decimal ``GB`` is read the way INDIGO and IM
templates mean it (a 4 GB node asks for the 4096 MB flavor), never 4000 or 4295, which would drop a
site whose 4096 MB flavor the instance would use.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.indigo.paas.plugins.module_utils.naming import UserError

MB_PER_UNIT = {"b": 1.0 / 1048576, "kb": 1.0 / 1024, "kib": 1.0 / 1024, "mb": 1, "mib": 1, "gb": 1024, "gib": 1024,
               "tb": 1048576, "tib": 1048576}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")


def size_mb_exact(value, what="size"):
    """A TOSCA scalar-unit.size ("2 GB", "512 MiB") or a plain number of MB → MB as a float (None and ""
    stay None); Mesos takes fractions of a MB. ``what`` names the option or property in the error."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise UserError("%s: %r is not a size (e.g. 2048, '2 GB', '512 MiB')" % (what, value))
    if isinstance(value, (int, float)):
        return float(value)
    match = _SIZE_RE.match(str(value))
    unit = match.group(2).lower() if match else None
    if not match or (unit and unit not in MB_PER_UNIT):
        raise UserError("%s: %r is not a size (e.g. 2048, '2 GB', '512 MiB')" % (what, value))
    return float(match.group(1)) * MB_PER_UNIT[unit or "mb"]


def size_mb(value, what="size"):
    """``size_mb_exact`` as a whole number of MB (a number given as MB is truncated, a size rounded)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    exact = size_mb_exact(value, what)
    return None if exact is None else int(round(exact))


def size_gb(value, what="size"):
    """A size → whole GB (1 GB = 1024 MB), rounded up so a volume or disk is never smaller than asked."""
    mb = size_mb(value, what)
    return None if mb is None else (mb + 1023) // 1024
