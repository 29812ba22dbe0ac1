# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""Locate every data reference of a deployment: cached, concurrent, bounded in time, never raising.

The data catalogues are configured once in the site catalogue, beside ``sites:``::

    data_services:
      timeout: 10          # seconds for every lookup together (default 20)
      cache_ttl: 300       # seconds an answer is reused (default 300)
      onezone: {endpoint: https://onezone.example.org, service_space: indigo-service,
                credentials: {env: {token: ONEDATA_TOKEN}}}
      dynafed: {credentials: {env: {token: DYNAFED_TOKEN}, required: false}}
      rucio: {endpoint: https://rucio.example.org, account: jdoe, auth_type: userpass,
              credentials: {env: {username: RUCIO_USERNAME, password: RUCIO_PASSWORD}}}
      endpoints:           # storage the jobs' outputs go to (DataStaging output_endpoint, the same URL)
        - url: https://s3.example.org
          credentials: {env: {access_key: S3_ACCESS_KEY, secret_key: S3_SECRET_KEY}}

Credentials are references resolved by ``credentials.resolve_credentials`` (never values in a file).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import concurrent.futures
import glob
import os
import time

from ansible_collections.indigo.paas.plugins.module_utils.data.base import (
    DataLocationError,
    Location,
    LocationCache,
    map_to_sites,
)
from ansible_collections.indigo.paas.plugins.module_utils.data.locators import LOCATORS, SERVICE_KEYS

DEFAULT_TIMEOUT = 20.0
DEFAULT_TTL = 300.0
WORKERS = 16


def load_data_services(path):
    """The ``data_services`` mapping of the site catalogue at ``path`` (a dir of *.yml or a file); {}."""
    import yaml  # ansible-core always ships PyYAML

    path = os.path.expanduser(path)
    files = sorted(glob.glob(os.path.join(path, "*.yml")) + glob.glob(os.path.join(path, "*.yaml"))) \
        if os.path.isdir(path) else [path]
    services = {}
    for filename in files:
        try:
            with open(filename) as handle:
                data = yaml.safe_load(handle) or {}
        except (OSError, yaml.YAMLError):
            continue  # the site catalogue loader reports unreadable files
        section = data.get("data_services") if isinstance(data, dict) else None
        if isinstance(section, dict):
            services.update(section)
    return services


def endpoint_key(url):
    """How a data endpoint's URL is matched (the catalogue's ``url`` and a DataStaging ``output_endpoint``)."""
    return str(url or "").strip().rstrip("/")


def endpoint_credentials(path, environ=None, on_error=None):
    """The catalogue's ``data_services.endpoints`` with their credentials resolved: {url: {field: value}}.
    An endpoint whose references do not resolve is left out, ``on_error(url, message)`` told (the upload to it
    then fails with the endpoint's own answer)."""
    # pylint: disable=import-outside-toplevel
    from ansible_collections.indigo.paas.plugins.module_utils.credentials import CredentialError, resolve_credentials

    found = {}
    for entry in load_data_services(path).get("endpoints") or []:
        if not isinstance(entry, dict) or not entry.get("url") or not entry.get("credentials"):
            continue
        url = endpoint_key(entry["url"])
        try:
            resolved = resolve_credentials({"name": "data endpoint %s" % url, "credentials": entry["credentials"]},
                                           os.environ if environ is None else environ)
        except CredentialError as exc:
            if on_error:
                on_error(url, str(exc))
            continue
        found[url] = {str(k): v for k, v in resolved.items() if v is not None}
    return found


def credentials_of(kind, config, environ):
    """The resolved credentials of one data service's ``credentials`` references."""
    # pylint: disable=import-outside-toplevel
    from ansible_collections.indigo.paas.plugins.module_utils.credentials import CredentialError, resolve_credentials

    try:
        return resolve_credentials({"name": "data_services.%s" % SERVICE_KEYS[kind],
                                    "credentials": config.get("credentials") or {}}, environ)
    except CredentialError as exc:
        raise DataLocationError(str(exc))


def _cache_key(ref, config):
    return "%s|%s|%s" % (ref.kind, ref.service or config.get("endpoint") or "", ref.ref)


def locate(refs, sites, services=None, cache=None, environ=None, clock=time.monotonic):
    """One ``Location`` per reference (same order). Answers come from ``cache`` while fresh; the rest are
    asked concurrently until ``data_services.timeout`` runs out (later ones: "no answer within N s")."""
    services = services or {}
    environ = os.environ if environ is None else environ
    timeout = float(services.get("timeout") or DEFAULT_TIMEOUT)
    cache = cache if cache is not None else LocationCache(ttl=float(services.get("cache_ttl") or DEFAULT_TTL))
    results = [None] * len(refs)
    locators, pending = {}, []
    for position, ref in enumerate(refs):
        config = services.get(SERVICE_KEYS.get(ref.kind, ""), {}) or {}
        cached = cache.get(_cache_key(ref, config))
        if cached is not None:
            results[position] = _location(ref, cached, sites)
            continue
        if ref.kind not in locators:
            try:
                locators[ref.kind] = LOCATORS[ref.kind](config, credentials_of(ref.kind, config, environ), timeout, sites)
            except (DataLocationError, KeyError) as exc:
                locators[ref.kind] = exc
        pending.append((position, ref, config))

    deadline = clock() + timeout

    def ask(item):
        _position, ref, _config = item
        locator = locators[ref.kind]
        if isinstance(locator, Exception):
            raise DataLocationError(str(locator) if not isinstance(locator, KeyError) else "no locator for %s" % ref.kind)
        if clock() > deadline:
            raise DataLocationError("no answer within %g s" % timeout)
        replicas, total, files = locator.replicas(ref)
        return {"replicas": replicas, "total_bytes": total, "files": files}

    if pending:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(WORKERS, len(pending)))
        futures = {pool.submit(ask, item): item for item in pending}
        done, not_done = concurrent.futures.wait(futures, timeout=max(0.0, deadline - clock()))
        for future in done:
            position, ref, config = futures[future]
            try:
                answer = future.result()
            except DataLocationError as exc:
                results[position] = _failed(ref, str(exc))
                continue
            except Exception as exc:  # pylint: disable=broad-except  # a catalogue's odd answer is no crash
                results[position] = _failed(ref, "%s: %s" % (exc.__class__.__name__, exc))
                continue
            cache.put(_cache_key(ref, config), answer)
            results[position] = _location(ref, answer, sites)
        for future in not_done:
            future.cancel()
            results[futures[future][0]] = _failed(futures[future][1], "no answer within %g s" % timeout)
        pool.shutdown(wait=False, cancel_futures=True)
    cache.save()
    return results


def _failed(ref, message):
    return Location(ref.kind, ref.ref, list(ref.nodes), error=message)


def _location(ref, answer, sites):
    replicas = answer["replicas"]
    return Location(ref.kind, ref.ref, list(ref.nodes), sites=map_to_sites(replicas, sites, ref.kind),
                    total_bytes=answer.get("total_bytes"), files=answer.get("files"), replicas=dict(replicas))
