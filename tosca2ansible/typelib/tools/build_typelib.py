"""Build the project's INDIGO type library from the *facts* of the upstream type files.

What is taken from upstream: the type names, derivations, property/attribute names, types, required
flags, defaults, constraints, capabilities, requirements, interfaces (operation playbook URLs) and
artifacts — the facts templates are validated against. What is not: descriptions, metadata (icons)
and layout. Descriptions are the project's own (DESCRIPTIONS below). Definitions of every branch are
merged (master first, then devel, then add-ek), so templates written against any branch validate.
The project's own types (HTCondor LRMS, NFS, OS users) are added from PROJECT_TYPES.

Usage: python build_typelib.py OUT.yaml MASTER.yaml [DEVEL.yaml ADD-EK.yaml ...]
The output is deterministic: keys sorted, no timestamps.
"""

from __future__ import annotations

import copy
import sys

import yaml

SECTIONS = ("data_types", "artifact_types", "capability_types", "relationship_types", "node_types", "policy_types")
MERGED_MAPS = ("properties", "attributes", "capabilities", "artifacts", "interfaces")

DESCRIPTIONS = {
    # data types
    "tosca.datatypes.Root": "Root of data types (declared for parsers that lack it).",
    "tosca.datatypes.indigo.User": "An operating system user to create on a node.",
    "tosca.datatypes.indigo.AnsibleTask": "One task result reported by contextualisation.",
    "tosca.datatypes.indigo.CtxtTask": "Contextualisation result of one task on one node.",
    "tosca.datatypes.indigo.network.PortSpec": "A network port to open: port or range, protocol, remote CIDR.",
    # capability types
    "tosca.capabilities.indigo.OperatingSystem": "Operating system of a Compute node, with image and credential choices.",
    "tosca.capabilities.indigo.Scalable": "Number of instances of a node: count, minimum, maximum, removal list.",
    "tosca.capabilities.indigo.Container": "Host capacity of a Compute node: CPUs, memory, disk, GPUs, preemptible.",
    "tosca.capabilities.indigo.LRMS": "A local resource management system offered by a front-end.",
    "tosca.capabilities.indigo.LRMS.Torque": "Torque batch system.",
    "tosca.capabilities.indigo.LRMS.Slurm": "Slurm batch system.",
    "tosca.capabilities.indigo.LRMS.Kubernetes": "Kubernetes cluster.",
    "tosca.capabilities.indigo.LRMS.Local": "Jobs run directly on the front-end.",
    "tosca.capabilities.indigo.LRMS.Mesos": "Mesos cluster.",
    "tosca.capabilities.indigo.LRMS.HTCondor": "HTCondor pool.",
    "tosca.capabilities.indigo.MesosMaster": "Offers a Mesos master to agents.",
    "tosca.capabilities.indigo.MesosSlave": "Offers a Mesos agent to a master.",
    "tosca.capabilities.indigo.Container.Docker": "Runs Docker containers with the given resources.",
    "tosca.capabilities.indigo.Endpoint": "Network endpoint of a node: public or private, ports, DNS name.",
    "tosca.capabilities.indigo.Container.Application.Docker.Chronos": "Accepts Chronos jobs.",
    # artifact types
    "tosca.artifacts.Implementation.YAML": "An Ansible playbook implementing an operation.",
    "tosca.artifacts.AnsibleGalaxy.role": "An Ansible Galaxy role, as 'name,version'.",
    "tosca.artifacts.AnsibleGalaxy.collection": "An Ansible Galaxy collection, as 'name,version'.",
    "tosca.artifacts.Deployment.Image.Container.Docker": "A Docker image reference.",
    # relationship types
    "tosca.relationships.indigo.Manages": "A front-end manages worker nodes.",
    "tosca.relationships.indigo.AttachesTo": "A block volume attached to a Compute node.",
    "tosca.relationships.indigo.GlusterFS.AttachesTo": "A GlusterFS volume mounted on a Compute node.",
    "tosca.relationships.indigo.OneDataStorage.AttachesTo": "A Onedata space mounted on a Compute node.",
    # policy types
    "tosca.policies.indigo.Placement": "Place nodes on a given site.",
    "tosca.policies.indigo.SlaPlacement": "Place nodes according to an SLA of the user's group.",
    "tosca.policies.indigo.CredentialsAwareSlaPlacement": "SLA placement that also selects the user's credentials for the site.",
    # node types
    "tosca.nodes.Database.MySQL": "A MySQL database.",
    "tosca.nodes.DBMS.MySQL": "A MySQL server.",
    "tosca.nodes.WebServer.Apache": "The Apache HTTP server.",
    "tosca.nodes.indigo.Database.MySQL": "A MySQL database with its user, created on a MySQL server.",
    "tosca.nodes.indigo.Compute": "A virtual machine or local node: size, image, network endpoint and instance count.",
    "tosca.nodes.indigo.MonitoredCompute": "A Compute node with a monitoring agent.",
    "tosca.nodes.indigo.ZabbixAgent": "A Zabbix monitoring agent.",
    "tosca.nodes.indigo.GalaxyPortal": "A Galaxy portal, usually on an LRMS front-end.",
    "tosca.nodes.indigo.GalaxyPortalAndStorage": "A Galaxy portal with its storage encryption and flavour.",
    "tosca.nodes.indigo.GalaxyPortalFastConfig": "A Galaxy portal configured from a pre-built image.",
    "tosca.nodes.indigo.GalaxyWN": "Galaxy runtime on a worker node.",
    "tosca.nodes.indigo.GalaxyWNCVMFS": "Galaxy runtime on a worker node with tools from CVMFS.",
    "tosca.nodes.indigo.GalaxyShedTool": "Galaxy tools installed from a tool shed.",
    "tosca.nodes.indigo.GalaxyReferenceData": "Reference data made available to Galaxy.",
    "tosca.nodes.indigo.GalaxyPortalDocker": "A Galaxy portal run in Docker.",
    "tosca.nodes.indigo.TeskAPI": "The TESK task execution service API on Kubernetes.",
    "tosca.nodes.indigo.ElasticCluster": "Elasticity manager (CLUES) that powers worker nodes on and off with demand.",
    "tosca.nodes.indigo.LRMS.WorkerNode": "A worker node of a batch system.",
    "tosca.nodes.indigo.LRMS.WorkerNode.Torque": "A Torque worker node.",
    "tosca.nodes.indigo.LRMS.WorkerNode.Slurm": "A Slurm worker node (slurmd).",
    "tosca.nodes.indigo.LRMS.WorkerNode.SlurmGalaxy": "A Slurm worker node prepared for Galaxy jobs.",
    "tosca.nodes.indigo.LRMS.WorkerNode.HTCondor": "An HTCondor execute node (startd).",
    "tosca.nodes.indigo.LRMS.FrontEnd": "The front-end of a batch system.",
    "tosca.nodes.indigo.LRMS.FrontEnd.Torque": "A Torque server.",
    "tosca.nodes.indigo.LRMS.FrontEnd.Slurm": "A Slurm controller (slurmctld) and submit host.",
    "tosca.nodes.indigo.LRMS.FrontEnd.SlurmGalaxy": "A Slurm controller prepared for Galaxy.",
    "tosca.nodes.indigo.LRMS.FrontEnd.HTCondor": "An HTCondor central manager and access point (collector, negotiator, schedd).",
    "tosca.nodes.indigo.LRMS.FrontEnd.Local": "A front-end that runs jobs itself, without a batch system.",
    "tosca.nodes.indigo.Container.Runtime.Docker": "A Docker runtime: resources for containers (Mesos/Marathon or a host).",
    "tosca.nodes.indigo.Container.Application.Docker": "An application packaged as a Docker container.",
    "tosca.nodes.indigo.Container.Application.Docker.Chronos": "A batch job run as a container by Chronos.",
    "tosca.nodes.indigo.Container.Application.Docker.Marathon": "A long-running container application on Marathon.",
    "tosca.nodes.indigo.DariahRepository": "The DARIAH repository service.",
    "tosca.nodes.indigo.TensorflowOnMesos": "TensorFlow run on a Mesos cluster.",
    "tosca.nodes.indigo.LRMS.FrontEnd.Mesos": "A Mesos master front-end.",
    "tosca.nodes.indigo.MesosMaster": "A Mesos master with ZooKeeper, Marathon and Chronos.",
    "tosca.nodes.indigo.CmsServices": "CMS experiment services on Mesos (DODAS).",
    "tosca.nodes.indigo.LRMS.WorkerNode.Mesos": "A Mesos agent worker node.",
    "tosca.nodes.indigo.MesosSlave": "A Mesos agent running Docker containers.",
    "tosca.nodes.indigo.CmsOneclient": "Onedata client for CMS worker nodes.",
    "tosca.nodes.indigo.CmsWnConfig": "CMS worker node configuration.",
    "tosca.nodes.indigo.MesosLoadBalancer": "The Marathon load balancer (HAProxy) in front of Mesos services.",
    "tosca.nodes.indigo.SparkMesos": "Apache Spark on Mesos.",
    "tosca.nodes.indigo.OneDataStorage": "A Onedata space mounted as storage.",
    "tosca.nodes.indigo.HadoopMaster": "A Hadoop master (HDFS name node, YARN resource manager).",
    "tosca.nodes.indigo.HadoopSlave": "A Hadoop worker (HDFS data node, YARN node manager).",
    "tosca.nodes.indigo.HaddockApp": "Base of the HADDOCK structural biology applications.",
    "tosca.nodes.indigo.Disvis": "The DisVis application.",
    "tosca.nodes.indigo.Powerfit": "The PowerFit application.",
    "tosca.nodes.indigo.Eubiosteo": "The EUBIOSTEO bone modelling application.",
    "tosca.nodes.indigo.Ambertools": "The AmberTools molecular dynamics suite.",
    "tosca.nodes.indigo.Kepler": "The Kepler workflow system.",
    "tosca.nodes.indigo.OphidiaServer": "The Ophidia analytics server.",
    "tosca.nodes.indigo.OphidiaIO": "An Ophidia I/O node.",
    "tosca.nodes.indigo.Batch.Job": "A batch job submitted to a computing service.",
    "tosca.nodes.indigo.Qcg.Job": "A job for the QCG computing service.",
    "tosca.nodes.indigo.Grid.Job": "A job for a Grid computing element.",
    "tosca.nodes.indigo.LRMS.WorkerNode.Kubernetes": "A Kubernetes worker node.",
    "tosca.nodes.indigo.LRMS.FrontEnd.Kubernetes": "A Kubernetes control plane node.",
    "tosca.nodes.indigo.JupyterHub": "JupyterHub on Kubernetes.",
    "tosca.nodes.indigo.OnedataSpace": "A Onedata space to use or create.",
    "tosca.nodes.indigo.OnedataServiceSpace": "A Onedata space managed by the service for its users.",
    "tosca.nodes.indigo.Dynafed": "A Dynafed storage federation.",
    "tosca.nodes.indigo.BlockStorage": "A block volume.",
    "tosca.nodes.indigo.VR.CentralPoint": "Central point of a virtual router overlay network.",
    "tosca.nodes.indigo.VR.Client": "Client of a virtual router overlay network.",
    "tosca.nodes.indigo.VR.VRouter": "A virtual router joining a site network to the overlay.",
    "tosca.nodes.indigo.DEEPaaScont": "A DEEP-as-a-Service model container.",
    "tosca.nodes.indigo.Elasticsearch": "Elasticsearch.",
    "tosca.nodes.indigo.Kibana": "Kibana.",
    "tosca.nodes.indigo.GlusterFSVolume": "A GlusterFS volume.",
    "tosca.nodes.indigo.Helm.Chart": "A Helm chart installed from a node.",
    "tosca.nodes.indigo.Kubernetes.HelmChart": "A Helm chart released on a Kubernetes cluster by the platform.",
    "tosca.nodes.indigo.network.Network": "A network to use or create.",
    "tosca.nodes.indigo.network.Port": "A port of a Compute node on a network.",
    "tosca.nodes.indigo.AnsibleRecipe": "Any Ansible playbook run on a node.",
    "tosca.nodes.indigo.NFS.Server": "An NFS server exporting a shared directory.",
    "tosca.nodes.indigo.NFS.Client": "An NFS client mounting a shared directory.",
    "tosca.nodes.indigo.OS.Users": "Operating system users with SSH keys and optional sudo.",
}

PROJECT_TYPES = {
    "capability_types": {
        "tosca.capabilities.indigo.LRMS.HTCondor": {"derived_from": "tosca.capabilities.indigo.LRMS"},
    },
    "node_types": {
        "tosca.nodes.indigo.LRMS.FrontEnd.HTCondor": {
            "derived_from": "tosca.nodes.indigo.LRMS.FrontEnd",
            "properties": {
                "wn_num": {"type": "integer", "required": False, "default": -1},
                "pool_name": {"type": "string", "required": False, "default": "indigo"},
                "shared_port": {"type": "boolean", "required": False, "default": True},
            },
            "capabilities": {"lrms": {"type": "tosca.capabilities.indigo.LRMS.HTCondor"}},
        },
        "tosca.nodes.indigo.LRMS.WorkerNode.HTCondor": {
            "derived_from": "tosca.nodes.indigo.LRMS.WorkerNode",
            "properties": {
                "slots": {"type": "integer", "required": False, "default": 0},
            },
        },
        "tosca.nodes.indigo.NFS.Server": {
            "derived_from": "tosca.nodes.SoftwareComponent",
            "properties": {
                "export_path": {"type": "string", "required": False, "default": "/home"},
                "clients_cidr": {"type": "string", "required": False, "default": "*"},
            },
            "capabilities": {"nfs": {"type": "tosca.capabilities.Node"}},
        },
        "tosca.nodes.indigo.NFS.Client": {
            "derived_from": "tosca.nodes.SoftwareComponent",
            "properties": {
                "export_path": {"type": "string", "required": False, "default": "/home"},
                "mount_path": {"type": "string", "required": False, "default": "/home"},
            },
            "requirements": [
                {"server": {"capability": "tosca.capabilities.Node", "node": "tosca.nodes.indigo.NFS.Server",
                            "relationship": "tosca.relationships.DependsOn"}}
            ],
        },
        "tosca.nodes.indigo.OS.Users": {
            "derived_from": "tosca.nodes.SoftwareComponent",
            "properties": {
                "users": {"type": "list", "required": False, "default": [],
                          "entry_schema": {"type": "tosca.datatypes.indigo.User"}},
            },
        },
    },
}


# Keys whose value maps user-chosen names to definitions: a property may well be called "description".
NAME_MAPS = ("properties", "attributes", "inputs", "capabilities", "interfaces", "artifacts", "outputs")


def _strip(value, names=False):
    """Drop upstream prose and icons from a definition, recursively, keeping the facts."""
    if isinstance(value, dict):
        return {
            k: _strip(v, names=(not names and k in NAME_MAPS))
            for k, v in value.items()
            if names or k not in ("description", "metadata")
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _merge_type(base, extra):
    merged = copy.deepcopy(base)
    for key in MERGED_MAPS:
        if isinstance(extra.get(key), dict):
            target = merged.setdefault(key, {})
            for name, definition in extra[key].items():
                target.setdefault(name, copy.deepcopy(definition))
    if extra.get("requirements"):
        have = {next(iter(r)) for r in merged.get("requirements", [])}
        for req in extra["requirements"]:
            if next(iter(req)) not in have:
                merged.setdefault("requirements", []).append(copy.deepcopy(req))
    for key, value in extra.items():
        merged.setdefault(key, copy.deepcopy(value))
    return merged


def build(sources):
    library = {section: {} for section in SECTIONS}
    for source in sources:
        for section in SECTIONS:
            for name, definition in (source.get(section) or {}).items():
                clean = _strip(definition or {})
                library[section][name] = _merge_type(library[section][name], clean) if name in library[section] else clean
    for section, types in PROJECT_TYPES.items():
        library[section].update(copy.deepcopy(types))
    missing = []
    for section in SECTIONS:
        for name, definition in library[section].items():
            if name not in DESCRIPTIONS:
                missing.append(name)
            ordered = {"description": DESCRIPTIONS.get(name, "")}
            ordered.update(definition)
            library[section][name] = ordered
    if missing:
        raise SystemExit("no description written for: %s" % ", ".join(sorted(missing)))
    document = {"tosca_definitions_version": "tosca_simple_yaml_1_0",
                "description": "INDIGO PaaS type library bundled with tosca2ansible (offline; see typelib/README.md)."}
    for section in SECTIONS:
        document[section] = dict(sorted(library[section].items()))
    return document


def main(argv):
    out, *inputs = argv
    sources = []
    for path in inputs:
        with open(path) as handle:
            sources.append(yaml.safe_load(handle))
    document = build(sources)
    with open(out, "w") as handle:
        handle.write("# Generated by tosca2ansible/typelib/tools/build_typelib.py: edit the script, not this file.\n")
        yaml.safe_dump(document, handle, default_flow_style=False, sort_keys=False, width=120)


if __name__ == "__main__":
    main(sys.argv[1:])
