"""Bursting: which site each worker slot of an elastic pool goes to, given a maximum per site.

A hybrid elastic pool lists its sites in order with a maximum each (``[("local-a", 1), ("local-b", 2)]``:
at most 1 worker on local-a, then up to 2 on local-b). The pool's ceiling is the sum of the maxima (and
``max_instances``): ``policy.decide`` runs with ``site_max=ceiling(...)``, then ``place`` sends each slot it
powers up to the first site, in order, with room — counting the slots already up there — and skips a site
that failed to boot a node in this pass (``failed_sites``: the next site takes the slot; ``scale_out`` runs
the passes site by site and retries a failed site's slots on the next one). A slot that is
up stays on its site. Pure (no I/O): property-tested in tests/unit/test_elastic_burst.py.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

SiteMax = Sequence[Tuple[str, int]]


def ceiling(site_maxima: SiteMax, max_nodes: Optional[int] = None) -> int:
    """How many workers the pool can hold over all its sites."""
    total = sum(max(0, int(m)) for _, m in site_maxima)
    return total if max_nodes is None else min(total, max_nodes)


def place(up: Dict[str, str], power_up: Iterable[str], site_maxima: SiteMax,
          failed_sites: Optional[Set[str]] = None) -> Tuple[Dict[str, str], List[str]]:
    """({slot: site} for each slot to power up that has room, [why the others wait]).

    ``up``: the slots up now and their sites (a site not in ``site_maxima`` still counts where it is)."""
    failed_sites = failed_sites or set()
    used: Dict[str, int] = {}
    for site in up.values():
        used[site] = used.get(site, 0) + 1
    chosen: Dict[str, str] = {}
    waits: List[str] = []
    held = 0
    for slot in power_up:
        if slot in up:
            continue  # already up: it stays where it is
        for site, maximum in site_maxima:
            if site in failed_sites or used.get(site, 0) >= maximum:
                continue
            chosen[slot] = site
            used[site] = used.get(site, 0) + 1
            break
        else:
            held += 1
    if held:
        full = ", ".join("%s %d/%d" % (s, used.get(s, 0), m) for s, m in site_maxima if s not in failed_sites)
        failed = (" (failed this pass: %s)" % ", ".join(sorted(failed_sites))) if failed_sites else ""
        waits.append("%d node(s) wait: every site at its maximum (%s)%s" % (held, full or "none left", failed))
    return chosen, waits


def by_site(placement: Dict[str, str]) -> Dict[str, List[str]]:
    """{site: [slots]}: one provisioning run per site (the instance module takes one site per call)."""
    runs: Dict[str, List[str]] = {}
    for slot, site in sorted(placement.items()):
        runs.setdefault(site, []).append(slot)
    return runs


def scale_out(power_up: Sequence[str], up: Dict[str, str], site_maxima: SiteMax,
              run: Callable[[str, List[str]], bool],
              still_off: Callable[[List[str]], Iterable[str]]) -> Tuple[Dict[str, str], List[str]]:
    """Power ``power_up`` up, one ``run(site, slots)`` per site. A site whose run fails is skipped for the rest
    of the pass: of its slots, those with no instance anywhere (``still_off``) go to the next site with room
    (a slot left up there, e.g. created but not configured, stays where it is).
    Returns ({slot: site} of the slots up after the pass, [why the others wait])."""
    failed: Set[str] = set()
    where = dict(up)
    pending = [slot for slot in power_up if slot not in up]
    waits: List[str] = []
    while pending:
        chosen, held = place(where, pending, site_maxima, failed)
        waits = held
        pending = []
        for site, slots in by_site(chosen).items():
            if run(site, slots):
                where.update((slot, site) for slot in slots)
                continue
            failed.add(site)
            off = set(still_off(slots))
            where.update((slot, site) for slot in slots if slot not in off)
            pending += [slot for slot in slots if slot in off]
    return {slot: site for slot, site in where.items() if slot not in up}, waits
