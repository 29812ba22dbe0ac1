"""ElasticCluster -> the framework's own elasticity (docs/elastic.md).

An ``tosca.nodes.indigo.ElasticCluster`` names the LRMS front-end (``lrms``) and the worker node template
(``wn``); the worker's ``wn`` capability bounds the pool (``min_instances``, ``max_instances``). The compiled
project then holds, instead of INDIGO's EC3/CLUES playbook:
- ``group_vars/all/elastic.yml``: the pool as data (``indigo_elastic``), read by ``indigo elastic``;
- the worker Compute provisioned by fixed slot indexes (``min_instances`` at deploy, the rest on demand);
- the LRMS roles configured for it (Slurm: every slot a ``State=CLOUD`` node, power saving on);
- ``elastic.yml``: the scale path, which creates or removes given slots and configures only new workers.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Optional

from tosca2ansible.compiler.model import MISSING, Topology
from tosca2ansible.compiler.plan import Plan
from tosca2ansible.compiler.render import Expr
from tosca2ansible.compiler.values import Input
from tosca2ansible.errors import Location, UnsupportedError, UserInputError

ELASTIC_TYPE = "tosca.nodes.indigo.ElasticCluster"
LRMS_KINDS = (("SlurmGalaxy", "slurm"), ("Slurm", "slurm"), ("HTCondor", "htcondor"), ("Mesos", "mesos"),
              ("Kubernetes", "kubernetes"), ("Torque", "torque"))
# Slurm asks for nodes by name and tells the state through scontrol; these programs only leave a trace.
POWER_PROGRAMS = {"slurm_resume_program": "/usr/local/sbin/indigo-elastic-resume",
                  "slurm_suspend_program": "/usr/local/sbin/indigo-elastic-suspend",
                  "slurm_resume_fail_program": "/usr/local/sbin/indigo-elastic-resume-fail"}
DEFAULTS = {"idle_time": 300, "boot_timeout": 600, "max_booting": 0}
# What a worker's role installs (the roles' vars/Debian.yml; tests/unit/test_elastic_compile.py keeps them
# equal): the workers ask the site for an image that already holds them (``cached_packages`` of
# indigo.paas.instance), so a new worker only configures and joins. Sites that keep no cache ignore it.
WORKER_PACKAGES = {"slurm": ["munge", "slurmd", "slurm-client"], "htcondor": ["htcondor"]}


@dataclasses.dataclass(frozen=True)
class Pool:
    node: str
    lrms: str
    front_end: str
    front_end_compute: str
    worker: str
    worker_compute: str
    min_instances: int
    max_instances: int
    idle_time: int
    boot_timeout: int
    max_booting: int
    node_cpus: int
    node_mem_mb: int
    # hybrid bursting: ((site, most workers there), ...) in order (ElasticCluster burst_sites); empty: one site
    sites: tuple = ()

    @property
    def names(self) -> list:
        return slot_names(self.worker_compute, self.max_instances)

    def config(self) -> dict:
        data = dataclasses.asdict(self)
        data["nodes"] = self.names
        if self.sites:
            data["sites"] = [[site, maximum] for site, maximum in self.sites]
        else:  # single-site pools: the data as before
            del data["sites"]
        return data


def slot_names(worker_compute: str, count: int) -> list:
    """The fixed LRMS node name of each slot (host-name safe: TOSCA names may hold '_')."""
    prefix = re.sub(r"[^a-z0-9-]", "-", worker_compute.lower()).strip("-") or "wn"
    return ["%s-%d" % (prefix, index) for index in range(count)]


def _requirement(node, name):
    return next((r for r in node.requirements if r.name == name), None)


def _int(topology: Topology, value: Any, where: Location, minimum: int) -> int:
    """A compile-time integer (a literal or an input with a value or default)."""
    if isinstance(value, Input):
        declared = topology.inputs.get(value.name)
        resolved = MISSING if declared is None else declared.value
        if resolved is MISSING and declared is not None:
            resolved = declared.default
        if resolved is MISSING:
            raise UserInputError("must be known when compiling (input %s has no value or default)" % value.name, where)
        value = resolved
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserInputError("must be an integer, got %r" % (value,), where)
    if value < minimum:
        raise UserInputError("must be %d or more, got %d" % (minimum, value), where)
    return value


def _static(topology: Topology, value: Any) -> Any:
    """A literal, or an input's value or default; None when only known at run time."""
    if isinstance(value, Input):
        declared = topology.inputs.get(value.name)
        value = MISSING if declared is None else declared.value
        if value is MISSING and declared is not None:
            value = declared.default
        return None if value is MISSING else value
    return value


def _size_mb(value: Any) -> int:
    match = re.match(r"^\s*([0-9.]+)\s*([KMGT]i?B)?\s*$", str(value or ""), re.I)
    if not match:
        return 1024
    factor = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}[(match.group(2) or "MB")[0].upper()]
    return max(1, int(float(match.group(1)) * factor))


def _burst_sites(topology: Topology, value: Any, where: Location) -> tuple:
    """ElasticCluster burst_sites: [{site, max_instances}, ...] -> ((site, max), ...), in order."""
    value = _static(topology, value)
    if value in (None, MISSING, []):
        return ()
    if not isinstance(value, list):
        raise UserInputError("must be a list of {site, max_instances}, got %r" % (value,), where)
    sites = []
    for number, entry in enumerate(value):
        here = dataclasses.replace(where, field="%s[%d]" % (where.field, number))
        entry = entry if isinstance(entry, dict) else {}
        site = _static(topology, entry.get("site"))
        if not isinstance(site, str) or not site.strip():
            raise UserInputError("needs a site (the name of a site of the catalogue)", here)
        if site in [s for s, _ in sites]:
            raise UserInputError("site %s is listed twice" % site, here)
        sites.append((site.strip(), _int(topology, entry.get("max_instances"),
                                         dataclasses.replace(here, field=here.field + ".max_instances"), 0)))
    return tuple(sites)


def find_pool(topology: Topology, plan: Plan) -> Optional[Pool]:
    elastic = [n for n in sorted(topology.nodes) if ELASTIC_TYPE in topology.nodes[n].chain]
    if not elastic:
        return None
    node = topology.nodes[elastic[0]]
    where = Location(topology.file, node.line, node.name)
    if len(elastic) > 1:
        raise UnsupportedError("not supported yet: more than one ElasticCluster (%s)" % ", ".join(elastic), where)
    lrms_req, wn_req = _requirement(node, "lrms"), _requirement(node, "wn")
    for name, req in (("lrms", lrms_req), ("wn", wn_req)):
        if req is None or req.target not in topology.nodes:
            raise UserInputError("an ElasticCluster needs its %s requirement" % name,
                                 dataclasses.replace(where, field="requirements.%s" % name))
    front_end, worker = topology.nodes[lrms_req.target], topology.nodes[wn_req.target]
    lrms = next((kind for suffix, kind in LRMS_KINDS
                 if any(t.endswith("LRMS.FrontEnd." + suffix) for t in front_end.chain)), None)
    if lrms is None:
        raise UnsupportedError("not supported yet: elastic %s (%s)" % (front_end.name, front_end.type),
                               Location(topology.file, front_end.line, front_end.name, "type"))
    fe_compute, wn_compute = plan.compute_of.get(front_end.name), plan.compute_of.get(worker.name)
    if not fe_compute or not wn_compute or fe_compute == wn_compute:
        raise UserInputError("the front-end and the workers of an ElasticCluster need Compute nodes of their own",
                             dataclasses.replace(where, field="requirements"))
    wn_cap = worker.capabilities.get("wn", {})
    wn_where = Location(topology.file, worker.line, worker.name, "capabilities.wn.properties.max_instances")
    max_instances = _int(topology, wn_cap.get("max_instances", 1), wn_where, 1)
    min_instances = _int(topology, wn_cap.get("min_instances", 0),
                         dataclasses.replace(wn_where, field="capabilities.wn.properties.min_instances"), 0)
    if min_instances > max_instances:
        raise UserInputError("min_instances %d is above max_instances %d" % (min_instances, max_instances),
                             dataclasses.replace(wn_where, field="capabilities.wn.properties.min_instances"))
    knobs = {}
    for key, default in DEFAULTS.items():
        knobs[key] = _int(topology, node.properties.get(key, default),
                          dataclasses.replace(where, field="properties.%s" % key), 1 if key == "boot_timeout" else 0)
    host = topology.nodes[wn_compute].capabilities.get("host", {})
    cpus = _static(topology, host.get("num_cpus"))
    cpus = cpus if isinstance(cpus, int) and not isinstance(cpus, bool) and cpus > 0 else 1
    return Pool(node=node.name, lrms=lrms, front_end=front_end.name, front_end_compute=fe_compute,
                worker=worker.name, worker_compute=wn_compute, min_instances=min_instances,
                max_instances=max_instances, idle_time=knobs["idle_time"], boot_timeout=knobs["boot_timeout"],
                max_booting=knobs["max_booting"] or max_instances, node_cpus=cpus,
                node_mem_mb=_size_mb(_static(topology, host.get("mem_size"))),
                sites=_burst_sites(topology, node.properties.get("burst_sites"),
                                   dataclasses.replace(where, field="properties.burst_sites")))


def role_vars(pool: Optional[Pool], role: str, node: str) -> dict:
    """Variables an LRMS role gets on the pool's front-end and workers."""
    if pool is None or node not in (pool.front_end, pool.worker):
        return {}
    if role == "indigo.paas.slurm":
        result = {
            "slurm_cloud_nodes": [{"name": name, "cpus": pool.node_cpus, "real_memory": pool.node_mem_mb}
                                  for name in pool.names],
            **POWER_PROGRAMS,
            "slurm_suspend_time": pool.idle_time, "slurm_resume_timeout": pool.boot_timeout,
            # Slurm resumes every node a job needs at once; the controller bounds how many boot together
            "slurm_resume_rate": 0,
            # a job requeued from a failed worker starts again after 61 s rather than 121 s
            "slurm_cred_expire": 60,
        }
        if node == pool.worker:
            result["slurm_node_name"] = Expr("{{ indigo_elastic.nodes[indigo_index | int] }}")
        return result
    if role == "indigo.paas.htcondor":
        if node == pool.worker:
            return {"htcondor_elastic_slot": Expr("{{ indigo_elastic.nodes[indigo_index | int] }}")}
        return {"htcondor_negotiator_interval": 10}
    return {}


def worker_instance_args(pool: Optional[Pool], compute: str, args: dict) -> dict:
    """The deploy.yml provisioning of the pool's workers: the min_instances first slots, others kept."""
    if pool is None or compute != pool.worker_compute:
        return args
    args = {k: v for k, v in args.items() if k != "count"}
    args["indexes"] = list(range(pool.min_instances))
    if pool.lrms in WORKER_PACKAGES and "image" not in args:
        args["cached_packages"] = list(WORKER_PACKAGES[pool.lrms])
    return args


OVERLAY_ROLE = "indigo.paas.overlay"


def _overlay_vars(task: dict) -> Optional[dict]:
    include = task.get("ansible.builtin.include_role") or {}
    return task.get("vars") or {} if include.get("name") == OVERLAY_ROLE else None


def overlay_join(worker_tasks: list, level_tasks: list, on) -> Optional[dict]:
    """When the pool's workers are overlay clients (hybrid): what elastic.yml adds so a new worker joins.

    The client step dials the central point's endpoint (registered by deploy.yml's provisioning as
    ``indigo_done_<compute>``: elastic.yml looks the instance up instead) and its certificate and fixed
    address come from the central point's step, run again on the central point for the new hosts."""
    clients = [v for v in map(_overlay_vars, worker_tasks) if v and v.get("overlay_node_role") != "central_point"]
    if not clients:
        return None
    group = str(clients[0].get("overlay_central_point_group"))
    central = [t for t in level_tasks if (_overlay_vars(t) or {}).get("overlay_node_role") == "central_point"
               and t.get("when", [None])[0] == on(group)]
    return {"compute": group, "central_point_tasks": central}


def scale_playbook(pool: Pool, worker_args: dict, worker_tasks: list, join: Optional[dict] = None,
                   join_lookup: Optional[dict] = None) -> list:
    """elastic.yml: create (indigo_elastic_up) and remove (indigo_elastic_down) worker slots, then
    configure only the new workers (indigo_elastic_configure), never the rest of the cluster.

    A bursting pool (``pool.sites``) is run once per site, the site given as ``indigo_elastic_site``. With
    ``join`` (overlay_join) the central point's overlay step runs first (``join_lookup``: the instance_info
    arguments of its Compute, registered under the name the client step reads)."""
    base = {k: v for k, v in worker_args.items() if k not in ("count", "indexes", "state")}
    if pool.sites:
        base["site"] = Expr("{{ indigo_elastic_site }}")
    remove = {k: v for k, v in base.items() if k in ("deployment", "node", "site", "catalogue")}
    remove.update(indexes=Expr("{{ indigo_elastic_down }}"), state="absent")
    create = dict(base, indexes=Expr("{{ indigo_elastic_up }}"), state="present")
    provision = {"name": "Power worker slots up and down", "hosts": "localhost", "connection": "local",
                 "gather_facts": False,
                 "vars": {"indigo_elastic_up": [], "indigo_elastic_down": []},
                 "tasks": [
                     {"name": "Remove the released workers of %s" % pool.worker_compute, "indigo.paas.instance": remove,
                      "when": "indigo_elastic_down | length > 0"},
                     {"name": "Create the requested workers of %s" % pool.worker_compute, "indigo.paas.instance": create,
                      "when": "indigo_elastic_up | length > 0"},
                     {"name": "Refresh the deployment inventory", "ansible.builtin.meta": "refresh_inventory"}]}
    plays = [provision]
    if join and join_lookup:
        provision["tasks"].append({"name": "Look up the central point %s" % join["compute"],
                                   "indigo.paas.instance_info": join_lookup["args"],
                                   "register": join_lookup["register"]})
        plays.append({"name": "Let the new workers into the overlay", "hosts": join["compute"], "become": True,
                      "gather_facts": False, "vars": {"indigo_elastic_configure": []},
                      "tasks": [{"name": "Leave the central point as it is when no worker comes",
                                 "ansible.builtin.meta": "end_play", "when": "indigo_elastic_configure | length == 0"},
                                {"name": "Gather minimal facts",
                                 "ansible.builtin.setup": {"gather_subset": ["min", "network"]}}]
                      + join["central_point_tasks"]})
    configure = {"name": "Configure only the new workers", "hosts": pool.worker_compute, "become": True,
                 "gather_facts": False, "vars": {"indigo_elastic_configure": []},
                 "tasks": [
                     {"name": "Leave the workers that were already configured",
                      "ansible.builtin.meta": "end_host",
                      "when": "indigo_index | int not in indigo_elastic_configure | map('int')"},
                     {"name": "Gather minimal facts", "ansible.builtin.setup": {"gather_subset": ["min", "network", "virtual"]}},
                 ] + worker_tasks}
    return plays + [configure]
