# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""Onedata spaces (TOSCA ``tosca.nodes.indigo.OnedataSpace`` / ``OnedataServiceSpace``) via Onezone REST v3.

The TOSCA node names a space the user's token can see; what a deployment needs back is the space id and a
Oneprovider that supports it (``selected_provider``): the first of ``oneproviders`` that does, else the
first supporting provider, as the INDIGO orchestrator chose. Creating (and deleting) a space is opt-in.
The token travels only in the ``X-Auth-Token`` header.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.indigo.paas.plugins.module_utils.apps.rest import RestClient
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import FatalError

API = "/api/v3/onezone"


def onezone_client(params):
    if not params.get("token"):
        raise FatalError("onedata_space: a Onedata access token is required")
    onezone = params.get("onezone") or ""
    if onezone and "://" not in onezone:
        onezone = "https://" + onezone  # INDIGO templates give the bare host name
    return RestClient("onezone", onezone, headers={"X-Auth-Token": params["token"]},
                      validate_certs=params["validate_certs"], ca_path=params.get("ca_path"),
                      timeout=params["timeout"], retries=params["api_retries"])


class Onezone:
    def __init__(self, client):
        self.client = client

    def find_space(self, name):
        _s, payload, _l = self.client.request("GET", API + "/user/spaces")
        matches = []
        for space_id in (payload or {}).get("spaces") or []:
            _s, space, _l = self.client.request("GET", "%s/user/spaces/%s" % (API, space_id), allow_404=True)
            if space and space.get("name") == name:
                matches.append(space)
        if len(matches) > 1:
            raise FatalError("onedata_space: %d spaces named %r are visible to this token; name one by id"
                             % (len(matches), name))
        return matches[0] if matches else None

    def providers(self, space):
        found = []
        for provider_id, support in sorted((space.get("providers") or {}).items()):
            _s, info, _l = self.client.request("GET", "%s/user/effective_providers/%s" % (API, provider_id),
                                               allow_404=True)
            info = info or {}
            found.append({"id": provider_id, "name": info.get("name"), "domain": info.get("domain"),
                          "support_size": support})
        return found

    def create_space(self, name):
        _s, payload, location = self.client.request("POST", API + "/user/spaces", {"name": name})
        space_id = (payload or {}).get("spaceId") or (location or "").rstrip("/").rsplit("/", 1)[-1]
        if not space_id:
            raise FatalError("onedata_space: Onezone created %r but returned no id" % name)
        return {"spaceId": space_id, "name": name, "providers": {}}

    def delete_space(self, space_id):
        self.client.request("DELETE", "%s/spaces/%s" % (API, space_id), allow_404=True)


def select_provider(providers, preferred):
    """The provider a job should mount from: the first preferred one supporting the space."""
    by_key = {}
    for provider in providers:
        for key in (provider["id"], provider.get("name"), provider.get("domain")):
            if key:
                by_key.setdefault(key, provider)
    for wanted in preferred or []:
        if wanted in by_key:
            return by_key[wanted]
    if preferred and providers:
        raise FatalError("onedata_space: none of the preferred oneproviders %s supports the space (it is "
                         "supported by %s)" % (list(preferred), [p.get("domain") or p["id"] for p in providers]))
    return providers[0] if providers else None


def ensure_space(onezone, params, check_mode):
    name = params["space"]
    space = onezone.find_space(name)
    result = {"changed": False, "space": name, "onezone": params.get("onezone")}
    if params["state"] == "absent":
        result["space_id"] = None
        if space is not None:
            result.update(changed=True, diff={"before": {"space": name, "space_id": space["spaceId"]}, "after": {}})
            if not check_mode:
                onezone.delete_space(space["spaceId"])
        return result
    if space is None:
        if not params.get("create"):
            raise FatalError("onedata_space: no space named %r is visible to this token at %s (set create=true "
                             "to create it)" % (name, params.get("onezone")))
        result.update(changed=True, diff={"before": {}, "after": {"space": name}})
        if check_mode:
            result.update(space_id=None, providers=[], selected_provider=None)
            return result
        space = onezone.create_space(name)
    providers = onezone.providers(space)
    selected = select_provider(providers, params.get("oneproviders"))
    result.update(space_id=space["spaceId"], providers=providers,
                  selected_provider=(selected or {}).get("domain") or (selected or {}).get("id"))
    return result
