"""The `local` site: real Debian nodes on this machine.

Each node is a systemd-nspawn machine (systemd as PID 1, sshd) on an overlayfs over one cached
debootstrap base image, in its own network namespace attached to a host bridge. Nodes reach Debian
packages through apt-cacher-ng listening on the bridge address. See docs LOCAL_NODES.md for the
measured recipe this follows.

Public entry point: :class:`LocalSite` (used by the ``local`` provider, the pytest fixture and
``python -m tosca2ansible.runtime.localsite`` of the framework, which imports it from here).
"""

from ansible_collections.indigo.paas.plugins.module_utils.localsite.config import LocalSiteConfig
from ansible_collections.indigo.paas.plugins.module_utils.localsite.errors import (
    CapacityError,
    HostNotReady,
    LocalSiteError,
    NodeTimeout,
)
from ansible_collections.indigo.paas.plugins.module_utils.localsite.site import LocalSite, NodeRecord

__all__ = [
    "CapacityError",
    "HostNotReady",
    "LocalSite",
    "LocalSiteConfig",
    "LocalSiteError",
    "NodeRecord",
    "NodeTimeout",
]
