# -*- coding: utf-8 -*-
# Apache License 2.0
"""Provider registry: one module per site kind, imported lazily so that a missing SDK for one cloud
never breaks another."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib

PROVIDER_MODULES = {
    "openstack": ("openstack", "OpenStackProvider"),
    "opennebula": ("opennebula", "OpenNebulaProvider"),
    "aws": ("ec2", "EC2Provider"),
    "ec2": ("ec2", "EC2Provider"),
    "local": ("local", "LocalProvider"),
}


def provider_class(kind):
    try:
        module_name, class_name = PROVIDER_MODULES[kind]
    except KeyError:
        raise ValueError("unknown site kind %r (known: %s)" % (kind, ", ".join(sorted(PROVIDER_MODULES))))
    module = importlib.import_module(
        "ansible_collections.indigo.paas.plugins.module_utils.providers.%s" % module_name
    )
    return getattr(module, class_name)


def get_provider(site, credentials=None):
    """Instantiate the provider for one catalogue ``site`` dict with resolved ``credentials``."""
    return provider_class(site.get("kind"))(site, credentials)
