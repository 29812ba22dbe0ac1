"""The `local` site: real Debian nodes on this machine.

Each node is a systemd-nspawn machine (systemd as PID 1, sshd) on an overlayfs over one cached
debootstrap base image, in its own network namespace attached to a host bridge. Nodes reach Debian
packages through apt-cacher-ng listening on the bridge address. See docs LOCAL_NODES.md for the
measured recipe this follows.

Public entry point: :class:`LocalSite` (used by the ``local`` provider, the pytest fixture and
``python -m tosca2ansible.runtime.localsite``).
"""

from tosca2ansible.runtime.localsite.config import LocalSiteConfig
from tosca2ansible.runtime.localsite.errors import (
    CapacityError,
    HostNotReady,
    LocalSiteError,
    NodeTimeout,
)
from tosca2ansible.runtime.localsite.site import LocalSite, NodeRecord

__all__ = [
    "CapacityError",
    "HostNotReady",
    "LocalSite",
    "LocalSiteConfig",
    "LocalSiteError",
    "NodeRecord",
    "NodeTimeout",
]
