"""How the runtime reaches a site outside the playbooks: the catalogue and providers of the collection (one
implementation of find-by-tags for the CLI and the playbooks), the exit codes of their errors, the local
site's host checks and known_hosts. Moved out of ``deploy.py`` (which re-exports these names) unchanged.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Dict, List, Optional

from tosca2ansible.errors import DeploymentFailed, EnvironmentProblem, UserInputError
from tosca2ansible.runtime import placement
from tosca2ansible.runtime.state import DeploymentState

from tosca2ansible.collection import ensure_importable


def _collection():
    """The collection's module_utils (one implementation of sites and providers for CLI and playbooks)."""
    ensure_importable()
    from ansible_collections.indigo.paas.plugins.module_utils import credentials, sites
    from ansible_collections.indigo.paas.plugins.module_utils.providers import base, get_provider

    return sites, credentials, base, get_provider


def default_catalogue() -> str:
    from tosca2ansible import brokering

    return brokering.catalogue_path()


def resolve_site(name: str, catalogue: str) -> Dict[str, Any]:
    sites, _, _, _ = _collection()
    try:
        return sites.resolve_site(name, catalogue)
    except sites.SiteCatalogueError as exc:
        raise UserInputError(str(exc))


@contextlib.contextmanager
def site_errors(site: Dict[str, Any]):
    """Credential and provider errors of calls made outside the playbooks, as the README's exit codes:
    credentials missing or refused → 3 (something missing on this machine); a site failing → 4."""
    _, credentials, base, _ = _collection()
    name = site.get("name")
    try:
        yield
    except credentials.CredentialError as exc:
        raise EnvironmentProblem("site %s: %s" % (name, exc)) from None
    except base.AuthError as exc:
        raise EnvironmentProblem("site %s: credentials refused: %s" % (name, exc.message)) from None
    except base.ProviderError as exc:
        raise DeploymentFailed("site %s (%s error): %s" % (name, exc.kind, exc.message)) from None


def provider_for(site: Dict[str, Any]):
    import os

    _, credentials, base, get_provider = _collection()
    with site_errors(site):
        try:
            return get_provider(site, credentials.resolve_credentials(site, os.environ))
        except base.ProviderError as exc:
            raise EnvironmentProblem("site %s: %s" % (site.get("name"), exc.message)) from None


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


def sites_of(record: Dict[str, Any], catalogue: str, main: Optional[str] = None) -> List[Dict[str, Any]]:
    """Every site the deployment spans (its main site first), resolved in the catalogue."""
    return [resolve_site(name, catalogue) for name in placement.all_sites(record, main)]


def known_hosts_files(state: DeploymentState, site) -> List[Path]:
    """The deployment's known_hosts and each local site's (``site``: one site or the list it spans)."""
    files = [state.dir / "ssh" / "known_hosts"]
    for one in site if isinstance(site, list) else [site]:
        if one.get("kind") == "local":
            from tosca2ansible.runtime.localsite import LocalSiteConfig

            path = LocalSiteConfig.from_site(one).known_hosts_file
            if path not in files:
                files.append(path)
    return files
