# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""The data catalogues asked by the location plugins (see ``base.py`` for the interface).

- Onedata: Onezone REST v3 (``/user/spaces``, ``/user/spaces/{id}``, ``/user/effective_providers/{id}``)
  through the collection's ``apps.onedata.Onezone`` (the same client as the ``onedata_space`` module);
  replicas are the supporting Oneproviders (by id, else domain) with their support size.
- Dynafed: ``GET <file>?metalink`` answers a metalink (RFC 5854); replicas are the hosts of its URLs.
- Rucio: ``ReplicaClient.list_replicas`` of the official ``rucio-clients``; replicas are RSEs with the bytes
  of the DID's files they hold.
- url: a plain file URL is held by the site whose ``storage_hosts`` names its host (no request made).

Each ``replicas(ref)`` returns ``(replicas, total_bytes, files)`` or raises DataLocationError.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import logging
from xml.etree import ElementTree

from ansible.module_utils.six.moves.urllib.parse import urlsplit
from ansible_collections.indigo.paas.plugins.module_utils.data.base import DataLocationError, site_index
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import ProviderError

METALINK_NS = "urn:ietf:params:xml:ns:metalink"
METALINK_TYPE = "application/metalink4+xml"


class OnedataLocator:
    kind = "onedata"

    def __init__(self, service, credentials, timeout, sites):
        self.service, self.credentials, self.timeout, self.sites = service, credentials, timeout, sites

    def replicas(self, ref):
        # pylint: disable=import-outside-toplevel
        from ansible_collections.indigo.paas.plugins.module_utils.apps.onedata import Onezone, onezone_client

        endpoint = ref.service or self.service.get("endpoint")
        if not endpoint:
            raise DataLocationError("no Onezone named by the template or the catalogue's data_services.onezone")
        token = self.credentials.get("token")
        if not token:
            raise DataLocationError("no Onedata token (data_services.onezone.credentials)")
        try:
            client = onezone_client({"onezone": endpoint, "token": token, "timeout": self.timeout,
                                     "validate_certs": self.service.get("verify_tls", True),
                                     "ca_path": self.service.get("ca_path"), "api_retries": 2})
            zone = Onezone(client)
            space = zone.find_space(ref.ref)
            if space is None:
                raise DataLocationError("Onezone %s: no space named %r is visible to the token" % (endpoint, ref.ref))
            providers = zone.providers(space)
        except ProviderError as exc:
            raise DataLocationError(str(exc))
        index = site_index(self.sites, "onedata")
        replicas = {}
        for provider in providers:
            holder = provider["id"] if provider["id"].lower() in index else (provider.get("domain") or provider["id"])
            replicas[holder] = provider.get("support_size")
        return replicas, None, None


def parse_metalink(text):
    """(size, {host: size}, [urls]) of the first file of a RFC 5854 metalink document."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise DataLocationError("not a metalink document: %s" % exc)
    if root.tag != "{%s}metalink" % METALINK_NS:
        raise DataLocationError("not a metalink (RFC 5854) document: root element %s" % root.tag)
    entry = root.find("{%s}file" % METALINK_NS)
    if entry is None:
        raise DataLocationError("the metalink lists no file")
    size_text = entry.findtext("{%s}size" % METALINK_NS)
    size = int(size_text) if size_text and size_text.strip().isdigit() else None
    urls = [u.text.strip() for u in entry.findall("{%s}url" % METALINK_NS) if u.text and u.text.strip()]
    hosts = {}
    for url in urls:
        host = urlsplit(url).hostname
        if host:
            hosts[host] = size
    return size, hosts, urls


class DynafedLocator:
    kind = "dynafed"

    def __init__(self, service, credentials, timeout, sites):
        import requests  # pylint: disable=import-outside-toplevel

        self.service, self.credentials, self.timeout, self.sites = service, credentials, timeout, sites
        self.session = requests.Session()  # keep-alive: one federation answers every file's metalink
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def replicas(self, ref):
        import requests  # pylint: disable=import-outside-toplevel

        auth = None
        if self.credentials.get("username"):
            auth = (self.credentials["username"], self.credentials.get("password") or "")
        headers = {"Accept": METALINK_TYPE}
        if self.credentials.get("token"):
            headers["Authorization"] = "Bearer %s" % self.credentials["token"]
        try:
            url = ref.ref + ("&" if "?" in ref.ref else "?") + "metalink"  # as Dynafed documents it
            verify = self.service.get("ca_path") or self.service.get("verify_tls", True)
            answer = self.session.get(url, headers=headers, auth=auth, timeout=self.timeout, verify=verify)
        except requests.RequestException as exc:
            raise DataLocationError("Dynafed %s: %s" % (urlsplit(ref.ref).netloc, exc.__class__.__name__))
        if answer.status_code != 200:
            raise DataLocationError("Dynafed GET %s?metalink: HTTP %d" % (ref.ref, answer.status_code))
        size, hosts, _urls = parse_metalink(answer.content)
        return hosts, size, 1


class RucioLocator:
    kind = "rucio"

    def __init__(self, service, credentials, timeout, sites):
        self.service, self.credentials, self.timeout, self.sites = service, credentials, timeout, sites
        self._client = None

    def client(self):
        if self._client is None:
            self._client = rucio_client(self.service, self.credentials, self.timeout)
        return self._client

    def replicas(self, ref):
        scope, _sep, name = ref.ref.partition(":")
        try:
            files = list(self.client().list_replicas([{"scope": scope, "name": name}], all_states=False))
        except DataLocationError:
            raise
        except Exception as exc:  # pylint: disable=broad-except  # rucio raises RucioException and requests errors
            raise DataLocationError("Rucio %s: %s" % (self.service.get("endpoint"), rucio_message(exc)))
        if not files:
            raise DataLocationError("Rucio knows no replica of %s" % ref.ref)
        per_rse, total = {}, 0
        for entry in files:
            size = entry.get("bytes")
            total += size or 0
            for rse in entry.get("rses") or {}:
                per_rse[rse] = (per_rse.get(rse) or 0) + (size or 0)
        return per_rse, total, len(files)


def rucio_message(exc):
    text = str(exc).strip().splitlines()
    return "%s%s" % (exc.__class__.__name__, (": " + text[-1][:300]) if text else "")


QUIET_LOG = logging.getLogger("indigo.paas.data.rucio")  # the client's retry warnings are not the user's news
QUIET_LOG.setLevel(logging.ERROR)


def rucio_client(service, credentials, timeout, client_class=None):
    """A rucio-clients ``Client`` from the catalogue's ``data_services.rucio`` and resolved credentials."""
    try:
        # pylint: disable=import-outside-toplevel
        if client_class is None:
            from rucio.client import Client as client_class
    except ImportError:
        raise DataLocationError("the rucio-clients package is not installed")
    endpoint = service.get("endpoint")
    if not endpoint:
        raise DataLocationError("no Rucio endpoint in the catalogue's data_services.rucio")
    creds = dict(credentials)
    auth_type = service.get("auth_type") or ("userpass" if "password" in creds else "oidc" if "token" in creds else None)
    try:
        return client_class(rucio_host=endpoint, auth_host=service.get("auth_endpoint") or endpoint,
                            account=service.get("account") or creds.get("account"), auth_type=auth_type,
                            creds=creds, ca_cert=service.get("ca_path") or service.get("verify_tls", True),
                            timeout=timeout, vo=service.get("vo"), logger=QUIET_LOG)
    except Exception as exc:  # pylint: disable=broad-except
        raise DataLocationError("Rucio %s: %s" % (endpoint, rucio_message(exc)))


class UrlLocator:
    kind = "url"

    def __init__(self, service, credentials, timeout, sites):
        self.sites = sites

    def replicas(self, ref):
        host = urlsplit(ref.ref).hostname
        if not host:
            raise DataLocationError("not a URL")
        return {host: None}, None, 1


LOCATORS = {cls.kind: cls for cls in (OnedataLocator, DynafedLocator, RucioLocator, UrlLocator)}
# the catalogue's data_services section each kind reads
SERVICE_KEYS = {"onedata": "onezone", "dynafed": "dynafed", "rucio": "rucio", "url": "url"}
