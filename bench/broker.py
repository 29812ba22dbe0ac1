"""Broker benchmark: rank 1 000 sites for a 20-node request (goal: <= 50 ms).

Prints the median of repeated runs and its ratio to the goal; the reference run in the same process is
the ranking of a single site, so the per-site cost and the linearity are visible.
Run: .venv/bin/python bench/broker.py
"""

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collections"))

from ansible_collections.indigo.paas.plugins.module_utils import broker  # noqa: E402


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


def timed(fn, repeat):
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main():
    rnd = random.Random(42)
    sites, health, usage = catalogue(1000, rnd)
    req = request(rnd)
    one = timed(lambda: broker.rank(req, sites[:1], health, usage), 200)
    full = timed(lambda: broker.rank(req, sites, health, usage), 15)
    kept = sum(r.kept for r in broker.rank(req, sites, health, usage))
    print("reference: 1 site x 20 nodes        %8.3f ms" % (one * 1000))
    print("ranking: 1000 sites x 20 nodes      %8.3f ms  (%d kept; %.0fx the 1-site run, linear would be 1000x)" % (full * 1000, kept, full / one))
    print("goal 50 ms: ratio to goal           %8.2f  (<= 1.00 meets the goal)" % (full / 0.050))
    return 0 if full <= 0.050 else 1


if __name__ == "__main__":
    sys.exit(main())
