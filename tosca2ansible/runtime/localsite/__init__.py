"""The `local` site: real Debian nodes on this machine (systemd-nspawn machines on a host bridge).

Its machine control lives in the collection (``indigo.paas`` module_utils/localsite) so that the
collection's ``local`` provider needs nothing outside the collection;
``tosca2ansible.runtime.localsite.<module>`` remain the same modules under their old names, and
``python -m tosca2ansible.runtime.localsite`` (``__main__.py`` here) is the framework's command line for it.
"""

from tosca2ansible.collection import alias_package

_PACKAGE = alias_package(__name__, "ansible_collections.indigo.paas.plugins.module_utils.localsite",
                         ("aptproxy", "config", "errors", "host", "image", "machine", "network", "relay", "site"))

# the collection package's public names (LocalSite, LocalSiteConfig, the errors...), the same objects
__all__ = list(_PACKAGE.__all__)
globals().update({name: getattr(_PACKAGE, name) for name in __all__})
