"""One reconcile pass of an elastic pool (``indigo elastic reconcile D``), run on the ops host.

State comes from the site (instances found by their tags: the only truth) and the LRMS (read over SSH on
the front-end with the deployment's key); nothing in memory matters, so a killed pass is simply run again.
Changes go through the compiled project's ``elastic.yml`` (``indigo.paas.instance`` on the deployment's
site, each scale-out / scale-in a journaled run with its trigger) and configure only the new workers.
A per-deployment file lock under $INDIGO_HOME keeps two controllers from acting on one pool at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from tosca2ansible.elastic import burst, policy
from tosca2ansible.elastic.sources import SOURCES, NodeView, shell_line
from tosca2ansible.errors import EnvironmentProblem, IndigoError, UserInputError
from tosca2ansible.runtime.state import DeploymentState

MARK = "@@indigo-elastic@@"
SSH_TIMEOUT = 60
SETTLE = 10.0  # at most this long a pass waits for the LRMS to place jobs it has not looked at yet


class LeaseHeld(IndigoError):
    exit_code = 4


def pool_config(state: DeploymentState) -> Dict[str, Any]:
    path = state.project_dir / "group_vars" / "all" / "elastic.yml"
    if not path.is_file():
        raise UserInputError("deployment %s has no elastic pool (its template has no ElasticCluster)" % state.id)
    return (yaml.safe_load(path.read_text()) or {})["indigo_elastic"]


@contextlib.contextmanager
def lease(state: DeploymentState, wait: bool = False):
    """The pool's lock: a second controller for the same deployment waits (or is refused)."""
    path = state.dir / "elastic.lock"
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LeaseHeld("another controller is reconciling %s now (lock %s)" % (state.id, path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, ("%d\n" % os.getpid()).encode())
        yield
    finally:
        os.close(fd)


def _state_file(state: DeploymentState) -> Path:
    return state.dir / "elastic-state.json"


def read_pool_state(state: DeploymentState) -> Dict[str, Any]:
    try:
        return json.loads(_state_file(state).read_text())
    except (OSError, ValueError):
        return {}


def _write_pool_state(state: DeploymentState, data: Dict[str, Any]) -> None:
    path = _state_file(state)
    tmp = path.with_suffix(".tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)


class Site:
    """The deployment's sites (its main site, the placed nodes' and a bursting pool's), their instances and
    an SSH channel to the front-end."""

    def __init__(self, state: DeploymentState, pool_sites=()):
        from tosca2ansible.runtime import deploy
        from tosca2ansible.runtime.placement import all_sites

        self.state = state
        record = state.read_record()
        self.catalogue = record.get("catalogue") or deploy.default_catalogue()
        names = all_sites(record) + [name for name in pool_sites if name not in all_sites(record)]
        self.sites = {name: deploy.resolve_site(name, self.catalogue) for name in names}
        self.site = self.sites[names[0]]
        for one in self.sites.values():
            deploy.check_site_host(one)
        self.providers = {name: deploy.provider_for(one) for name, one in self.sites.items()}
        self.provider = self.providers[names[0]]
        self.known_hosts = deploy.known_hosts_files(state, list(self.sites.values()))

    def instances(self, node: str) -> Dict[int, Any]:
        """{index: instance} of ``node`` on every site of the deployment (the instance says its ``site``)."""
        found = {}
        for provider in self.providers.values():
            for inst in provider.find_instances(self.state.id, node):
                if inst.status != "deleted":
                    found.setdefault(inst.index, inst)
        return found

    def ssh(self, address: str, script: str) -> str:
        """Run ``script`` (our own fixed commands, never template text) as the site's user on ``address``."""
        user = self.site.get("ssh_user") or "root"
        argv = ["ssh", "-i", str(self.state.private_key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
                "-o", "UserKnownHostsFile=%s" % " ".join(str(p) for p in self.known_hosts),
                "%s@%s" % (user, address), script if user == "root" else "sudo -n sh -c %s" % shell_line([script])]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=SSH_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise EnvironmentProblem("front-end %s did not answer within %ds" % (address, SSH_TIMEOUT)) from None
        if done.returncode != 0:
            raise EnvironmentProblem("front-end %s: %s" % (address, (done.stderr or done.stdout).strip()[-400:]))
        return done.stdout


def read_lrms(site: Site, address: str, source) -> Dict[str, str]:
    commands = source.commands()
    script = ("; echo %s; " % MARK).join(shell_line(argv) for argv in commands.values())
    parts = site.ssh(address, script).split(MARK + "\n")
    return dict(zip(commands, parts + [""] * (len(commands) - len(parts))))


def observe_settled(site: Site, address: str, source, names, settle: float = SETTLE, pause: float = 1.0):
    """The LRMS's view once it placed the jobs it has not looked at yet (a burst of jobs submitted together
    is then one scale-out, not one run per scheduler cycle); at most ``settle`` seconds of re-reading."""
    deadline = time.monotonic() + settle
    views, demand = source.observe(read_lrms(site, address, source), names)
    while demand.unplaced and time.monotonic() < deadline:
        time.sleep(pause)
        views, demand = source.observe(read_lrms(site, address, source), names)
    return views, demand


def _slots(config, instances, views, previous, now) -> List[policy.Slot]:
    slots = []
    for index, name in enumerate(config["nodes"]):
        inst = instances.get(index)
        view = views.get(name, NodeView())
        lrms = view.lrms
        if inst is not None and lrms == policy.OFF and not view.released:
            lrms = policy.BOOTING  # an instance the LRMS has not seen yet
        seen = previous.get(name) or {}
        key = "%s/%s" % ("up" if inst is not None else "off", lrms)
        since = seen.get("since", now) if seen.get("key") == key else now
        slots.append(policy.Slot(index=index, name=name, up=inst is not None, lrms=lrms, since=since,
                                 jobs=view.jobs, wanted=view.wanted, released=view.released,
                                 # in error, or stopped (crashed, killed): it will not join
                                 instance_failed=inst is not None and inst.status in ("error", "stopped")))
    return slots


def limits_of(config: Dict[str, Any], source, site_max: Optional[int] = None) -> policy.Limits:
    return policy.Limits(min_nodes=int(config["min_instances"]), max_nodes=int(config["max_instances"]),
                         site_max=site_max, max_booting=int(config["max_booting"]),
                         idle_time=float(config["idle_time"]), boot_timeout=float(config["boot_timeout"]),
                         lrms_decides_idle=source.lrms_decides_idle)


def _scale_run(state, site, action, up, down, trigger, progress, on_site=None):
    from tosca2ansible.runtime.deploy import _journal_status
    from tosca2ansible.runtime.runner import run_playbook

    _journal_status(state, "scaling", note="%s: %s" % (action, trigger))
    result = run_playbook(
        state.project_dir, "elastic.yml", deployment=state.id, action=action, progress=progress,
        extravars={"indigo_site": site.site["name"], "indigo_catalogue": site.catalogue,
                   "indigo_ssh_public_key": state.public_key_file.read_text().strip(),
                   "indigo_ssh_private_key_file": str(state.private_key),
                   "ansible_ssh_private_key_file": str(state.private_key),
                   "indigo_elastic_up": up, "indigo_elastic_down": down, "indigo_elastic_configure": up,
                   "indigo_elastic_trigger": trigger, **({"indigo_elastic_site": on_site} if on_site else {})},
        known_hosts=site.known_hosts, envvars={"INDIGO_SITES": site.catalogue}, catalogue=site.catalogue)
    _journal_status(state, "deployed" if result.ok else "scale-failed",
                    note="%s run %s: %s" % (action, result.run_id, "ok" if result.ok else "; ".join(result.failures[:3])))
    done = {"action": action, "run_id": result.run_id, "ok": result.ok, "trigger": trigger,
            "failures": result.failures[:5]}
    return dict(done, site=on_site) if on_site else done


def _burst(state, site, config, workers, slots, actions, demand, progress, runs):
    """A bursting pool: scale-in on each slot's own site, scale-out site by site (burst.scale_out).
    Returns ({slot: site} of the slots up after the pass, [why slots wait])."""
    index_of = {s.name: s.index for s in slots}
    up_at = {s.name: workers[s.index].site for s in slots if s.up}
    leaving = list(actions.mark_failed) + list(actions.power_down)
    for on_site, names in burst.by_site({n: up_at[n] for n in leaving}).items():
        why = "; ".join("%s %s" % (n, "failed" if n in actions.mark_failed else "idle/released") for n in names)
        runs.append(_scale_run(state, site, "scale-in", [], sorted(index_of[n] for n in names), why, progress, on_site))
    staying = {n: s for n, s in up_at.items() if n not in leaving}

    def run(on_site, names):
        trigger = "%s on %s for jobs %s" % (",".join(names), on_site, ",".join(demand.jobs) or "-")
        runs.append(_scale_run(state, site, "scale-out", sorted(index_of[n] for n in names), [], trigger, progress,
                               on_site))
        return runs[-1]["ok"]

    def still_off(names):
        now_up = site.instances(config["worker_compute"])
        return [n for n in names if index_of[n] not in now_up]

    placed, waits = burst.scale_out(actions.power_up, staying, [tuple(x) for x in config["sites"]], run, still_off)
    return dict(staying, **placed), waits


def reconcile(deployment: str, progress=None, now: Optional[float] = None, wait_lease: bool = False,
              site_max: Optional[int] = None) -> Dict[str, Any]:
    """One pass: read, decide, act. Returns what was seen and done."""
    state = DeploymentState(deployment)
    state.read_record()
    config = pool_config(state)
    source_class = SOURCES.get(config["lrms"])
    if source_class is None:
        raise UserInputError("elastic %s pools have no LRMS source yet (sources: %s)"
                             % (config["lrms"], ", ".join(sorted(SOURCES))))
    source = source_class() if config["lrms"] != "htcondor" else source_class(config.get("node_cpus", 1))
    bursting = [tuple(x) for x in config.get("sites") or []]
    if bursting:  # the pool's ceiling is the sum of its sites' maxima
        site_max = min(site_max or burst.ceiling(bursting), burst.ceiling(bursting))
    with lease(state, wait=wait_lease):
        site = Site(state, [name for name, _ in bursting])
        now = time.time() if now is None else now
        front = site.instances(config["front_end_compute"]).get(0)
        if front is None:
            raise EnvironmentProblem("deployment %s has no front-end instance (%s)" % (deployment, config["front_end_compute"]))
        workers = site.instances(config["worker_compute"])
        views, demand = observe_settled(site, front.address, source, config["nodes"])
        previous = read_pool_state(state).get("slots", {})
        slots = _slots(config, workers, views, previous, now)
        actions = policy.decide(tuple(slots), demand, limits_of(config, source, site_max), now)
        index_of = {s.name: s.index for s in slots}
        runs = []
        lrms_commands = source.before_remove(actions.mark_failed, actions.power_down, slots)
        lrms_commands += source.reset_lost(slots, views)
        if lrms_commands:
            site.ssh(front.address, "; ".join(shell_line(c) for c in lrms_commands))
        down = sorted(index_of[n] for n in actions.power_down + actions.mark_failed)
        where, burst_waits = {}, []
        if bursting:
            where, burst_waits = _burst(state, site, config, workers, slots, actions, demand, progress, runs)
        elif down:
            why = ["%s %s" % (n, "failed" if n in actions.mark_failed else "idle/released") for n in
                   actions.mark_failed + actions.power_down]
            runs.append(_scale_run(state, site, "scale-in", [], down, "; ".join(why), progress))
        up = sorted(index_of[n] for n in actions.power_up)
        if up and not bursting:
            trigger = "%s for jobs %s" % (",".join(actions.power_up), ",".join(demand.jobs) or "-")
            runs.append(_scale_run(state, site, "scale-out", up, [], trigger, progress))
        # a bursting pass powers up only the slots a site took (the others wait)
        powered = [n for n in actions.power_up if not bursting or n in where]
        touched = set(powered) | set(actions.power_down) | set(actions.mark_failed)
        seen = {}
        for slot in slots:
            key = "%s/%s" % ("up" if slot.up else "off", slot.lrms)
            if slot.name in touched:
                key, since = ("up/booting", now) if slot.name in powered else ("off/off", now)
            else:
                since = slot.since
            seen[slot.name] = {"key": key, "since": since, "detail": views.get(slot.name, NodeView()).detail}
            if bursting and slot.name in where:
                seen[slot.name]["site"] = where[slot.name]
        report = {"deployment": deployment, "lrms": config["lrms"], "checked": now, "slots": seen,
                  "pending_jobs": list(demand.jobs), "waits": list(actions.waits) + burst_waits,
                  "actions": {"power_up": powered, "power_down": list(actions.power_down),
                              "mark_failed": list(actions.mark_failed)},
                  "runs": runs, "min_instances": config["min_instances"], "max_instances": config["max_instances"]}
        _write_pool_state(state, report)
        failed = [r for r in runs if not r["ok"]]
        if failed:
            raise EnvironmentProblem("%s of %s failed: %s" % (failed[0]["action"], deployment,
                                                              "; ".join(failed[0]["failures"]) or failed[0]["run_id"]))
        return report


def run_loop(deployment: str, interval: float, passes: Optional[int] = None, progress=None, echo=print) -> None:
    """Reconcile every ``interval`` seconds (holding the lease for each pass only)."""
    done = 0
    while passes is None or done < passes:
        started = time.monotonic()
        try:
            report = reconcile(deployment, progress=progress, wait_lease=True)
            echo(summary_line(report))
        except LeaseHeld as exc:
            echo("skip: %s" % exc)
        except EnvironmentProblem as exc:
            echo("pass failed (next pass retries): %s" % exc)
        done += 1
        if passes is None or done < passes:
            time.sleep(max(0.0, interval - (time.monotonic() - started)))


POOL_STATES = ("powered off", "booting", "idle", "busy", "failed")


def pool_rows(report: Dict[str, Any]) -> List[Dict[str, str]]:
    """Per slot: name and one of POOL_STATES, with the LRMS's own words."""
    rows = []
    for name, seen in sorted(report.get("slots", {}).items(), key=lambda kv: int(kv[0].rsplit("-", 1)[-1])):
        up, lrms = seen["key"].split("/", 1)
        if up == "off" and lrms in (policy.OFF, policy.BOOTING):
            shown = "booting" if lrms == policy.BOOTING else "powered off"
        elif lrms in (policy.BUSY, policy.DRAINING):
            shown = "busy"
        elif lrms == policy.DOWN or name in report.get("actions", {}).get("mark_failed", []):
            shown = "failed"
        elif lrms in (policy.IDLE, policy.DRAINED):
            shown = "idle"
        else:
            shown = "booting" if up == "up" else "powered off"
        rows.append({"name": name, "state": shown, "lrms": seen.get("detail") or "-", "since": seen.get("since")})
    return rows


def summary_line(report: Dict[str, Any]) -> str:
    counts = {s: 0 for s in POOL_STATES}
    for row in pool_rows(report):
        counts[row["state"]] += 1
    acts = report.get("actions", {})
    parts = ["%s %d" % (k, v) for k, v in counts.items()]
    line = "pool %s: %s; pending jobs %d" % (report["deployment"], ", ".join(parts), len(report.get("pending_jobs", [])))
    for verb in ("power_up", "power_down", "mark_failed"):
        if acts.get(verb):
            line += "; %s %s" % (verb.replace("_", " "), ",".join(acts[verb]))
    for wait in report.get("waits", []):
        line += "; " + wait
    return line
