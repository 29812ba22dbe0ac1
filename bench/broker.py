"""Broker benchmark: rank 1 000 sites for a 20-node request (goal: <= 50 ms).

Prints, for the same catalogue and request in the same process:
- the broker core's ranking (median of repeated runs, wall and CPU time) and its ratio to the goal;
- a reference: the naive per-node loop (every node against every site's flavors, rebuilt per node, the
  way the first version of the core worked), checked to keep and size exactly the same sites;
- the ranking of a single site, so the per-site cost and the linearity are visible.
CPU time is the figure to compare across runs: on the shared 2-core machine wall time follows the load.
Run: .venv/bin/python bench/broker.py   (exit 1 when the goal is missed)
"""

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collections"))

from ansible_collections.indigo.paas.plugins.module_utils import broker  # noqa: E402

GOAL_S = 0.050


def catalogue(n, rnd):
    sites = []
    for i in range(n):
        sites.append({
            "name": "site-%04d" % i,
            "kind": rnd.choice(["openstack", "opennebula", "aws"]),
            "flavors": [{"name": "f%d" % j, "num_cpus": 2 ** j, "mem_mb": 2048 * 2 ** j, "disk_gb": 20 * 2 ** j,
                         "gpus": rnd.choice([0, 0, 1, 2])} for j in range(rnd.randint(2, 8))],
            "images": [{"name": "ubuntu-22.04", "distribution": "ubuntu", "version": "22.04"},
                       {"name": "debian-13", "distribution": "debian", "version": "13"}],
            "sla": [{"group": "default", "priority": rnd.randint(1, 5),
                     "quota": {"instances": rnd.randint(10, 200), "cores": rnd.randint(20, 2000), "ram_mb": rnd.randint(10 ** 4, 10 ** 7), "gpus": rnd.randint(0, 16)}}],
            "data": {"onedata_spaces": rnd.sample(["s1", "s2", "s3", "s4"], rnd.randint(0, 2))},
        })
    health = {s["name"]: {"reachable": rnd.random() > 0.05, "latency_ms": rnd.uniform(5, 500)} for s in sites if rnd.random() > 0.1}
    usage = {s["name"]: {"cores": {"used": rnd.randint(0, 100)}, "instances": {"used": rnd.randint(0, 10)}} for s in sites}
    return sites, health, usage


def request(rnd, nodes=20):
    return broker.Request(
        nodes=[broker.NodeRequest("node%02d" % i, count=rnd.randint(1, 3), num_cpus=rnd.choice([1, 2, 4]),
                                  mem_mb=rnd.choice([1024, 4096, 8192]), os_distribution="ubuntu", os_version="22.04")
               for i in range(nodes)],
        data=["s1"])


def naive_rank(req, sites, health, usage):
    """The reference: each site, each node, the flavor list scanned afresh; kept sites and flavors only."""
    out = {}
    for site in sites:
        name = site["name"]
        ok = True
        sla = next((e for e in site.get("sla") or [] if e.get("group") == req.group), None)
        h = health.get(name)
        if sla is None or (h is not None and not h.get("reachable")):
            ok = False
        flavors = {}
        for node in req.nodes:
            fits = [f for f in site.get("flavors") or []
                    if f.get("num_cpus", 0) >= node.num_cpus and f.get("mem_mb", 0) >= node.mem_mb
                    and f.get("gpus", 0) >= node.gpus and (not node.disk_gb or f.get("disk_gb", 0) >= node.disk_gb)]
            smallest = min(fits, key=lambda f: (f.get("gpus", 0), f["num_cpus"], f["mem_mb"], f.get("disk_gb", 0), f["name"]),
                           default=None)
            if site.get("flavors") and smallest is None:
                ok = False
            flavors[node.name] = smallest["name"] if smallest else None
            if node.os_distribution and not any(
                    i.get("distribution") == node.os_distribution and (not node.os_version or i.get("version") == node.os_version)
                    for i in site.get("images") or []):
                ok = False
        quota = (sla or {}).get("quota") or {}
        for key in ("instances", "cores", "ram_mb", "gpus"):
            need = sum(n.count * {"instances": 1, "cores": n.num_cpus, "ram_mb": n.mem_mb, "gpus": n.gpus}[key] for n in req.nodes)
            used = ((usage.get(name) or {}).get(key) or {}).get("used", 0)
            if key in quota and used + need > quota[key]:
                ok = False
        out[name] = (ok, flavors)
    return out


def timed(fn, repeat):
    wall, cpu = [], []
    for _ in range(repeat):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return statistics.median(wall), statistics.median(cpu)


def main():
    rnd = random.Random(42)
    sites, health, usage = catalogue(1000, rnd)
    req = request(rnd)
    ranking = broker.rank(req, sites, health, usage)
    reference = naive_rank(req, sites, health, usage)
    same = {r.site: (r.kept, r.flavors) for r in ranking} == reference
    one_wall, one_cpu = timed(lambda: broker.rank(req, sites[:1], health, usage), 200)
    naive_wall, naive_cpu = timed(lambda: naive_rank(req, sites, health, usage), 7)
    wall, cpu = timed(lambda: broker.rank(req, sites, health, usage), 25)
    kept = sum(r.kept for r in ranking)
    print("ranking: 1000 sites x 20 nodes       %7.2f ms wall  %7.2f ms CPU  (%d kept)" % (wall * 1000, cpu * 1000, kept))
    print("reference: naive per-node loop       %7.2f ms wall  %7.2f ms CPU  (%.1fx slower; same kept sites and flavors: %s)"
          % (naive_wall * 1000, naive_cpu * 1000, naive_cpu / cpu, "yes" if same else "NO"))
    print("one site x 20 nodes                  %7.3f ms wall  %7.3f ms CPU  (1000 sites = %.0fx one site)"
          % (one_wall * 1000, one_cpu * 1000, cpu / one_cpu))
    print("goal 50 ms: ratio to goal            %7.2f wall     %7.2f CPU   (<= 1.00 meets the goal)" % (wall / GOAL_S, cpu / GOAL_S))
    return 0 if cpu <= GOAL_S and same else 1


if __name__ == "__main__":
    sys.exit(main())
