#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rucio_rule
short_description: Get or create a Rucio replication rule, wait until it is OK, or delete it
version_added: "0.1.0"
description:
  - With O(state=present), finds the rule of the account for O(did) to exactly O(rse_expression) or creates
    it, then (with O(wait)) polls it until Rucio reports it C(OK) or O(timeout) seconds pass. On timeout the
    task fails with the rule's state, its lock counts and the per-file errors (each file not OK, its
    transfer request's state and the transfer tool's message).
  - With O(state=absent), deletes the rule O(rule_id) (or the one found for O(did) and O(rse_expression));
    a rule already gone is not an error.
  - Through the official C(rucio-clients) on the controller. Rucio's generic permission policy lets only
    root or an account with the C(admin) attribute delete rules.
  - With O(site), the RSE expression is that site's C(data.rucio_rses) in the site catalogue (joined with
    C(|)); without O(endpoint), the server, account and credentials are the catalogue's
    C(data_services.rucio) (credentials are references, resolved from the environment on the controller),
    so a compiled project carries no Rucio secret.
author: INDIGO PaaS Ansible maintainers (@indigo-dc)
requirements: [rucio-clients]
attributes:
  check_mode:
    support: full
    description: Reports whether a rule would be created or deleted without changing Rucio.
  diff_mode:
    support: none
    description: Not applicable.
options:
  state:
    description: Whether the rule should exist.
    type: str
    choices: [present, absent]
    default: present
  endpoint:
    description: The Rucio server URL; default the catalogue's C(data_services.rucio.endpoint).
    type: str
  site:
    description: The site whose C(data.rucio_rses) make the RSE expression, when O(rse_expression) is not given.
    type: str
  catalogue:
    description: The site catalogue (a file or a directory of C(*.yml)); default C($INDIGO_SITES), then the
      collection's.
    type: path
  auth_endpoint:
    description: The Rucio authentication server URL, when not O(endpoint).
    type: str
  account:
    description: The Rucio account owning the rule; default the catalogue's C(data_services.rucio.account).
    type: str
  auth_type:
    description: How to authenticate.
    type: str
    choices: [userpass, oidc]
    default: userpass
  username:
    description: User name (O(auth_type=userpass)).
    type: str
  password:
    description: Password (O(auth_type=userpass)). Never logged.
    type: str
  token:
    description: OIDC access token (O(auth_type=oidc)). Never logged.
    type: str
  vo:
    description: The Rucio VO on a multi-VO server.
    type: str
  ca_path:
    description: PEM file of CA certificates to verify the server with.
    type: path
  did:
    description: The DID the rule replicates, C(scope:name).
    type: str
  rse_expression:
    description: Where the rule places the replicas (the chosen site's RSE).
    type: str
  copies:
    description: Number of replicas.
    type: int
    default: 1
  lifetime:
    description: Seconds the rule lives; none for no expiry.
    type: int
  comment:
    description:
      - The rule's comment (the deployment's id, for the journal and for operators).
      - With O(state=absent) and no O(rule_id), only a rule carrying this comment is deleted (a rule the
        account made for something else stays).
    type: str
  rule_id:
    description: The rule to delete (O(state=absent)); else the one found for O(did) and O(rse_expression).
    type: str
  wait:
    description: Wait until the rule is OK (O(state=present)).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the rule.
    type: int
    default: 600
  poll_interval:
    description: Seconds between two reads of the rule.
    type: float
    default: 5
"""
EXAMPLES = r"""
- name: Replicate the job's input dataset to the chosen site before the job node configures
  indigo.paas.rucio_rule:
    endpoint: https://rucio.example.org
    account: indigo
    username: "{{ indigo_data_rucio_username }}"
    password: "{{ indigo_data_rucio_password }}"
    did: user.jdoe:inputs
    rse_expression: SITE_B_DISK
    comment: "indigo deployment {{ indigo_deployment_id }}"
    timeout: 1800
  register: rule

- name: The same for the site the deployment runs on, server and credentials from the site catalogue
  indigo.paas.rucio_rule:
    did: user.jdoe:inputs
    site: "{{ indigo_site }}"
    catalogue: "{{ indigo_catalogue }}"
    comment: "indigo deployment {{ indigo_deployment_id }}"
"""
RETURN = r"""
rule:
  description: C(id), C(did), C(rse_expression), C(state), C(ok), C(replicating), C(stuck), C(total), C(error),
    C(files) (per file not OK, C(did), C(rse), C(lock), C(request), C(error)).
  returned: state=present, or when the rule was found
  type: dict
created:
  description: Whether this task created the rule.
  returned: state=present
  type: bool
created_resources:
  description: The rule, when this task created it (C(kind=rucio_rule), C(id), C(name), C(site), C(detail)), for
    the journal.
  returned: state=present and created
  type: list
  elements: dict
deleted_resources:
  description: The rule deleted, for the journal.
  returned: state=absent and changed
  type: list
  elements: dict
progress:
  description: The rule's lock counts each time they changed while waiting (C(state), C(ok), C(total)).
  returned: state=present and wait
  type: list
  elements: dict
"""
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.indigo.paas.plugins.module_utils.data import rules
import os

from ansible_collections.indigo.paas.plugins.module_utils.data.base import DataLocationError
from ansible_collections.indigo.paas.plugins.module_utils.data.locate import credentials_of, load_data_services
from ansible_collections.indigo.paas.plugins.module_utils.data.locators import rucio_client
from ansible_collections.indigo.paas.plugins.module_utils.sites import SiteCatalogueError, default_catalogue_path, resolve_site


def client_of(params):
    creds = {k: params[k] for k in ("username", "password") if params.get(k)}
    if params.get("token"):
        creds["token"] = params["token"]
    service = {"endpoint": params["endpoint"], "auth_endpoint": params.get("auth_endpoint"),
               "account": params["account"], "auth_type": params["auth_type"], "vo": params.get("vo"),
               "ca_path": params.get("ca_path")}
    return rucio_client(service, creds, 60)


def from_catalogue(params):
    """Fill ``rse_expression`` from the site's ``data.rucio_rses`` and, without ``endpoint``, the server,
    account and credentials from the catalogue's ``data_services.rucio``. Returns the site name or None."""
    path = params.get("catalogue") or default_catalogue_path()
    if params.get("site") and not params.get("rse_expression"):
        site = resolve_site(params["site"], path)
        rses = [str(r) for r in (site.get("data") or {}).get("rucio_rses") or []]
        if not rses:
            raise DataLocationError("site %s has no data.rucio_rses in the site catalogue" % site["name"])
        params["rse_expression"] = "|".join(rses)
    if not params.get("endpoint"):
        service = load_data_services(path).get("rucio") or {}
        if not service.get("endpoint"):
            raise DataLocationError("no endpoint given and no data_services.rucio.endpoint in the site catalogue")
        creds = credentials_of("rucio", service, os.environ)
        for key in ("endpoint", "auth_endpoint", "account", "vo", "ca_path"):
            params[key] = params.get(key) or service.get(key)
        params["auth_type"] = service.get("auth_type") or ("oidc" if "token" in creds else "userpass")
        for key in ("username", "password", "token"):
            params[key] = params.get(key) or creds.get(key)
    if not params.get("account"):
        raise DataLocationError("no Rucio account: give account or the catalogue's data_services.rucio.account")
    return params.get("site")


def resource(params, rule, site, detail=None):
    entry = {"kind": "rucio_rule", "id": rule["id"], "site": site,
             "name": "%s -> %s" % (params.get("did") or rule.get("did"), params.get("rse_expression") or "")}
    if detail is not None:
        entry["detail"] = detail
    return entry


def present(module, client):
    params = module.params
    existing = rules.find_rule(client, params["did"], params["rse_expression"])
    if module.check_mode:
        fresh = existing is None or rules.deleting(existing)
        return dict(changed=fresh, created=fresh,
                    rule=rules.progress(client, existing["id"], with_files=False) if existing else None)
    rule_id, created = rules.ensure_rule(client, params["did"], params["rse_expression"], copies=params["copies"],
                                         lifetime=params["lifetime"], comment=params["comment"])
    seen = []
    if not params["wait"]:
        return dict(changed=created, created=created, rule=rules.progress(client, rule_id, with_files=False))

    def note(current):
        seen.append({k: current[k] for k in ("state", "ok", "replicating", "stuck", "total")})

    done, last = rules.wait(client, rule_id, params["timeout"], params["poll_interval"], on_progress=note)
    result = dict(changed=created, created=created, rule=last, progress=seen)
    if created:  # the journal's resource row: the rule, its outcome and the files not OK
        result["created_resources"] = [resource(params, last, params.get("site"), {
            "state": last["state"], "ok": last["ok"], "total": last["total"], "files": last["files"][:20]})]
    if not done:
        per_file = "; ".join("%s at %s: %s" % (f["did"], f["rse"], f["error"] or f["lock"]) for f in last["files"][:5])
        msg = "Rucio %s not OK within %d s" % (rules.summary(last), params["timeout"])
        module.fail_json(msg=msg + ((": " + per_file) if per_file else ""), error_class="timeout", **result)
    return result


def absent(module, client):
    params = module.params
    rule_id = params.get("rule_id")
    if not rule_id:
        found = rules.find_rule(client, params["did"], params["rse_expression"])
        if not found or rules.deleting(found):
            return dict(changed=False)
        if params.get("comment") and found.get("comments") != params["comment"]:
            return dict(changed=False, msg="rule %s was not made by this deployment: left" % found["id"])
        rule_id = found["id"]
    if module.check_mode:
        return dict(changed=True, rule={"id": rule_id})
    changed = rules.delete(client, rule_id)
    result = dict(changed=changed, rule={"id": rule_id})
    if changed:
        result["deleted_resources"] = [resource(params, {"id": rule_id}, params.get("site"))]
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            endpoint=dict(type="str"),
            site=dict(type="str"),
            catalogue=dict(type="path"),
            auth_endpoint=dict(type="str"),
            account=dict(type="str"),
            auth_type=dict(type="str", choices=["userpass", "oidc"], default="userpass"),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            token=dict(type="str", no_log=True),
            vo=dict(type="str"),
            ca_path=dict(type="path"),
            did=dict(type="str"),
            rse_expression=dict(type="str"),
            copies=dict(type="int", default=1),
            lifetime=dict(type="int"),
            comment=dict(type="str"),
            rule_id=dict(type="str"),
            wait=dict(type="bool", default=True),
            timeout=dict(type="int", default=600),
            poll_interval=dict(type="float", default=5),
        ),
        required_if=[("state", "present", ["did"])],
        required_one_of=[("rule_id", "did"), ("rse_expression", "site", "rule_id")],
        supports_check_mode=True,
    )
    params = module.params
    if params["state"] == "absent" and not params.get("rule_id") and not params.get("did"):
        module.fail_json(msg="state=absent needs rule_id, or did and rse_expression (or site)")
    try:
        from_catalogue(params)
        for key in ("password", "token"):  # resolved from the environment after the options were parsed
            if params.get(key):
                module.no_log_values.add(params[key])  # masked in the result (invocation) and every message
        missing = [k for k in {"userpass": ("username", "password"), "oidc": ("token",)}[params["auth_type"]]
                   if not params.get(k)]
        if missing:
            module.fail_json(msg="auth_type %s needs %s" % (params["auth_type"], ", ".join(missing)), error_class="user")
        client = client_of(module.params)
        result = present(module, client) if module.params["state"] == "present" else absent(module, client)
    except SiteCatalogueError as exc:
        module.fail_json(msg=str(exc), error_class="user")
    except DataLocationError as exc:
        module.fail_json(msg=str(exc), error_class="fatal")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
