"""End to end, as a user: a hybrid Slurm cluster over two local sites joined only by the overlay.

`indigo deploy examples/hybrid_slurm_cluster.yaml --sites inventories/hybrid/sites.yml --site local-a`:
its SlaPlacement policies put the front-end (slurmctld, the OpenVPN central point) on local-a (bridge
indigo0) and the two workers on local-b (bridge indigo1). The host does not forward between the bridges:
a worker reaches the front-end's private address only through tun0 (stopping its tunnel cuts it off, starting
it restores it). `srun -N2 hostname` prints both B workers; a re-deploy changes nothing; the overlay's keys
are on the nodes and nowhere in $INDIGO_HOME (project, journal, run artifacts); undeploy leaves nothing on
either site. Timings are printed (run with -s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.local_nodes import leftovers
from tosca2ansible.runtime.localsite import LocalSite, LocalSiteConfig
from tosca2ansible.runtime.localsite.host import check_host
from tosca2ansible.runtime.localsite.errors import HostNotReady

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "inventories" / "hybrid" / "sites.yml"
DEPLOYMENT = "hybrid-e2e"


def indigo(*args, timeout=600):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", "from tosca2ansible.cli import main; main()"] + list(args),
                          capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))
    return proc, time.monotonic() - started


def on(node, command, index=0, timeout=300):
    # ssh hands the command line to the node's login shell as one string
    proc, _ = indigo("ssh", DEPLOYMENT, "--node", node, "--index", str(index), "--", command, timeout=timeout)
    assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
    return proc.stdout


def checkout_files():
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=str(ROOT), capture_output=True,
                            text=True, check=True).stdout.split("\n")
    return [ROOT / name for name in listed if name]


def scan_for(secrets, roots):
    """Assert no file under ``roots`` holds any of ``secrets``; return how many files were read."""
    needles = [s.encode() for s in secrets]
    count = 0
    for root in roots:
        for path in ([root] if root.is_file() else root.rglob("*") if root.is_dir() else []):
            if path.is_file() and not path.is_symlink():
                try:
                    data = path.read_bytes()
                except FileNotFoundError:  # another session's temporary file, gone meanwhile
                    continue
                count += 1
                assert not any(n in data for n in needles), path
    return count


def figures(front_end, workers):
    """Overlay vs direct path: iperf3 (5 s TCP) and ping (20 x 0.2 s) from worker 0 to the front-end's
    private address (through tun0 and the relay) and to worker 1 (same site, direct)."""
    install = "DEBIAN_FRONTEND=noninteractive apt-get install -y -q iperf3 >/dev/null && (iperf3 -s -D || true)"
    on("lrms_server", install, timeout=300)
    for index in (0, 1):
        on("lrms_wn", install, index, timeout=300)
    found = {}
    for label, target in (("overlay", front_end), ("direct", workers[1])):
        out = json.loads(on("lrms_wn", "iperf3 -c %s -t 5 -J" % target, 0, timeout=60))
        found["%s Mbit/s" % label] = out["end"]["sum_received"]["bits_per_second"] / 1e6
        rtt = on("lrms_wn", "ping -c 20 -i 0.2 -q %s | tail -1" % target, 0).split("=")[1].split("/")
        found["%s ping min ms" % label], found["%s ping avg ms" % label] = float(rtt[0]), float(rtt[1])
    return found


def sites():
    import yaml

    return {s["name"]: LocalSite(LocalSiteConfig.from_site(s)) for s in yaml.safe_load(CATALOGUE.read_text())["sites"]}


@pytest.mark.slow
def test_hybrid_slurm_over_two_local_sites(tmp_path, monkeypatch):
    try:
        check_host()
    except HostNotReady as exc:
        pytest.skip("local site unavailable: %s" % exc)
    monkeypatch.setenv("INDIGO_HOME", str(tmp_path / "home"))
    site_a, site_b = sites()["local-a"], sites()["local-b"]
    timings, names = {}, []
    try:
        proc, timings["deploy"] = indigo("deploy", "examples/hybrid_slurm_cluster.yaml", "--sites", str(CATALOGUE),
                                         "--site", "local-a", "--deployment", DEPLOYMENT, "--json", timeout=1500)
        assert proc.returncode == 0, proc.stderr[-4000:]
        front_end = json.loads(proc.stdout)["outputs"]["cluster_private_ip"]
        on_a = site_a.nodes(indigo_deployment=DEPLOYMENT)
        on_b = site_b.nodes(indigo_deployment=DEPLOYMENT)
        names = [n.name for n in on_a + on_b]
        assert [n.tags["indigo_node"] for n in on_a] == ["lrms_server"] and on_a[0].address == front_end
        assert sorted(n.tags["indigo_node"] for n in on_b) == ["lrms_wn", "lrms_wn"]
        assert all(n.address.startswith("10.78.0.") for n in on_b)
        assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "0"  # no route between the bridges

        workers = sorted(on("lrms_wn", "hostname", i).strip() for i in (0, 1))
        started = time.monotonic()
        assert sorted(on("lrms_server", "timeout 60 srun -N2 hostname").split()) == workers
        timings["srun"] = time.monotonic() - started
        for index in (0, 1):
            assert " dev tun0 " in on("lrms_wn", "ip route get %s" % front_end, index)
        # without its tunnel a worker has no path to site A; with it, it has
        down = on("lrms_wn", "systemctl stop openvpn-client@indigo; ip route get %s; ping -c1 -W2 %s >/dev/null"
                  " && echo reached || echo unreachable" % (front_end, front_end), 1)
        assert " dev eth0 " in down and down.strip().endswith("unreachable")
        up = on("lrms_wn", "systemctl start openvpn-client@indigo; for i in $(seq 30); do ping -c1 -W1 %s"
                " >/dev/null && echo reached && exit 0; sleep 1; done; echo unreachable" % front_end, 1)
        assert up.strip().endswith("reached")

        proc, timings["redeploy"] = indigo("deploy", "--deployment", DEPLOYMENT, "--json", timeout=1200)
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert json.loads(proc.stdout)["changed"] == 0, proc.stderr[-4000:]

        proc, _ = indigo("status", DEPLOYMENT, "--json")
        status = json.loads(proc.stdout)
        assert sorted((n["node"], n["site"]) for n in status["nodes"]) == [
            ("lrms_server", "local-a"), ("lrms_wn", "local-b"), ("lrms_wn", "local-b")]

        # the overlay's secrets (every line of the CA's, the server's and a client's key): on the nodes, nowhere
        # in $INDIGO_HOME (project, journal, run artifacts), the checkout, or the controller's ~/.ansible
        pem = "sed '/-----/d' /etc/openvpn/indigo-pki/ca.key /etc/openvpn/indigo-pki/server.key"
        secrets = on("lrms_server", pem).split() + on("lrms_wn", "sed '/-----/d' /etc/openvpn/client/indigo/client.key").split()
        assert len(secrets) >= 6 and all(len(s) > 20 for s in secrets), secrets
        scanned = scan_for(secrets, [tmp_path / "home", Path.home() / ".ansible"] + checkout_files())
        assert scanned > 100  # the project, the journal and the artifacts were really read

        if os.environ.get("INDIGO_HYBRID_FIGURES"):  # opt-in (adds ~1 min): iperf3 and ping, bounded, local addresses
            timings.update(figures(front_end, [n.address for n in on_b]))
    finally:
        proc, timings["undeploy"] = indigo("undeploy", DEPLOYMENT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert len(names) == 3
    for site in (site_a, site_b):
        assert site.nodes(indigo_deployment=DEPLOYMENT) == []
        assert leftovers(site, names) == {}
    relays = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "localsite.relay %s 1194 udp" % site_a.cfg.bridge_ip not in relays
    print("timings (s): " + ", ".join("%s %.1f" % kv for kv in timings.items()))
