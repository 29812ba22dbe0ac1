"""Data-aware ranking benchmark: 1 000 files over 10 sites, located through the emulators, then ranked.

Prints, in the same process and for the same request and catalogue of 10 sites:
- reference: ranking with no data lookup (the catalogue's claims only);
- Dynafed, cold: 1 000 ``GET <file>?metalink`` (16 concurrent) to the Dynafed emulator, then ranking;
- Dynafed, cached: the same through the deployment's cache (no request), then ranking;
- Rucio, cold: one dataset of 1 000 files through the unmodified rucio-clients (one ``list_replicas``
  stream from the Rucio emulator), then ranking; Rucio cached.
Each figure is a median of runs (wall and CPU) with its ratio to the reference. The emulators run in this
process on 127.0.0.1, so the cold figures are the client side plus local HTTP, not a WAN.
Run: .venv/bin/python bench/data.py
"""

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.indigo.paas.plugins.module_utils import broker  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.data.base import DataRef, LocationCache  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.data.locate import locate  # noqa: E402
from tests.emulators.dynafed.server import start as start_dynafed  # noqa: E402
from tests.emulators.rucio.server import start as start_rucio  # noqa: E402

FILES, SITES = 1000, 10


def catalogue():
    return [{"name": "site-%d" % i, "kind": "openstack", "endpoint": "https://s%d.example:5000/v3" % i,
             "data": {"storage_hosts": ["se%d.example" % i], "rucio_rses": ["SITE%d_DISK" % i]},
             "sla": [{"group": "default", "priority": 1 + i % 3, "quota": {"instances": 50}}],
             "flavors": [{"name": "m", "num_cpus": 4, "mem_mb": 8192}]} for i in range(SITES)]


def timed(fn, runs):
    walls, cpus, result = [], [], None
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), result


def main():
    rnd = random.Random(17)
    sites = catalogue()
    request = broker.Request(nodes=[broker.NodeRequest(name="wn", count=4, num_cpus=2, mem_mb=4096)])
    dynafed, rucio = start_dynafed(), start_rucio()
    refs, members = [], []
    for i in range(FILES):
        holders = rnd.sample(range(SITES), 2)
        dynafed.state.add_file("/fed/f%04d" % i, 1_000_000,
                               ["https://se%d.example/data/f%04d" % (h, i) for h in holders])
        refs.append(DataRef("dynafed", "%s/fed/f%04d" % (dynafed.url, i), ("wn",)))
        rucio.state.add_file("user.bench:f%04d" % i, 1_000_000, ["SITE%d_DISK" % h for h in holders])
        members.append("user.bench:f%04d" % i)
    rucio.state.add_dataset("user.bench:ds", members)
    services = {"timeout": 120, "rucio": {"endpoint": rucio.url, "account": "jdoe",
                                          "credentials": {"env": {"username": "B_USER", "password": "B_PASSWORD"}}}}
    env = {"B_USER": "jdoe", "B_PASSWORD": "secret"}
    tmp = tempfile.mkdtemp(prefix="indigo-bench-data-")

    def ranked(locations):
        request.data_locations = [loc.to_dict() for loc in locations]
        return broker.rank(request, sites)

    ref_wall, ref_cpu, base = timed(lambda: (setattr(request, "data_locations", []), broker.rank(request, sites))[1], 20)
    rows = [("reference: ranking, no data lookup", ref_wall, ref_cpu)]

    def case(label, data_refs, cache_file, runs_cold=3, runs_cached=5):
        def cold():
            if os.path.exists(cache_file):
                os.unlink(cache_file)
            return ranked(locate(data_refs, sites, services, LocationCache(cache_file), env))
        wall, cpu, result = timed(cold, runs_cold)
        assert not any(loc.get("error") for loc in request.data_locations), request.data_locations[:1]
        rows.append((label + ", cold", wall, cpu))
        wall, cpu, cached = timed(lambda: ranked(locate(data_refs, sites, services, LocationCache(cache_file), env)),
                                  runs_cached)
        assert [r.site for r in cached] == [r.site for r in result]
        rows.append((label + ", cached", wall, cpu))
        return result

    dyn = case("Dynafed: %d files (metalink each)" % FILES, refs, os.path.join(tmp, "dynafed.json"))
    ruc = case("Rucio: 1 dataset of %d files" % FILES, [DataRef("rucio", "user.bench:ds", ("wn",))],
               os.path.join(tmp, "rucio.json"))
    dynafed.stop()
    rucio.stop()
    print("%-46s %10s %10s %10s" % ("case (%d sites)" % SITES, "wall ms", "cpu ms", "x ref cpu"))
    for label, wall, cpu in rows:
        print("%-46s %10.1f %10.1f %10.1f" % (label, wall * 1000, cpu * 1000, cpu / ref_cpu if ref_cpu else 0))
    print("best site without data: %s; with Dynafed data: %s (%s); with Rucio data: %s"
          % (base[0].site, dyn[0].site, dyn[0].criteria["data_locality"], ruc[0].site))
    return 0


if __name__ == "__main__":
    sys.exit(main())
