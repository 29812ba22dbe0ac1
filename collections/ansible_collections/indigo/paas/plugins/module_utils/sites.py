# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""The site catalogue: load ``inventories/sites/*.yml`` (or one file), validate it, find a site.

Every file holds ``sites:``, a list of site mappings (see docs/CONTRACTS.md). Validation is strict on
what it knows (kind, types of the common fields, flavors and images) and names the file and the site
in every error, because a typo in a catalogue otherwise surfaces much later as an odd cloud error.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import glob
import os
import re

from ansible_collections.indigo.paas.plugins.module_utils.naming import UserError

KINDS = ("openstack", "opennebula", "aws", "ec2", "local")  # each has a provider (providers/__init__.py)
# kinds whose API is reached through an endpoint the catalogue must give
ENDPOINT_REQUIRED = ("openstack", "opennebula")
KNOWN_FIELDS = frozenset((
    "name", "kind", "endpoint", "region", "credentials", "verify_tls", "images", "flavors", "network",
    "capabilities", "sla", "data", "local", "ssh_user", "description", "enabled", "availability_zone",
    "openstack", "opennebula", "aws", "price_per_core_hour",
    # provider tuning (seconds / attempts), read by the providers themselves
    "poll_interval", "api_retries", "api_retry_delay", "build_timeout", "delete_timeout",
))
SITE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
DEFAULTS = {
    "endpoint": None,
    "region": None,
    "credentials": {},
    "verify_tls": True,
    "images": [],
    "flavors": [],
    "network": {"private": None, "public": None},
    "capabilities": {},
    "sla": [],
    "data": {},
}


class SiteCatalogueError(UserError):
    """The catalogue (or a site given inline) is invalid or the site is unknown."""


def default_catalogue_path(playbook_dir=None, environ=None):
    """``$INDIGO_SITES``, else ``inventories/sites`` next to the playbook (or the current dir)."""
    environ = os.environ if environ is None else environ
    if environ.get("INDIGO_SITES"):
        return environ["INDIGO_SITES"]
    return os.path.join(playbook_dir or os.getcwd(), "inventories", "sites")


def _fail(origin, site_name, message):
    where = origin if site_name is None else "%s: site %r" % (origin, site_name)
    raise SiteCatalogueError("%s: %s" % (where, message))


def _check_type(origin, name, field, value, types, type_name):
    if value is not None and not isinstance(value, types):
        _fail(origin, name, "%r must be %s, got %s" % (field, type_name, type(value).__name__))


def _check_int_fields(origin, name, what, entry, fields):
    for field in fields:
        value = entry.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            _fail(origin, name, "%s %r: %r must be a non-negative integer, got %r" % (what, entry.get("name"), field, value))


def validate_site(site, origin="site"):
    """Return a copy of ``site`` with defaults filled in; raise SiteCatalogueError when invalid."""
    if not isinstance(site, dict):
        _fail(origin, None, "every site must be a mapping, got %s" % type(site).__name__)
    name = site.get("name")
    if not isinstance(name, str) or not SITE_NAME_RE.match(name):
        _fail(origin, None, "site name %r is missing or invalid (letters, digits, '_', '.', '-')" % (name,))
    kind = site.get("kind")
    if kind not in KINDS:
        _fail(origin, name, "kind %r is not one of %s" % (kind, ", ".join(KINDS)))
    unknown = sorted(set(site) - KNOWN_FIELDS)
    if unknown:
        _fail(origin, name, "unknown field(s) %s (known: %s)" % (", ".join(unknown), ", ".join(sorted(KNOWN_FIELDS))))
    result = copy.deepcopy(DEFAULTS)
    result.update(copy.deepcopy(site))
    for field in ("endpoint", "region", "ssh_user", "availability_zone"):
        _check_type(origin, name, field, result.get(field), str, "a string")
    for field in ("credentials", "network", "capabilities", "data", "local"):
        _check_type(origin, name, field, result.get(field), dict, "a mapping")
    for field in ("images", "flavors", "sla"):
        _check_type(origin, name, field, result.get(field), list, "a list")
    if not isinstance(result["verify_tls"], bool):
        _fail(origin, name, "'verify_tls' must be true or false")
    if kind in ENDPOINT_REQUIRED and not result.get("endpoint"):
        _fail(origin, name, "kind %s needs an 'endpoint'" % kind)
    for image in result["images"] or []:
        if not isinstance(image, dict) or not image.get("name"):
            _fail(origin, name, "every image needs a 'name', got %r" % (image,))
        if image.get("version") is not None:
            image["version"] = str(image["version"])
    for flavor in result["flavors"] or []:
        if not isinstance(flavor, dict) or not flavor.get("name"):
            _fail(origin, name, "every flavor needs a 'name', got %r" % (flavor,))
        _check_int_fields(origin, name, "flavor", flavor, ("num_cpus", "mem_mb", "disk_gb", "gpus"))
    network = result.get("network") or {}
    result["network"] = {"private": network.get("private"), "public": network.get("public")}
    return result


def _catalogue_files(path):
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "*.yml")) + glob.glob(os.path.join(path, "*.yaml")))
        if not files:
            raise SiteCatalogueError("site catalogue %s holds no *.yml file" % path)
        return files
    if os.path.isfile(path):
        return [path]
    raise SiteCatalogueError("site catalogue %s does not exist (set INDIGO_SITES or the 'catalogue' option)" % path)


def load_catalogue(path):
    """Every site of the catalogue at ``path`` (a dir of ``*.yml`` or one file), validated, in file order."""
    import yaml  # ansible-core always ships PyYAML

    sites = []
    seen = {}
    for filename in _catalogue_files(os.path.expanduser(path)):
        try:
            with open(filename) as handle:
                data = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError) as exc:
            raise SiteCatalogueError("%s: cannot read the site catalogue: %s" % (filename, exc))
        if not isinstance(data, dict) or not isinstance(data.get("sites"), list):
            raise SiteCatalogueError("%s: a catalogue file must hold a mapping with a 'sites:' list" % filename)
        for entry in data["sites"]:
            site = validate_site(entry, filename)
            if site["name"] in seen:
                raise SiteCatalogueError("%s: site %r is already defined in %s" % (filename, site["name"], seen[site["name"]]))
            seen[site["name"]] = filename
            sites.append(site)
    return sites


def find_site(sites, name):
    for site in sites:
        if site["name"] == name:
            return site
    raise SiteCatalogueError("unknown site %r (catalogue has: %s)" % (name, ", ".join(s["name"] for s in sites) or "nothing"))


def resolve_site(site, catalogue=None):
    """``site`` is a name (looked up in ``catalogue``) or an inline mapping (validated as is)."""
    if isinstance(site, dict):
        return validate_site(site, "inline site")
    if not isinstance(site, str) or not site:
        raise SiteCatalogueError("'site' must be a site name or a mapping, got %r" % (site,))
    return find_site(load_catalogue(catalogue or default_catalogue_path()), site)
