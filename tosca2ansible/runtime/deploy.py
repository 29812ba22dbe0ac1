"""What ``indigo deploy|status|outputs|undeploy|ssh`` do, without the command-line layer.

Sites are resolved through the collection's own catalogue and provider code (one implementation of
find-by-tags for the CLI and the playbooks).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from tosca2ansible.errors import DeploymentFailed, UserInputError
from tosca2ansible.runtime import placement
from tosca2ansible.runtime.attempts import DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OVERALL_TIMEOUT, run_attempts, stop_jobs_of_run
from tosca2ansible.runtime.runner import RunResult, run_playbook
from tosca2ansible.runtime.state import DeploymentState

from tosca2ansible.collection import ensure_importable
from tosca2ansible.runtime.site_access import (  # noqa: F401  (deploy's public names, used by the CLI and tests)
    _collection,
    check_site_host,
    default_catalogue,
    known_hosts_files,
    provider_for,
    resolve_site,
    site_errors,
    sites_of,
)


def new_deployment_id(template: Path) -> str:
    ensure_importable()
    from ansible_collections.indigo.paas.plugins.module_utils.naming import new_deployment_id as generate

    return generate(template.stem)


def typed_inputs(inputs: Dict[str, Any]) -> Dict[str, Any]:
    """Inputs as the compiler takes them: text (typed on a command line, or kept in the deployment's
    record) is CliText, parsed by the input's declared type; values an inputs file typed stay as they are."""
    from tosca2ansible.compiler.model import CliText

    return {k: CliText(v) if isinstance(v, str) and not isinstance(v, CliText) else v for k, v in inputs.items()}


def compile_project(template: Path, out_dir: Path, deployment: str, inputs: Dict[str, Any], types_paths=(),
                    strict: bool = False, node_sites: Optional[Dict[str, str]] = None, catalogue: Optional[str] = None):
    """Compile once with the compiler's public API (returns its Compiled). Placed nodes (policies,
    NODE=SITE) get site names: an SLA id of a policy names the catalogue's site holding it."""
    from tosca2ansible.compiler import compile_template

    sla_sites = None
    if catalogue:
        from tosca2ansible import brokering

        sla_sites = brokering.sla_site_ids(brokering.load_sites(catalogue))
    return compile_template(str(template), str(out_dir), inputs=typed_inputs(inputs), types_paths=list(types_paths),
                            deployment=deployment, strict=strict, sites=node_sites, sla_sites=sla_sites)


def keep_template(state: DeploymentState, template: Path, sources: Dict[str, str], types_roots=()) -> None:
    """Copy the template and the local files it needs (imports, playbooks, artifacts) into the
    deployment's state, so that a re-deploy or scale recompiles without the user's folders."""
    state.keep_source(template, sources, types_roots)


def candidate_sites(site_names: List[str], catalogue: str, template: Path, inputs: Dict[str, Any],
                    group: str, progress=None, types_paths=(), data_cache: Optional[str] = None,
                    node_sites: Optional[Dict[str, str]] = None) -> List[Dict[str, Any]]:
    """The sites to try, in order: the ones named, or with ``auto`` the broker's kept sites, best first.
    With node groups placed on sites of their own (policies, ``--site NODE=auto``), ``auto`` ranks each
    placed group alone and the others together; ``node_sites`` is then updated in place with the site
    chosen for each placed group (runtime/deploy.py compiles them in)."""
    node_sites = node_sites if node_sites is not None else {}
    auto_nodes = {node for node, site in node_sites.items() if site == "auto"}
    if site_names != ["auto"] and not auto_nodes:
        return [resolve_site(name, catalogue) for name in site_names]
    from tosca2ansible import brokering

    broker = brokering.broker
    say = progress or (lambda line: None)

    sites = brokering.load_sites(catalogue)
    topology, plan = brokering.analyse(str(template), typed_inputs(inputs), list(types_paths))
    request = brokering.resolve_placement(brokering.request_from_topology(topology, plan, group), sites)
    computes = {node: plan.compute_of.get(node, node) for node in node_sites}
    if request.node_sites or auto_nodes:
        health, usage = brokering.probe_all(sites)
        fixed = {computes[n]: s for n, s in node_sites.items() if s != "auto"}
        choice = brokering.rank_groups(request, sites, health, usage, {computes[n] for n in auto_nodes}, fixed)
        for line in choice.lines:
            say(line)
        if choice.problems:
            raise DeploymentFailed("the broker cannot place this deployment: " + "; ".join(choice.problems))
        for node in auto_nodes:
            del node_sites[node]
        node_sites.update(choice.node_sites)
        following = choice.following_sites if site_names == ["auto"] else site_names
        by_name = {site["name"]: site for site in sites}
        return [by_name[name] if name in by_name else resolve_site(name, catalogue) for name in following]
    brokering.locate_data(request, topology, plan, sites, catalogue, data_cache)
    health, usage = brokering.probe_all(sites)
    ranking = broker.rank(request, sites, health, usage)
    for r in ranking:
        say("rank %s %s %.2f: %s" % ("kept" if r.kept else "dropped", r.site, r.score, "; ".join(r.reasons)))
    kept = [r.site for r in ranking if r.kept]
    if not kept:
        raise DeploymentFailed("no site of the catalogue can take this deployment: " + "; ".join(
            "%s: %s" % (r.site, ", ".join(r.dropped)) for r in ranking))
    by_name = {site["name"]: site for site in sites}
    return [by_name[name] for name in kept]


DEFAULT_SITE = "local"


def placed_site(previous: Dict[str, Any]) -> Optional[str]:
    """The site a deployment lives on: the one of its last successful run (None before any)."""
    return previous.get("site") if previous.get("last_run") else None


def choose_sites(deployment: str, site_names: Optional[List[str]], previous: Dict[str, Any]) -> List[str]:
    """The site names to try. A deployment that lives on a site converges there and nowhere else;
    one that never ran successfully retries the sites it was asked for, unless others are given."""
    placed = placed_site(previous)
    if placed is None:
        return site_names or list(previous.get("requested_sites") or [DEFAULT_SITE])
    if not site_names or site_names in (["auto"], [placed]):
        return [placed]
    others = ", ".join(name for name in site_names if name != placed)
    raise UserInputError(
        "deployment %s lives on site %s; --site %s would deploy a second copy there. Moving a deployment is not a "
        "re-deploy: run `indigo undeploy %s`, then deploy its template with --site %s (or leave --site out to "
        "converge it on %s)" % (deployment, placed, others, deployment, others, placed))


def deploy(template: Optional[Path], inputs: Dict[str, str], deployment: Optional[str], site_name=None,
           catalogue: Optional[str] = None, progress=None, attempt_timeout: int = DEFAULT_ATTEMPT_TIMEOUT,
           overall_timeout: int = DEFAULT_OVERALL_TIMEOUT, group: Optional[str] = None, action: str = "deploy",
           note: Optional[str] = None, types_paths: Optional[List[str]] = None, strict: bool = False,
           node_sites: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Compile and run deploy.yml on the first site that takes it; re-running with the same deployment id
    converges it. ``site_name`` is a site, a list of sites tried in order, or ``auto`` (broker ranking);
    None: the deployment's own site when it exists, else ``local``. ``action`` names the run in the
    journal (``scale`` when runtime/scale.py changed a count). ``node_sites`` ({node: site}, from
    ``--site NODE=SITE``) places node templates; with the template's placement policies they make one
    deployment span several sites, the other nodes going to the site being tried."""
    if not site_name:
        site_names = None
    else:
        site_names = [site_name] if isinstance(site_name, str) else list(site_name)
    if deployment is not None:  # --deployment '' is a bad id (exit 2), not "no id"
        state = DeploymentState(deployment)
        previous = state.read_record() if state.exists() else {}
    else:
        if template is None:
            raise UserInputError("give a TEMPLATE (or --deployment ID of an existing deployment)")
        state, previous = DeploymentState(new_deployment_id(template)), {}
    from_copy = template is None
    if from_copy:
        if not previous:
            raise UserInputError("deployment %s does not exist: give its TEMPLATE" % state.id)
        template = state.template_file
    if not template.is_file():
        raise UserInputError("template %s not found" % template)
    placed = placed_site(previous)
    site_names = choose_sites(state.id, site_names, previous)  # converge where it lives, never a second copy
    catalogue = catalogue or previous.get("catalogue") or default_catalogue()
    group = group or previous.get("group") or "default"  # a re-deploy stays in its group unless told otherwise
    node_sites = dict(previous.get("requested_node_sites") or {}, **(node_sites or {}))
    merged_inputs = dict(previous.get("inputs") or {})
    merged_inputs.update(inputs)
    # --types-path given now wins; a re-deploy or scale reuses the mapping the deployment was compiled with
    types_paths = list(types_paths if types_paths is not None else previous.get("types_paths") or [])
    # the deployment's own copy imports from the copies of its --types-path folders (after those given now)
    compile_paths = types_paths + state.source_types_paths() if from_copy else types_paths
    # `auto` (or NODE=auto) with groups on sites of their own: the broker's choice per group lands in node_sites
    sites = candidate_sites(site_names, catalogue, template, merged_inputs, group, progress, compile_paths,
                            str(state.dir / "data-locations.json"), node_sites)
    if len(sites) == 1:
        check_site_host(sites[0])  # one site: what is missing on this host is the answer (exit 3)
    state.dir.mkdir(parents=True, exist_ok=True)
    public_key = state.ensure_ssh_key()
    with tempfile.TemporaryDirectory(dir=state.dir, prefix=".compile-") as tmp:
        compiled = compile_project(template, Path(tmp) / "project", state.id, merged_inputs, compile_paths, strict,
                                   node_sites, catalogue)
        from tosca2ansible.compiler import notice_lines

        for line in notice_lines(compiled.notices)[0]:
            (progress or (lambda text: None))(line)
        secret_vars = dict(compiled.secret_inputs or {}, **data_endpoint_vars(catalogue, progress))
        if template.resolve() != state.template_file.resolve():
            keep_template(state, template, compiled.sources, compiled.types_roots)
        if state.project_dir.exists():
            shutil.rmtree(state.project_dir)
        shutil.move(str(Path(tmp) / "project"), state.project_dir)
    placed_sites = [resolve_site(name, catalogue) for name in sorted(set(compiled.placement.values()) | set(compiled.pool_sites))]
    for other in placed_sites:
        check_site_host(other)
    state.write_record(template=str(template.resolve()), inputs=merged_inputs, site=sites[0]["name"],
                       secret_names=compiled.secret_names,
                       catalogue=catalogue, status="deploying", group=group, requested_sites=site_names,
                       types_paths=types_paths, node_sites=compiled.placement, requested_node_sites=node_sites,
                       pool_sites=compiled.pool_sites)
    _journal_status(state, "scaling" if action == "scale" else "deploying", note=note)

    runs: List[RunResult] = []

    def run_one(site, timeout):
        check_site_host(site)
        state.write_record(site=site["name"])
        result = run_playbook(
            state.project_dir, "deploy.yml", deployment=state.id, action=action, progress=progress, timeout=timeout,
            extravars={"indigo_site": site["name"], "indigo_catalogue": catalogue, "indigo_ssh_public_key": public_key,
                       "indigo_ssh_private_key_file": str(state.private_key),
                       "indigo_outputs_file": str(state.outputs_file),
                       # the deployment key for every node, whatever the inventory source says
                       "ansible_ssh_private_key_file": str(state.private_key),
                       "indigo_sites": compiled.placement},
            known_hosts=known_hosts_files(state, [site] + placed_sites), envvars={"INDIGO_SITES": catalogue},
            catalogue=catalogue, secret_vars=secret_vars,
        )
        runs.append(result)
        return result

    def teardown(site, result):
        stop_jobs_of_run(result.run_id)
        if placed == site["name"]:
            return []  # a deployment that already ran here and failed to converge stays as it was, to fix
        released = _release_data(state, site, catalogue, progress)
        with site_errors(site):
            if compiled.placement:
                # only the nodes that follow the tried site: placed ones (a front-end) stay for the next attempt
                deleted = _delete_unplaced(state.id, site, compiled.placement)
            else:
                deleted = provider_for(site).delete_deployment(state.id)
        _journal_deleted(state, result.run_id, deleted, site["name"])
        return [getattr(x, "name", x) for x in deleted] + released

    def record(attempt):
        from tosca2ansible.runtime.journal.api import Journal

        message = attempt.message + ("; cleaned: %s" % ", ".join(attempt.cleaned) if attempt.cleaned else "")
        with Journal() as journal:
            journal.record_attempt(attempt.run_id or "-", state.id, attempt.number, attempt.site, attempt.outcome,
                                   attempt.error_class, message)
        attempts_log.append(attempt.to_dict())

    attempts_log: List[Dict[str, Any]] = []
    try:
        result, site, _ = run_attempts(sites, run_one, teardown, record, attempt_timeout, overall_timeout,
                                       progress or (lambda line: None))
    except DeploymentFailed as exc:
        state.write_record(status="failed", attempts=attempts_log)
        if not placed:  # every attempt failed: nothing of a new deployment stays on its placed sites either
            for other in placed_sites:
                _journal_deleted(state, runs[-1].run_id if runs else None,
                                 provider_for(other).delete_deployment(state.id), other["name"])
        if placed and runs:
            # one site, where the deployment lives: its run failed, no other site was (or may be) tried
            message = failed_run_message(action, state.id, placed, runs[-1], attempts_log)
            _journal_status(state, "failed", note="%s failed on %s; deployment left in place" % (action, placed))
            raise DeploymentFailed(message) from exc
        _journal_status(state, "failed", note="%d attempt(s), all failed" % len(attempts_log))
        raise
    state.write_record(site=site["name"], attempts=attempts_log)
    return _finish(state, result, "deployed", action)


def data_endpoint_vars(catalogue, progress=None) -> Dict[str, Any]:
    """``indigo_data_endpoints`` ({url: credentials}) from the catalogue's ``data_services.endpoints``, for the
    run's secret vars file (0600, outside the artifacts): the data_staging role picks its output endpoint's."""
    ensure_importable()
    from ansible_collections.indigo.paas.plugins.module_utils.data.locate import endpoint_credentials

    say = progress or (lambda line: None)
    found = endpoint_credentials(catalogue, on_error=lambda url, why: say("data endpoint %s: no credentials: %s" % (url, why)))
    return {"indigo_data_endpoints": found} if found else {}


def _release_data(state: DeploymentState, site: Dict[str, Any], catalogue: str, progress=None) -> List[str]:
    """A failed attempt's Rucio rules deleted (the project's release_data.yml, compiler/datarules.py): the
    next site gets its own; returns what was released, for the attempt's record."""
    if not (state.project_dir / "release_data.yml").is_file():
        return []
    result = run_playbook(state.project_dir, "release_data.yml", deployment=state.id, action="release",
                          progress=progress, extravars={"indigo_site": site["name"], "indigo_catalogue": catalogue},
                          envvars={"INDIGO_SITES": catalogue}, catalogue=catalogue, timeout=600)
    return ["data rules of %s" % site["name"]] if result.ok else ["data rules of %s NOT released (run %s)"
                                                                 % (site["name"], result.run_id)]


def _delete_unplaced(deployment: str, site: Dict[str, Any], placement: Dict[str, str]) -> list:
    """Delete on ``site`` the deployment's nodes that are not placed there (they follow the attempts)."""
    provider = provider_for(site)
    doomed = [inst for inst in provider.find_instances(deployment) if inst.node not in placement]
    for inst in doomed:
        provider.delete_instance(inst.id)
    return doomed


def failed_run_message(action: str, deployment: str, site: str, result: RunResult, attempts: List[Dict[str, Any]]) -> str:
    """Why a run on the site a deployment lives on failed: the failed tasks (host, task, message), and
    that the deployment stays there (a failed re-deploy or scale is never torn down)."""
    error_class = (attempts[-1].get("error_class") if attempts else None) or "configuration"
    if result.status == "timeout":
        what = "timed out (%s)" % (attempts[-1].get("message") if attempts else "run status timeout")
    elif result.failed_tasks:
        what = "; ".join("host %(host)s, task '%(task)s': %(message)s" % f for f in result.failed_tasks[:5])
    else:
        what = "ansible-runner status %s (rc %s)" % (result.status, result.rc)
    return ("%s of %s failed on its site %s (%s): %s. The existing deployment was left in place (not torn down); "
            "fix the cause and run `indigo deploy --deployment %s` again (run %s, artifacts: %s)"
            % ("re-deploy" if action == "deploy" else action, deployment, site, error_class, what, deployment,
               result.run_id, result.artifacts_dir))


def _journal_deleted(state: DeploymentState, run_id: Optional[str], deleted, site: str) -> None:
    """Resources a provider deleted outside the playbooks, in the journal's resource history."""
    from tosca2ansible.runtime.journal.api import Journal

    with Journal() as journal:
        journal.record_deleted(run_id, state.id, deleted, site)


def _journal_status(state: DeploymentState, status: str, note: Optional[str] = None) -> None:
    """One row of the deployment's history in the audit journal (inputs redacted there)."""
    from tosca2ansible.runtime.journal.api import Journal

    record = state.read_record() if state.exists() else {}
    template = state.template_file
    with Journal() as journal:
        journal.record_deployment(state.id, status, site=record.get("site"),
                                  template=template if template.is_file() else None,
                                  inputs=record.get("inputs"), group=record.get("group"), note=note,
                                  secret_names=record.get("secret_names") or ())


def _finish(state: DeploymentState, result: RunResult, done_status: str, action: str) -> Dict[str, Any]:
    status = done_status if result.ok else "failed"
    state.write_record(status=status, last_run=result.run_id, changed=result.changed)
    _journal_status(state, status, note="run %s, %d changed" % (result.run_id, result.changed))
    if not result.ok:
        details = "; ".join(result.failures[:5]) or "ansible-runner status %s (rc %s)" % (result.status, result.rc)
        raise DeploymentFailed("%s of %s failed: %s (artifacts: %s)" % (action, state.id, details, result.artifacts_dir))
    return {"deployment": state.id, "outputs": state.read_outputs(), "changed": result.changed, "status": status,
            "run_id": result.run_id}


def find_nodes(state: DeploymentState, node: Optional[str] = None) -> List[Dict[str, Any]]:
    """The deployment's nodes on every site it spans, by tags."""
    record = state.read_record()
    instances = []
    for site in sites_of(record, record.get("catalogue") or default_catalogue()):
        if site.get("kind") == "local":
            check_site_host(site)
        with site_errors(site):
            instances.extend(provider_for(site).find_instances(state.id, node))
    return [inst.to_dict() for inst in sorted(instances, key=lambda i: (i.node, i.index, i.site))]


def status(deployment: str) -> Dict[str, Any]:
    state = DeploymentState(deployment)
    record = state.read_record()
    return {"deployment": state.id, "status": record.get("status"), "outputs": state.read_outputs(),
            "changed": record.get("changed"), "site": record.get("site"),
            "sites": placement.all_sites(record), "nodes": find_nodes(state), "data": data_rules(state.id)}


RULE_TASKS = ("indigo.paas.rucio_rule", "Wait for the Rucio rule ")


def data_rules(deployment: str) -> List[Dict[str, Any]]:
    """The deployment's Rucio rules from the journal: each rule created (state, files OK, per-file errors)
    or deleted, and every failed rule task with its message (the rule's per-file errors)."""
    from tosca2ansible.runtime.journal.store import open_store

    store = open_store()
    try:
        out = [{"rule": r["resource_id"], "change": r["change"], "site": r.get("site"), "name": r.get("name"),
                "detail": r.get("detail")}
               for r in store.rows("resources", "deployment = ? AND kind = ?", [deployment, "rucio_rule"])]
        out += [{"failed": e.get("task"), "run": e.get("run_id"), "message": e.get("message")}
                for e in store.rows("host_events", "deployment = ? AND status = ?", [deployment, "failed"])
                if e.get("action") == RULE_TASKS[0] or str(e.get("task") or "").startswith(RULE_TASKS[1])]
    finally:
        store.close()
    return out


def outputs(deployment: str) -> Dict[str, Any]:
    state = DeploymentState(deployment)
    record = state.read_record()
    return {"deployment": state.id, "outputs": state.read_outputs(), "changed": record.get("changed")}


def undeploy(deployment: str, progress=None) -> Dict[str, Any]:
    """Run undeploy.yml, then make sure by tags that nothing of the deployment is left on its site."""
    state = DeploymentState(deployment)
    record = state.read_record()
    catalogue = record.get("catalogue") or default_catalogue()
    spanned = sites_of(record, catalogue)
    site = spanned[0]
    for one in spanned:
        check_site_host(one)
    result = None
    if (state.project_dir / "undeploy.yml").is_file():
        result = run_playbook(
            state.project_dir, "undeploy.yml", deployment=state.id, action="undeploy", progress=progress,
            extravars={"indigo_site": site["name"], "indigo_catalogue": catalogue,
                       "indigo_sites": record.get("node_sites") or {},
                       "indigo_ssh_private_key_file": str(state.private_key),
                       "ansible_ssh_private_key_file": str(state.private_key)},
            known_hosts=known_hosts_files(state, spanned), envvars={"INDIGO_SITES": catalogue}, catalogue=catalogue,
        )
    left = []
    for one in spanned:
        with site_errors(one):
            provider = provider_for(one)
            here = provider.find_instances(state.id) + provider.find_resources(state.id)
            if here:
                deleted = provider.delete_deployment(state.id)  # the safety net: tags find everything
                _journal_deleted(state, result.run_id if result else None, deleted, one["name"])
        left.extend(here)
    if result is not None and not result.ok and left:
        state.write_record(status="undeploy-failed", last_run=result.run_id)
        raise DeploymentFailed("undeploy of %s: playbook failed (%s); resources removed by tags instead"
                               % (state.id, "; ".join(result.failures[:3])))
    _journal_status(state, "undeployed", note="removed by tags: %d" % len(left))
    shutil.rmtree(state.dir)
    return {"deployment": state.id, "outputs": {}, "changed": (result.changed if result else 0) + len(left),
            "status": "undeployed", "removed_by_tags": [getattr(x, "name", str(x)) for x in left]}


def ssh(deployment: str, node: str, index: int, command: List[str]) -> int:
    state = DeploymentState(deployment)
    record = state.read_record()
    nodes = [n for n in find_nodes(state, node) if n["index"] == index]
    if not nodes:
        raise UserInputError("deployment %s has no node %s with index %d" % (deployment, node, index))
    site = resolve_site(nodes[0]["site"], record.get("catalogue") or default_catalogue())
    user = site.get("ssh_user") or "root"
    known = " ".join(str(p) for p in known_hosts_files(state, site))
    argv = ["ssh", "-i", str(state.private_key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile=%s" % known,
            "%s@%s" % (user, nodes[0]["address"])]
    if command:
        argv += ["--"] + list(command)
    return subprocess.call(argv)
