# -*- coding: utf-8 -*-
# Apache License 2.0
"""Resolve a site's credential *reference* into secret values at the last moment.

The catalogue never holds a secret. A site says where its secret lives::

    credentials:
      env:                      # field -> environment variable
        access_key: AWS_ACCESS_KEY_ID
        secret_key: AWS_SECRET_ACCESS_KEY
      file: ~/.indigo/credentials/site1.yml   # YAML/JSON mapping of fields (mode 0600 advised)
      clouds_yaml: mycloud      # openstack: a cloud name in clouds.yaml

Resolved values are passed to providers only; modules mark every such option ``no_log``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os


class CredentialError(Exception):
    pass


def resolve_credentials(site, environ=None):
    """Return the dict of secret fields for ``site`` (possibly empty)."""
    environ = os.environ if environ is None else environ
    ref = site.get("credentials") or {}
    if not isinstance(ref, dict):
        raise CredentialError("site %s: 'credentials' must be a mapping (a reference, never the secret)" % site.get("name"))
    resolved = {}
    path = ref.get("file")
    if path:
        path = os.path.expanduser(path)
        try:
            with open(path) as handle:
                text = handle.read()
        except OSError as exc:
            raise CredentialError("site %s: credential file %s: %s" % (site.get("name"), path, exc.strerror))
        try:
            data = json.loads(text)
        except ValueError:
            import yaml  # ansible-core always ships PyYAML

            data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise CredentialError("site %s: credential file %s must hold a mapping" % (site.get("name"), path))
        resolved.update(data)
    for field, var in sorted((ref.get("env") or {}).items()):
        if var in environ:
            resolved[field] = environ[var]
        elif ref.get("required", True) and field not in resolved:
            raise CredentialError(
                "site %s: environment variable %s (for %s) is not set" % (site.get("name"), var, field)
            )
    if ref.get("clouds_yaml"):
        resolved["cloud"] = ref["clouds_yaml"]
    return resolved
