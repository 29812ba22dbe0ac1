"""Rucio replication rules of a deployment. A ``tosca.nodes.indigo.RucioDataset`` read by nodes (they require
it, or name it in a function: compiler/datarefs.py ``readers_of``) is replicated to the site of each reading
Compute before any node is configured; a dataset nobody names is read by every Compute.

deploy.yml, provisioning play: for every distinct (dataset, site of its reading Computes) the rule is got or
created and waited for by ``indigo.paas.rucio_rule`` as an async job beside the nodes' boot; after the nodes'
waits the rule's job is collected, so the level plays (the nodes' configure and start) run only once it is
OK; a rule not OK within the dataset's ``timeout`` fails the run with its per-file errors.
undeploy.yml and release_data.yml (the deploy runs it when an attempt on a site fails): the rules deleted,
only one carrying this deployment's comment, unless ``keep_rule``.
The site's RSEs, the Rucio server and its credentials are the site catalogue's, read by the module at run
time (its ``site``/``catalogue`` options): the project holds no secret and no RSE name.
"""

from __future__ import annotations

from typing import List

from tosca2ansible.compiler.datarefs import RUCIO_DATASET, readers_of
from tosca2ansible.compiler.render import Expr

MODULE = "indigo.paas.rucio_rule"
DEFAULT_TIMEOUT = 1800
GRACE = 300  # the async job outlives the rule's own timeout (the module fails first, with the files' errors)
COMMENT = "indigo deployment {{ indigo_deployment_id }}"
CATALOGUE = "{{ indigo_catalogue | default(omit) }}"


def _slug(text: str) -> str:
    from tosca2ansible.compiler.emit import slug  # pylint: disable=import-outside-toplevel  # emit imports us

    return slug(text)


def dataset_rules(emitter) -> List[dict]:
    """``[{node, did, site, readers, timeout, lifetime, keep, var}]``, one per dataset and site expression."""
    topology, plan = emitter.topology, emitter.plan
    named_by = readers_of(topology, plan)
    out = []
    for name in sorted(topology.nodes):
        node = topology.nodes[name]
        if not topology.registry.is_a("node_types", node.type, RUCIO_DATASET):
            continue
        readers = sorted((named_by.get(name, set()) - {name}) & set(plan.computes)) or list(plan.computes)
        by_site: dict = {}
        for compute in readers:
            by_site.setdefault(emitter.site_expr(compute), []).append(compute)
        timeout = node.properties.get("timeout", DEFAULT_TIMEOUT)
        for index, (site, computes) in enumerate(sorted(by_site.items())):
            out.append({"node": name, "did": emitter.render.value(node.properties.get("did"), name), "site": site,
                        "readers": computes, "timeout": emitter.render.value(timeout, name),
                        "timeout_expr": timeout if isinstance(timeout, int) else emitter.render.expr(timeout, name),
                        "lifetime": emitter.render.value(node.properties.get("lifetime"), name),
                        "keep": node.properties.get("keep_rule") is True,
                        "var": "indigo_rule_%s_%d" % (_slug(name), index)})
    return out


def _args(rule: dict, **extra) -> dict:
    args = {"did": rule["did"], "site": Expr(rule["site"]), "catalogue": Expr(CATALOGUE), "comment": Expr(COMMENT)}
    args.update(extra)
    return {k: v for k, v in args.items() if v is not None}


def _seconds(rule: dict, per: int = 1):
    """The rule's timeout with the grace, divided by ``per`` (an input's value: computed at run time)."""
    if isinstance(rule["timeout_expr"], int):
        return (rule["timeout_expr"] + GRACE) // per
    return Expr("{{ ((%s) | int + %d) // %d }}" % (rule["timeout_expr"], GRACE, per))


def launch_tasks(emitter) -> List[dict]:
    """The rules, got or created and waited for in the background while the nodes boot."""
    return [{"name": "Replicate %s to the site of %s (Rucio rule)" % (rule["node"], ", ".join(rule["readers"])),
             MODULE: _args(rule, timeout=rule["timeout"], lifetime=rule["lifetime"], poll_interval=5),
             "async": _seconds(rule), "poll": 0, "register": rule["var"] + "_job", "changed_when": False}
            for rule in dataset_rules(emitter)]


def wait_tasks(emitter) -> List[dict]:
    """Collect each rule's job: OK, or the run fails with the rule's per-file errors."""
    return [{"name": "Wait for the Rucio rule of %s at the site of %s" % (rule["node"], ", ".join(rule["readers"])),
             "ansible.builtin.async_status": {"jid": Expr("{{ %s_job.ansible_job_id }}" % rule["var"])},
             "register": rule["var"], "until": Expr("%s.finished" % rule["var"]),
             "retries": _seconds(rule, 5), "delay": 5}
            for rule in dataset_rules(emitter)]


def release_tasks(emitter) -> List[dict]:
    """The deployment's rules deleted (undeploy, and a failed attempt's clean-up), except ``keep_rule``."""
    return [{"name": "Delete the Rucio rule of %s at the site of %s" % (rule["node"], ", ".join(rule["readers"])),
             MODULE: _args(rule, state="absent")}
            for rule in dataset_rules(emitter) if not rule["keep"]]


def release_playbook(emitter):
    """release_data.yml, or None without rules to delete."""
    tasks = release_tasks(emitter)
    if not tasks:
        return None
    return [{"name": "Release the deployment's data rules", "hosts": "localhost", "connection": "local",
             "gather_facts": False, "tasks": tasks}]
