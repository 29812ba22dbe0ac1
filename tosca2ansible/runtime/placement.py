"""Several sites in one deployment: which site each placed Compute node goes to, and every site a
deployment spans (status, ssh, undeploy and a failed attempt's teardown look at all of them)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

NODE_SITE_SEPARATOR = "="


def split_site_options(values: Optional[List[str]]):
    """`--site A --site B` (sites tried in order) and `--site NODE=SITE` (placement) from one option."""
    sites, node_sites = [], {}
    for value in values or []:
        node, sep, site = value.partition(NODE_SITE_SEPARATOR)
        if sep:
            from tosca2ansible.errors import UserInputError  # pylint: disable=import-outside-toplevel

            if not node.strip() or not site.strip():
                raise UserInputError("--site %r must look like NODE=SITE" % value)
            node_sites[node.strip()] = site.strip()
        else:
            sites.append(value)
    return sites, node_sites


def all_sites(record: Dict[str, Any], main: Optional[str] = None) -> List[str]:
    """The deployment's main site first, then every other site a node of it was placed on or its elastic
    pool bursts to."""
    names = [main or record.get("site") or "local"]
    for site in list((record.get("node_sites") or {}).values()) + list(record.get("pool_sites") or []):
        if site not in names:
            names.append(site)
    return names
