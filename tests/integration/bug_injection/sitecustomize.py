"""Test-only: put a bug into the OpenStack provider of one site, in every Python process of a run.

On PYTHONPATH, Python imports this file at start-up (the `indigo` process, ansible-playbook and every
module AnsiballZ runs). When the unmodified provider module is imported, from the installed tree or from
a module's payload, its ``create_instance`` is wrapped so that on the site named by
``INDIGO_TEST_BUG_SITE`` it fails the way a coding mistake does: a KeyError out of provider code."""

import importlib.abc
import importlib.machinery
import os
import sys

TARGET = "ansible_collections.indigo.paas.plugins.module_utils.providers.openstack"


class _Loader(importlib.abc.Loader):
    def __init__(self, inner):
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        cls = module.OpenStackProvider
        real = cls.create_instance

        def create_instance(provider, spec):
            if provider.site_name == os.environ.get("INDIGO_TEST_BUG_SITE"):
                return {}["flavor_id"]  # the injected bug
            return real(provider, spec)

        cls.create_instance = create_instance


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None:
            for finder in sys.meta_path:
                if finder is not self and hasattr(finder, "find_spec"):
                    spec = finder.find_spec(name, path, target)
                    if spec is not None:
                        break
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


if os.environ.get("INDIGO_TEST_BUG_SITE"):
    sys.meta_path.insert(0, _Finder())
