"""Plays of the compiled project: provisioning, per-level configuration, outputs, teardown."""

from __future__ import annotations

import re
from typing import Any, Optional

from tosca2ansible.compiler import datarules, elastic, modargs, placement, support, typemap
from tosca2ansible.compiler.artifacts import ProjectFile
from tosca2ansible.compiler.model import MISSING, Node, Requirement, Topology
from tosca2ansible.compiler.plan import RELATIONSHIP_PHASES, Plan
from tosca2ansible.compiler.render import Expr, Renderer, Unsafe, literal, node_dir
from tosca2ansible.errors import Location, UnsupportedError, UserInputError

OPERATION_ORDER = ("create", "configure", "start")
# Relationship operations around the source's own steps (TOSCA's workflow; the target is started already,
# it sits on a lower level): phase -> (operation, runs on the source?) in order.
GALAXY_ROLE = "tosca.artifacts.AnsibleGalaxy.role"
ASYNC_SECONDS = 3600
LOCALHOST = "localhost"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def classify(topology: Topology, plan: Plan, node: Node) -> tuple:
    """(kind, mapping) of a node: compute | roles | module | folded | operation; or raise unsupported."""
    if plan.compute_of.get(node.name) == node.name:
        return "compute", None
    mapping = typemap.mapping_for(node.chain)
    if mapping is not None and mapping.kind == "runtime":
        return ("roles", mapping) if plan.compute_of.get(node.name) else ("folded", mapping)
    if mapping is not None and mapping.kind == "roles" and not plan.compute_of.get(node.name):
        raise UserInputError("%s (%s) is not hosted on any Compute node (add a host requirement)"
                             % (node.name, node.type), Location(topology.file, node.line, node.name, "requirements"))
    if mapping is not None:
        return mapping.kind, mapping
    if any(op in node.operations.get("Standard", {}) for op in OPERATION_ORDER):
        if not plan.compute_of.get(node.name):
            raise UnsupportedError("not supported yet: %s (%s) has operations but no hosting Compute node"
                                   % (node.name, node.type), Location(topology.file, node.line, node.name))
        return "operation", None
    return support.nothing_to_run(topology, node)


# INDIGO's tosca.datatypes.indigo.User fields -> the os_users role's user fields
_USER_FIELDS = {"os_user_name": "name", "os_user_guid": "uid", "os_user_add_to_sudoers": "sudo"}


def _role_users(users: Any) -> Any:
    if not isinstance(users, list):
        return users
    converted = []
    for user in users:
        if not isinstance(user, dict):
            converted.append(user)
            continue
        entry = {_USER_FIELDS[k]: v for k, v in user.items() if k in _USER_FIELDS}
        if user.get("os_user_ssh_public_key") is not None:
            entry["ssh_keys"] = [user["os_user_ssh_public_key"]]
        if "state" in user:
            entry["state"] = user["state"]
        converted.append(entry)
    return converted


class Emitter:
    def __init__(self, topology: Topology, plan: Plan, sites: Optional[dict] = None,
                 sla_sites: Optional[dict] = None):
        self.topology = topology
        self.plan = plan
        # {compute: site}: the template's placement policies, then the caller's (--site NODE=SITE); SLA ids
        # resolved through the catalogue's {SLA id: site}
        self.placement = placement.node_sites(topology, plan, sites, sla_sites)
        self.render = Renderer(topology, plan)
        self._networks = None
        self._instance_args: dict = {}
        self.kinds = {name: classify(topology, plan, node) for name, node in sorted(topology.nodes.items())}
        self.pool = elastic.find_pool(topology, plan)

    # -- groups --------------------------------------------------------------------------------
    def group_of_type(self, node_type: str) -> Any:
        for name in sorted(self.topology.nodes):
            node = self.topology.nodes[name]
            if node_type in node.chain and self.plan.compute_of.get(name):
                return self.plan.compute_of[name]
        return None

    def _step_vars(self, step: typemap.RoleStep, node: Node) -> dict:
        role_short = step.role.rsplit(".", 1)[-1]
        result = {}
        for key, value in step.vars:
            if isinstance(value, typemap.GroupOf):
                value = self.group_of_type(value.node_type)
                if value is None:
                    continue  # no such node in this topology: the role's default applies
            elif isinstance(value, typemap.EndpointOf):
                compute = self.group_of_type(value.node_type)
                if compute is None:
                    continue
                value = Expr(self._endpoint_expr(compute))
            elif isinstance(value, tuple):
                value = list(value)
            result[key] = value
        result.update(elastic.role_vars(self.pool, step.role, node.name))
        result["%s_tosca_node" % role_short] = node.name
        result["%s_tosca_properties" % role_short] = self.render.value(node.properties, node.name, on_host=True)
        return result

    @staticmethod
    def _endpoint_expr(compute: str) -> str:
        """From the provisioning result of `compute` (registered by provision_play, below)."""
        first = "(hostvars['localhost'][%s]['instances'] | first)" % literal("indigo_done_%s" % slug(compute))
        return ("{{ %s['extra']['public_endpoint'] | default(%s['public_ips'] | first, true) "
                "| default(%s['address'], true) }}" % (first, first, first))

    # -- provisioning --------------------------------------------------------------------------
    def instance_args(self, compute: str) -> dict:
        if compute not in self._instance_args:
            self._instance_args[compute] = elastic.worker_instance_args(self.pool, compute,
                                                                        self._build_instance_args(compute))
        return dict(self._instance_args[compute])

    def _build_instance_args(self, compute: str) -> dict:
        node = self.topology.nodes[compute]
        caps = node.capabilities
        host, os_cap = caps.get("host", {}), caps.get("os", {})
        endpoint, scalable = caps.get("endpoint", {}), caps.get("scalable", {})
        count = scalable.get("count")
        if count is None:
            count = scalable.get("default_instances", 1)
        args: dict = {
            "deployment": Expr("{{ indigo_deployment_id }}"),
            "node": compute,
            "count": count if count is not None else 1,
            "state": Expr("present"),
            "site": Expr(self.site_expr(compute)),
            "catalogue": Expr("{{ indigo_catalogue | default(omit) }}"),
            "image": os_cap.get("image"),
            "flavor": host.get("instance_type"),
            "num_cpus": host.get("num_cpus"),
            "mem_size": host.get("mem_size"),
            "disk_size": host.get("disk_size"),
            "gpus": host.get("num_gpus"),
            "os_distribution": os_cap.get("distribution"),
            "os_version": os_cap.get("version"),
            "public_ip": endpoint.get("network_name") == "PUBLIC" if "network_name" in endpoint else None,
            "ports": self._ports(endpoint.get("ports")),
            "network": self._network(compute),
            "volumes": self._volumes(compute),
            "ssh_public_key": Expr("{{ indigo_ssh_public_key | default(omit) }}"),
            "wait": True,
        }
        return {k: self.render.value(v, compute) for k, v in args.items() if v not in (None, [], {})}

    def site_expr(self, compute: str) -> str:
        """A placed Compute goes to its site (indigo_sites, given at launch, wins); others to indigo_site."""
        if compute not in self.placement:
            return "{{ indigo_site | default('local') }}"
        return "{{ (indigo_sites | default({}))[%s] | default(indigo_placement[%s]) }}" % (literal(compute), literal(compute))

    def all_sites_expr(self) -> str:
        burst = " + (indigo_elastic.sites | map('first') | list)" if self.pool and self.pool.sites else ""
        if not self.placement and not burst:
            return "{{ indigo_site | default('local') }}"
        placed = " + (indigo_placement.values() | list)" if self.placement else ""
        return ("{{ ([indigo_site | default('local')]%s"
                " + ((indigo_sites | default({})).values() | list)%s) | unique }}" % (placed, burst))

    @staticmethod
    def _ports(ports: Any) -> list:
        result = []
        if isinstance(ports, dict):
            for name in sorted(ports):
                spec = ports[name] if isinstance(ports[name], dict) else {}
                entry = {"port": spec.get("source"), "protocol": spec.get("protocol", "tcp"),
                         "remote_cidr": spec.get("remote_cidr", "0.0.0.0/0")}
                result.append({k: v for k, v in entry.items() if v is not None})
        return result

    def _network(self, compute: str) -> Any:
        if self._networks is None:
            # compute -> network name, from the Ports binding a Compute to a Network (first Port wins)
            self._networks = {}
            for name in sorted(self.topology.nodes):
                node = self.topology.nodes[name]
                if "tosca.nodes.network.Port" not in node.chain:
                    continue
                targets = {r.name: r.target for r in node.requirements}
                if targets.get("link") in self.topology.nodes and targets.get("binding"):
                    network = self.topology.nodes[targets["link"]]
                    self._networks.setdefault(targets["binding"],
                                              network.properties.get("network_name") or network.name)
        return self._networks.get(compute)

    def _volumes(self, compute: str) -> list:
        volumes = []
        for storage_name, req in self.plan.attachments.get(compute, []):
            storage = self.topology.nodes[storage_name]
            entry = {"name": storage_name, "size": storage.properties.get("size"),
                     "device": req.properties.get("device"), "location": req.properties.get("location"),
                     "type": storage.properties.get("type")}
            volumes.append({k: v for k, v in entry.items() if v is not None})
        return volumes

    def provision_play(self) -> dict:
        tasks = []
        missing = [d.var_name for d in self.topology.inputs.values()
                   if (d.required and d.value is MISSING) or (d.secret and d.value is not MISSING)]
        if missing:
            # Compiled with --defer-inputs: the values must come as extra vars (AWX survey, -e).
            tasks.append({"name": "Check that the required inputs were given",
                          "ansible.builtin.assert": {"that": [Expr("%s is defined" % v) for v in missing],
                                                     "fail_msg": "required inputs missing: %s" % ", ".join(missing),
                                                     "quiet": True}})
        for compute in self.plan.computes:
            # Launching the job changes nothing by itself; the wait below reports what the module did,
            # so a converged re-run counts changed=0.
            tasks.append({"name": "Provision %s" % compute, "indigo.paas.instance": self.instance_args(compute),
                          "async": ASYNC_SECONDS, "poll": 0, "register": "indigo_job_%s" % slug(compute),
                          "changed_when": False})
        tasks.extend(datarules.launch_tasks(self))  # the data the nodes read, moved while they boot
        for compute in self.plan.computes:
            tasks.append({"name": "Wait for %s" % compute,
                          "ansible.builtin.async_status": {"jid": Expr("{{ indigo_job_%s.ansible_job_id }}" % slug(compute))},
                          "register": "indigo_done_%s" % slug(compute),
                          "until": Expr("indigo_done_%s.finished" % slug(compute)),
                          "retries": ASYNC_SECONDS // 5, "delay": 5})
        tasks.extend(datarules.wait_tasks(self))  # no node configures before its data is at its site
        tasks.append({"name": "Refresh the deployment inventory", "ansible.builtin.meta": "refresh_inventory"})
        return {"name": "Provision the Compute nodes", "hosts": LOCALHOST, "connection": "local",
                "gather_facts": False, "tasks": tasks}

    # -- configuration -------------------------------------------------------------------------
    def _groups(self, names) -> list:
        """The Compute groups a play configuring ``names`` runs on, as the planner computed them."""
        return sorted({group for name in names for group in self.plan.runs_on.get(name, ())})

    @staticmethod
    def _on(compute: str) -> Expr:
        """The condition limiting a task to one Compute group."""
        return Expr("inventory_hostname in groups[%s]" % literal(compute))

    @staticmethod
    def _playbook_ref(implementation: Any) -> Any:
        if isinstance(implementation, ProjectFile):  # the project's copy, wherever the project is run from
            return Expr("{{ playbook_dir ~ %s }}" % literal("/" + implementation.path))
        return Unsafe(str(implementation))

    def _operation_task(self, title: str, work_name: str, node: Node, operation: dict, inputs: Any) -> dict:
        """The operation role running one INDIGO-era operation playbook on `node`'s Compute."""
        galaxy = sorted(str(a.get("file")) for a in node.artifacts.values()
                        if isinstance(a, dict) and a.get("type") == GALAXY_ROLE and isinstance(a.get("file"), str))
        return {"name": title, "ansible.builtin.include_role": {"name": typemap.OPERATION_ROLE},
                "vars": {"tosca_operation_node": node.name, "tosca_operation_name": work_name,
                         "tosca_operation_playbook": self._playbook_ref(operation["implementation"]),
                         "tosca_operation_galaxy_roles": [Unsafe(g) for g in galaxy],
                         "tosca_operation_inputs": inputs},
                "when": [self._on(self.plan.compute_of[node.name])]}

    def _artifact_copy_tasks(self, node: Node) -> list:
        """The node's file artifacts, put on its Compute where get_artifact on the node says they are."""
        files = sorted({a["file"] for a in node.artifacts.values()
                        if isinstance(a, dict) and isinstance(a.get("file"), ProjectFile)}, key=lambda f: f.path)
        if not files:
            return []
        # dest ending in "/": copy creates the directories
        return [{"name": "Copy the artifacts of %s" % node.name,
                 "ansible.builtin.copy": {"src": Expr("{{ playbook_dir }}/{{ item.src }}"),
                                          "dest": Expr("{{ %s }}/{{ item.dir }}" % node_dir()), "mode": "0700"},
                 "loop": [{"src": Unsafe(f.path), "dir": Unsafe(f.in_dir.rsplit("/", 1)[0] + "/" if "/" in f.in_dir else "")}
                          for f in files],
                 "when": [self._on(self.plan.compute_of[node.name])]}]

    def _relationship_tasks(self, node: Node, phase: str) -> list:
        """Configure operations of `node`'s requirements for one phase, each on the Compute of its side."""
        tasks = []
        for req in node.requirements:
            for op_name, on_source in RELATIONSHIP_PHASES[phase]:
                operation = req.operations.get(op_name)
                if not operation:
                    continue
                side = node if on_source else self.topology.nodes[req.target]
                self._check_relationship_side(node, req, op_name, side)
                inputs = self.render.value(operation.get("inputs") or {}, side.name, True)
                # The work name is a directory on the node: only [a-z0-9_] of the requirement's name
                tasks.append(self._operation_task("Run %s %s %s" % (node.name, req.name, op_name),
                                                  slug("%s_%s_%s" % (node.name, req.name, op_name)), side, operation,
                                                  inputs))
        return tasks

    def _check_relationship_side(self, node: Node, req: Requirement, op_name: str, side: Node) -> None:
        if not self.plan.compute_of.get(side.name) or (side is node and self.kinds[node.name][0] not in
                                                       ("compute", "roles", "operation")):
            raise UnsupportedError(
                "not supported yet: relationship operation %s needs %s (%s) configured on a Compute node"
                % (op_name, side.name, side.type),
                Location(self.topology.file, req.line, node.name, "requirements.%s.relationship.interfaces.%s"
                         % (req.name, op_name)))

    def _node_tasks(self, node: Node) -> list:
        kind, mapping = self.kinds[node.name]
        own = {op: [] for op in OPERATION_ORDER}
        if kind == "roles":
            for step in mapping.roles:
                task = {"name": "Apply %s to %s" % (step.role, node.name),
                        "ansible.builtin.include_role": {"name": step.role},
                        "vars": self._step_vars(step, node), "when": [self._on(self.plan.compute_of[node.name])]}
                if step.when_property:
                    task["when"].append(Expr("%s_tosca_properties[%s] | default(true) | bool"
                                             % (step.role.rsplit(".", 1)[-1], literal(step.when_property))))
                own["configure"].append(task)
        elif kind == "operation":
            for op_name in OPERATION_ORDER:
                operation = node.operations.get("Standard", {}).get(op_name)
                if operation and operation.get("implementation"):
                    inputs = self.render.value(operation.get("inputs") or {}, node.name, True)
                    own[op_name].append(self._operation_task("Run %s %s" % (node.name, op_name), op_name, node,
                                                             operation, inputs))
        return (self._artifact_copy_tasks(node) + own["create"] + self._relationship_tasks(node, "pre")
                + own["configure"] + self._relationship_tasks(node, "post") + own["start"]
                + self._relationship_tasks(node, "add"))

    def compute_relationships_play(self) -> list:
        """Relationship operations of Compute nodes (e.g. INDIGO's storage mounts): once every Compute is up."""
        tasks = []
        for compute in self.plan.computes:
            node = self.topology.nodes[compute]
            for phase in ("pre", "post", "add"):
                tasks.extend(self._relationship_tasks(node, phase))
        if not tasks:
            return []
        return [{"name": "Configure the relationships of the Compute nodes",
                 "hosts": ":".join(self._groups(self.plan.computes)),
                 "become": True, "gather_facts": False, "tasks": tasks}]

    def _module_task(self, node: Node, mapping, state: str = "present") -> dict:
        host = self.plan.host_of.get(node.name)
        host_caps = self.topology.nodes[host].capabilities.get("host", {}) if host in self.topology.nodes else {}
        args = modargs.module_args(mapping.module, node, host_caps, state)
        verb = "Deploy" if state == "present" else "Remove"
        task = {"name": "%s %s" % (verb, node.name), mapping.module: self.render.value(args, node.name)}
        if state == "present":
            task["register"] = "indigo_result_%s" % slug(node.name)
        return task

    def level_plays(self) -> list:
        plays = []
        os_users = [c for c in self.plan.computes if self.topology.nodes[c].properties.get("os_users")]
        if os_users:
            tasks = [{"name": "Create the users of %s" % c, "ansible.builtin.include_role": {"name": typemap.OS_USERS_ROLE},
                      "vars": {"os_users_list": self.render.value(
                          _role_users(self.topology.nodes[c].properties["os_users"]), c, True)},
                      "when": [self._on(c)]} for c in os_users]
            plays.append({"name": "Create operating system users", "hosts": ":".join(os_users), "become": True,
                          "gather_facts": False, "tasks": tasks})
        for index, names in enumerate(self.plan.levels, start=1):
            host_tasks, local_tasks = [], []
            for name in names:
                node = self.topology.nodes[name]
                kind, mapping = self.kinds[name]
                if kind not in ("roles", "operation"):
                    for req in node.requirements:  # nothing runs on these nodes' side: say so
                        for op_name in sorted(req.operations):
                            self._check_relationship_side(node, req, op_name, node)
                if kind == "module":
                    local_tasks.append(self._module_task(node, mapping))
                    # The module's result holds the node's runtime attributes (get_attribute reads them).
                    local_tasks.append({
                        "name": "Record the attributes of %s" % name,
                        "ansible.builtin.set_fact": {"indigo_attributes": Expr(
                            "{{ indigo_attributes | default({}) | combine({%s: indigo_result_%s}) }}"
                            % (literal(name), slug(name)))}})
                elif kind in ("roles", "operation"):
                    host_tasks.extend(self._node_tasks(node))
            if host_tasks:
                configured = sorted(n for n in names if self.kinds[n][0] in ("roles", "operation"))
                plays.append({"name": "Configure level %d: %s" % (index, ", ".join(configured)),
                              "hosts": ":".join(self._groups(configured)), "become": True, "gather_facts": False,
                              "tasks": host_tasks})
            if local_tasks:
                plays.append({"name": "Deploy level %d services" % index, "hosts": LOCALHOST, "connection": "local",
                              "gather_facts": False, "tasks": local_tasks})
        return plays

    def facts_play(self) -> dict:
        return {"name": "Gather facts on every deployment node", "hosts": "indigo_deployment", "gather_facts": False,
                "tasks": [{"name": "Gather facts", "ansible.builtin.setup": {}}]}

    def outputs_play(self) -> dict:
        outputs = {name: self.render.value(value) for name, value in sorted(self.topology.outputs.items())}
        return {"name": "Write the TOSCA outputs", "hosts": LOCALHOST, "connection": "local", "gather_facts": False,
                "vars": {"indigo_outputs": outputs},
                "tasks": [{"name": "Write outputs.json",
                           "ansible.builtin.copy": {
                               "content": Expr("{{ indigo_outputs | to_nice_json }}\n"),
                               "dest": Expr("{{ indigo_outputs_file | default(playbook_dir ~ '/outputs.json') }}"),
                               "mode": "0600"}}]}

    def deploy(self) -> list:
        return ([self.provision_play(), self.facts_play()] + self.compute_relationships_play() + self.level_plays()
                + [self.outputs_play()])

    def undeploy(self) -> list:
        tasks = []
        for name in sorted(self.topology.nodes, reverse=True):
            kind, mapping = self.kinds[name]
            if kind == "module":
                tasks.append(self._module_task(self.topology.nodes[name], mapping, "absent"))
        tasks.extend(datarules.release_tasks(self))
        teardown = {"name": "Delete every resource of the deployment", "indigo.paas.instance": {
            "deployment": Expr("{{ indigo_deployment_id }}"), "state": "absent",
            "site": Expr("{{ indigo_site | default('local') }}"), "catalogue": Expr("{{ indigo_catalogue | default(omit) }}")}}
        if self.placement or (self.pool and self.pool.sites):  # the deployment spans several sites: each
            teardown["name"] = "Delete every resource of the deployment on each of its sites"
            teardown["indigo.paas.instance"]["site"] = Expr("{{ item }}")
            teardown["loop"] = Expr(self.all_sites_expr())
        tasks.append(teardown)
        return [{"name": "Remove the deployment", "hosts": LOCALHOST, "connection": "local", "gather_facts": False,
                 "tasks": tasks}]

    def elastic_playbook(self) -> Optional[list]:
        """elastic.yml of an elastic pool: its worker tasks of deploy.yml, run only on new workers."""
        if self.pool is None:
            return None
        on_worker = self._on(self.pool.worker_compute)
        level_tasks = [task for play in self.level_plays() if play.get("become") for task in play["tasks"]]
        tasks = [task for task in level_tasks if task.get("when", [None])[0] == on_worker]
        join = elastic.overlay_join(tasks, level_tasks, self._on)
        lookup = None
        if join:
            args = self.instance_args(join["compute"])
            lookup = {"register": "indigo_done_%s" % slug(join["compute"]),
                      "args": {k: args[k] for k in ("deployment", "node", "site", "catalogue") if k in args}}
        return elastic.scale_playbook(self.pool, self.instance_args(self.pool.worker_compute), tasks, join, lookup)

    def modules_used(self) -> list:
        rules = {datarules.MODULE} if datarules.dataset_rules(self) else set()
        return sorted({m.module for kind, m in self.kinds.values() if kind == "module"} | {"indigo.paas.instance"} | rules)

