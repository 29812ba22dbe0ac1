"""The journal rows of one task result, shared by the ``indigo.paas.journal`` callback (inside
ansible-playbook) and the control side of a remote run, which journals the events an execution node streams
back (the framework's runtime/remote.py): both record the same rows from the same result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MESSAGE_MAX = 2000
STATUS_STATS = {"deploy": "deployed", "undeploy": "undeployed", "scale": "deployed"}


def result_message(res, redactor):
    """A failed result's message (a loop's: its first failed item's too), redacted and cut."""
    msg = res.get("msg") or res.get("stderr") or res.get("reason") or res.get("exception") or ""
    if isinstance(res.get("results"), list):  # loops: "One or more items failed" says little; the item says why
        item = next((r.get("msg") for r in res["results"] if isinstance(r, dict) and r.get("failed") and r.get("msg")), "")
        msg = "%s: %s" % (msg, item) if msg and item and item != msg else (item or msg)
    return redactor.text(str(msg)[:MESSAGE_MAX]) if msg else None


def is_no_log(res, task_no_log=False):
    return bool(task_no_log) or bool(res.get("_ansible_no_log")) or "censored" in res


def resource_rows(res, action, args, deployment, redactor):
    """``[(change, site, kind, resource_id, values)]`` that one task result reports: instances created by
    ``indigo.paas.instance`` (directly or through async_status), the networks, groups, keys, IPs and volumes
    created with them, and everything a teardown deleted."""
    rows = []
    for item in res.get("results") or []:  # a loop (e.g. async_status over every node's job)
        if isinstance(item, dict) and not item.get("_ansible_no_log") and "censored" not in item:
            rows.extend(resource_rows(item, action, args, deployment, redactor))
    listed = res.get("created")  # the ids a provider module created; another module's `created` may be a flag
    created = set(str(i) for i in listed if not isinstance(i, dict)) if isinstance(listed, (list, tuple)) else set()
    instances = [i for i in res.get("instances") or [] if isinstance(i, dict)]
    args = args or {}
    # the module's own result names its site; the task's argument when the result does not (async launch)
    task_site = next((s for s in (res.get("site"), args.get("site")) if isinstance(s, str)), None)
    # bare ids: instances when the result comes from indigo.paas.instance (directly or via async_status)
    of_instances = "instances" in res or "instance" in str(action or "")
    for inst in instances:
        if str(inst.get("id")) in created:
            detail = {k: inst.get(k) for k in ("node", "index", "status", "private_ips", "public_ips", "flavor", "image")}
            rows.append(("created", inst.get("site") or task_site, "instance", str(inst.get("id")),
                         {"deployment": inst.get("deployment") or deployment, "name": inst.get("name"),
                          "detail_json": redactor.data(detail)}))
            created.discard(str(inst.get("id")))
    for change, items in (("created", sorted(created)), ("created", res.get("created_resources") or []),
                          ("deleted", res.get("deleted") or []), ("deleted", res.get("deleted_resources") or [])):
        for item in items:
            if isinstance(item, dict):  # Resource.to_dict(): kind, id, name, site (and a detail: a rule's outcome)
                values = {"name": item.get("name")}
                if item.get("detail") is not None:
                    values["detail_json"] = redactor.data(item["detail"])
                rows.append((change, item.get("site") or task_site, item.get("kind") or "instance", str(item.get("id")),
                             values))
            else:
                rows.append((change, task_site, "instance" if change == "created" or of_instances else "resource",
                             str(item), {}))
    return rows


def finished_row(per_host):
    """rc and status of a run from its per-host stats, as the callback records them."""
    failed = any(s.get("failures") for s in per_host.values())
    unreachable = any(s.get("unreachable") for s in per_host.values())
    rc = 4 if unreachable else (2 if failed else 0)
    return rc, "failed" if rc else "successful"


def deployment_status(action, rc):
    """The deployment status a finished run of ``action`` leaves (None: the playbook changes nothing of it)."""
    status = STATUS_STATS.get(action)
    if status and rc:
        return "%s-failed" % action
    return status
