"""The one table mapping TOSCA node types to the collection's roles and modules (docs/CONTRACTS.md).

A node's type chain is walked from the most derived type up; the first entry found decides. Values of
the form `GroupOf(TYPE)` are replaced at emit time by the name of the Compute group that hosts the
first node of TYPE in the topology (the Ansible group named after that Compute node template).
"""

from __future__ import annotations

import dataclasses
from typing import Optional


@dataclasses.dataclass(frozen=True)
class GroupOf:
    """Placeholder: the Compute group hosting the (first) node of this type."""

    node_type: str


@dataclasses.dataclass(frozen=True)
class EndpointOf:
    """Placeholder: the address other sites reach the (first) Compute hosting this type at (what its site
    published for it, else its public address), read from the provisioning result."""

    node_type: str


@dataclasses.dataclass(frozen=True)
class RoleStep:
    role: str
    vars: tuple = ()            # (name, value) pairs; values may be GroupOf
    when_property: str = ""     # run only when this node property is truthy (e.g. marathon on a master)


@dataclasses.dataclass(frozen=True)
class Mapping:
    kind: str                   # roles | module | folded (nothing to run) | runtime | elastic
    roles: tuple = ()
    module: str = ""


SLURM_GROUPS = (("slurm_controller_group", GroupOf("tosca.nodes.indigo.LRMS.FrontEnd.Slurm")),
                ("slurm_worker_group", GroupOf("tosca.nodes.indigo.LRMS.WorkerNode.Slurm")))
HTCONDOR_GROUPS = (("htcondor_central_manager_group", GroupOf("tosca.nodes.indigo.LRMS.FrontEnd.HTCondor")),)
MESOS_MASTER = GroupOf("tosca.nodes.indigo.MesosMaster")
VR_CENTRAL_POINT = "tosca.nodes.indigo.VR.CentralPoint"
OVERLAY_VARS = (("overlay_central_point_group", GroupOf(VR_CENTRAL_POINT)),
                ("overlay_server_endpoint", EndpointOf(VR_CENTRAL_POINT)))

TYPE_MAP = {
    "tosca.nodes.indigo.LRMS.FrontEnd.Slurm": Mapping("roles", (
        RoleStep("indigo.paas.slurm", (("slurm_node_role", "controller"),) + SLURM_GROUPS),)),
    "tosca.nodes.indigo.LRMS.WorkerNode.Slurm": Mapping("roles", (
        RoleStep("indigo.paas.slurm", (("slurm_node_role", "worker"),) + SLURM_GROUPS),)),
    "tosca.nodes.indigo.LRMS.FrontEnd.HTCondor": Mapping("roles", (
        RoleStep("indigo.paas.htcondor", (("htcondor_node_roles", ("central_manager", "submit")),) + HTCONDOR_GROUPS),)),
    "tosca.nodes.indigo.LRMS.WorkerNode.HTCondor": Mapping("roles", (
        RoleStep("indigo.paas.htcondor", (("htcondor_node_roles", ("execute",)),) + HTCONDOR_GROUPS),)),
    "tosca.nodes.indigo.MesosMaster": Mapping("roles", (
        RoleStep("indigo.paas.zookeeper", (("zookeeper_group", MESOS_MASTER),)),
        RoleStep("indigo.paas.mesos", (("mesos_node_role", "master"), ("mesos_master_group", MESOS_MASTER))),
        RoleStep("indigo.paas.marathon", (("marathon_master_group", MESOS_MASTER),), when_property="enable_marathon"),
        RoleStep("indigo.paas.chronos", (("chronos_master_group", MESOS_MASTER),), when_property="enable_chronos"),
    )),
    "tosca.nodes.indigo.MesosSlave": Mapping("roles", (
        RoleStep("indigo.paas.docker"),
        RoleStep("indigo.paas.mesos", (("mesos_node_role", "agent"), ("mesos_master_group", MESOS_MASTER))),
    )),
    "tosca.nodes.indigo.MesosLoadBalancer": Mapping("roles", (
        RoleStep("indigo.paas.marathon_lb", (("marathon_lb_master_group", MESOS_MASTER),)),)),
    # Hosted on a Compute: install Docker there. Hosted on nothing: the resources of the apps on it.
    "tosca.nodes.indigo.Container.Runtime.Docker": Mapping("runtime", (RoleStep("indigo.paas.docker"),)),
    "tosca.nodes.indigo.NFS.Server": Mapping("roles", (
        RoleStep("indigo.paas.nfs", (("nfs_node_role", "server"), ("nfs_server_group", GroupOf("tosca.nodes.indigo.NFS.Server")))),)),
    "tosca.nodes.indigo.NFS.Client": Mapping("roles", (
        RoleStep("indigo.paas.nfs", (("nfs_node_role", "client"), ("nfs_server_group", GroupOf("tosca.nodes.indigo.NFS.Server")))),)),
    "tosca.nodes.indigo.OS.Users": Mapping("roles", (RoleStep("indigo.paas.os_users"),)),
    "tosca.nodes.indigo.DataStaging": Mapping("roles", (RoleStep("indigo.paas.data_staging"),)),
    # Where the files are: read by the broker's data-location plugins before ranking, nothing to run.
    "tosca.nodes.indigo.Dynafed": Mapping("folded"),
    # Replicated to the readers' site by a Rucio rule (compiler/datarules.py), nothing to run on a host.
    "tosca.nodes.indigo.RucioDataset": Mapping("folded"),
    VR_CENTRAL_POINT: Mapping("roles", (
        RoleStep("indigo.paas.overlay", (("overlay_node_role", "central_point"),) + OVERLAY_VARS[:1]),)),
    "tosca.nodes.indigo.VR.Client": Mapping("roles", (
        RoleStep("indigo.paas.overlay", (("overlay_node_role", "client"),) + OVERLAY_VARS),)),
    "tosca.nodes.indigo.VR.VRouter": Mapping("roles", (
        RoleStep("indigo.paas.overlay", (("overlay_node_role", "vrouter"),) + OVERLAY_VARS),)),
    "tosca.nodes.indigo.Container.Application.Docker.Marathon": Mapping("module", module="indigo.paas.marathon_app"),
    "tosca.nodes.indigo.Container.Application.Docker.Chronos": Mapping("module", module="indigo.paas.chronos_job"),
    "tosca.nodes.indigo.OnedataSpace": Mapping("module", module="indigo.paas.onedata_space"),
    "tosca.nodes.indigo.OnedataServiceSpace": Mapping("module", module="indigo.paas.onedata_space"),
    "tosca.nodes.indigo.Kubernetes.HelmChart": Mapping("module", module="indigo.paas.helm_release"),
    # Elasticity is the framework's own (compiler/elastic.py, indigo elastic): no EC3/CLUES playbook runs.
    "tosca.nodes.indigo.ElasticCluster": Mapping("elastic"),
    # Jobs run on the front-end itself (Galaxy's local runner): nothing to install.
    "tosca.nodes.indigo.LRMS.FrontEnd.Local": Mapping("folded"),
    "tosca.nodes.BlockStorage": Mapping("folded"),
    "tosca.nodes.network.Network": Mapping("folded"),
    "tosca.nodes.network.Port": Mapping("folded"),
}
# Any other type with a Standard operation runs the INDIGO-era operation playbook as IM did.
OPERATION_ROLE = "indigo.paas.tosca_operation"
OS_USERS_ROLE = "indigo.paas.os_users"


def mapping_for(chain: tuple) -> Optional[Mapping]:
    for type_name in chain:
        mapping = TYPE_MAP.get(type_name)
        if mapping is not None:
            return mapping
    return None
