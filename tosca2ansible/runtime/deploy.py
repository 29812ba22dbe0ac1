"""What ``indigo deploy|status|outputs|undeploy|ssh`` do, without the command-line layer.

Sites are resolved through the collection's own catalogue and provider code (one implementation of
find-by-tags for the CLI and the playbooks).
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from tosca2ansible.errors import DeploymentFailed, EnvironmentProblem, UserInputError
from tosca2ansible.runtime.runner import RunResult, run_playbook
from tosca2ansible.runtime.state import DeploymentState

FRAMEWORK_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_DIR = FRAMEWORK_ROOT / "collections"


def _collection():
    """The collection's module_utils, importable once its collections dir is on sys.path."""
    if str(COLLECTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS_DIR))
    from ansible_collections.indigo.paas.plugins.module_utils import credentials, sites
    from ansible_collections.indigo.paas.plugins.module_utils.providers import base, get_provider

    return sites, credentials, base, get_provider


def default_catalogue() -> str:
    import os

    return os.environ.get("INDIGO_SITES") or str(FRAMEWORK_ROOT / "inventories" / "sites")


def resolve_site(name: str, catalogue: str) -> Dict[str, Any]:
    sites, _, _, _ = _collection()
    try:
        return sites.resolve_site(name, catalogue)
    except sites.SiteCatalogueError as exc:
        raise UserInputError(str(exc))


def provider_for(site: Dict[str, Any]):
    import os

    _, credentials, base, get_provider = _collection()
    try:
        return get_provider(site, credentials.resolve_credentials(site, os.environ))
    except base.ProviderError as exc:
        raise EnvironmentProblem("site %s: %s" % (site.get("name"), exc.message))


def check_site_host(site: Dict[str, Any]) -> None:
    """Local sites need root and the host tools: say what is missing before compiling anything."""
    if site.get("kind") != "local":
        return
    from tosca2ansible.runtime.localsite import HostNotReady
    from tosca2ansible.runtime.localsite.host import check_host

    try:
        check_host()
    except HostNotReady as exc:
        raise EnvironmentProblem("site %s: %s" % (site.get("name"), exc))


def known_hosts_files(state: DeploymentState, site: Dict[str, Any]) -> List[Path]:
    files = [state.dir / "ssh" / "known_hosts"]
    if site.get("kind") == "local":
        from tosca2ansible.runtime.localsite import LocalSiteConfig

        files.append(LocalSiteConfig.from_site(site).known_hosts_file)
    return files


def new_deployment_id(template: Path) -> str:
    stem = re.sub(r"[^a-z0-9-]+", "-", template.stem.lower()).strip("-") or "deployment"
    if not stem[0].isalpha():
        stem = "d-" + stem
    return "%s-%s" % (stem[:30].rstrip("-"), secrets.token_hex(3))


def compile_project(template: Path, out_dir: Path, deployment: str, inputs: Dict[str, str]) -> None:
    """Compile with the compiler's public API; inputs typed on the command line are CliText so the
    compiler parses them by the input's declared type."""
    from tosca2ansible.compiler import compile_template
    from tosca2ansible.compiler.model import CliText

    compile_template(str(template), str(out_dir), inputs={k: CliText(v) for k, v in inputs.items()},
                                deployment=deployment)


def deploy(template: Optional[Path], inputs: Dict[str, str], deployment: Optional[str], site_name: str,
           catalogue: str, progress=None) -> Dict[str, Any]:
    """Compile and run deploy.yml; re-running with the same deployment id converges it."""
    site = resolve_site(site_name, catalogue)
    check_site_host(site)
    if deployment:
        state = DeploymentState(deployment)
        previous = state.read_record() if state.exists() else {}
    else:
        if template is None:
            raise UserInputError("give a TEMPLATE (or --deployment ID of an existing deployment)")
        state, previous = DeploymentState(new_deployment_id(template)), {}
    if template is None:
        if not previous:
            raise UserInputError("deployment %s does not exist: give its TEMPLATE" % state.id)
        template = state.dir / "template.yaml"
    if not template.is_file():
        raise UserInputError("template %s not found" % template)
    merged_inputs = dict(previous.get("inputs") or {})
    merged_inputs.update(inputs)
    state.dir.mkdir(parents=True, exist_ok=True)
    if template.resolve() != (state.dir / "template.yaml").resolve():
        shutil.copyfile(template, state.dir / "template.yaml")
    public_key = state.ensure_ssh_key()
    with tempfile.TemporaryDirectory(dir=state.dir, prefix=".compile-") as tmp:
        compile_project(template, Path(tmp) / "project", state.id, merged_inputs)
        if state.project_dir.exists():
            shutil.rmtree(state.project_dir)
        shutil.move(str(Path(tmp) / "project"), state.project_dir)
    state.write_record(template=str(template.resolve()), inputs=merged_inputs, site=site_name, catalogue=catalogue,
                       status="deploying")
    _journal_status(state, "deploying")
    result = run_playbook(
        state.project_dir, "deploy.yml", deployment=state.id, action="deploy", progress=progress,
        extravars={"indigo_site": site_name, "indigo_catalogue": catalogue, "indigo_ssh_public_key": public_key,
                   "indigo_ssh_private_key_file": str(state.private_key), "indigo_outputs_file": str(state.outputs_file),
                   # the deployment key for every node, whatever the inventory source says
                   "ansible_ssh_private_key_file": str(state.private_key)},
        known_hosts=known_hosts_files(state, site), envvars={"INDIGO_SITES": catalogue}, catalogue=catalogue,
    )
    return _finish(state, result, "deployed", "deploy")


def _journal_status(state: DeploymentState, status: str, note: Optional[str] = None) -> None:
    """One row of the deployment's history in the audit journal (inputs redacted there)."""
    from tosca2ansible.runtime.journal.api import Journal

    record = state.read_record() if state.exists() else {}
    template = state.dir / "template.yaml"
    with Journal() as journal:
        journal.record_deployment(state.id, status, site=record.get("site"),
                                  template=template if template.is_file() else None,
                                  inputs=record.get("inputs"), note=note)


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
    record = state.read_record()
    site = resolve_site(record.get("site", "local"), record.get("catalogue") or default_catalogue())
    if site.get("kind") == "local":
        check_site_host(site)
    provider = provider_for(site)
    instances = provider.find_instances(state.id, node)
    return [inst.to_dict() for inst in sorted(instances, key=lambda i: (i.node, i.index))]


def status(deployment: str) -> Dict[str, Any]:
    state = DeploymentState(deployment)
    record = state.read_record()
    return {"deployment": state.id, "status": record.get("status"), "outputs": state.read_outputs(),
            "changed": record.get("changed"), "site": record.get("site"), "nodes": find_nodes(state)}


def outputs(deployment: str) -> Dict[str, Any]:
    state = DeploymentState(deployment)
    record = state.read_record()
    return {"deployment": state.id, "outputs": state.read_outputs(), "changed": record.get("changed")}


def undeploy(deployment: str, progress=None) -> Dict[str, Any]:
    """Run undeploy.yml, then make sure by tags that nothing of the deployment is left on its site."""
    state = DeploymentState(deployment)
    record = state.read_record()
    catalogue = record.get("catalogue") or default_catalogue()
    site = resolve_site(record.get("site", "local"), catalogue)
    check_site_host(site)
    result = None
    if (state.project_dir / "undeploy.yml").is_file():
        result = run_playbook(
            state.project_dir, "undeploy.yml", deployment=state.id, action="undeploy", progress=progress,
            extravars={"indigo_site": site["name"], "indigo_catalogue": catalogue,
                       "indigo_ssh_private_key_file": str(state.private_key),
                       "ansible_ssh_private_key_file": str(state.private_key)},
            known_hosts=known_hosts_files(state, site), envvars={"INDIGO_SITES": catalogue}, catalogue=catalogue,
        )
    provider = provider_for(site)
    left = provider.find_instances(state.id) + provider.find_resources(state.id)
    if left:
        provider.delete_deployment(state.id)  # the safety net: tags find everything
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
    site = resolve_site(record.get("site", "local"), record.get("catalogue") or default_catalogue())
    nodes = [n for n in find_nodes(state, node) if n["index"] == index]
    if not nodes:
        raise UserInputError("deployment %s has no node %s with index %d" % (deployment, node, index))
    user = site.get("ssh_user") or "root"
    known = " ".join(str(p) for p in known_hosts_files(state, site))
    argv = ["ssh", "-i", str(state.private_key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile=%s" % known,
            "%s@%s" % (user, nodes[0]["address"])]
    if command:
        argv += ["--"] + list(command)
    return subprocess.call(argv)
