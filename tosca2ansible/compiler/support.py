"""Nodes the type map does not cover: the few real catalogues use that need a platform this project does
not drive yet (an error naming node and type), and nodes with nothing to run (a no-op).

Listed in docs/templates.md with the reasons.
"""

from __future__ import annotations

from tosca2ansible.errors import Location, UnsupportedError

# type -> why it cannot be realised yet (the most derived match of a node's type chain decides)
NOT_SUPPORTED = {
    "tosca.nodes.indigo.Batch.Job": "a batch job the INDIGO orchestrator submitted to a job broker",
    "tosca.nodes.indigo.Dynafed": "a Dynafed storage federation, run by the data services platform",
    "tosca.nodes.indigo.Qcg.Job": "a batch job submitted to a QCG broker, which this project does not drive",
    "tosca.nodes.indigo.Grid.Job": "a grid job submitted to a virtual organisation's computing elements",
    "tosca.nodes.im.AnsibleHost": "an existing host the IM configures over SSH with its own credentials",
    "tosca.nodes.aisprint.FaaS.Function": "an OSCAR FaaS function, deployed into an OSCAR cluster's API",
    "tosca.nodes.Container.Application.Docker": "a container application, which the IM runs on Kubernetes "
                                                "(Kubernetes comes later)",
}


def not_supported_reason(chain: tuple):
    for type_name in chain:
        if type_name in NOT_SUPPORTED:
            return NOT_SUPPORTED[type_name]
    return None


def nothing_to_run(topology, node) -> tuple:
    """A node with no mapping and no operation: a no-op (its properties stay readable through
    get_property and in indigo_node_properties), unless its type needs a platform we lack."""
    if not_supported_reason(node.chain):
        raise UnsupportedError("not supported yet: %s (%s)" % (node.name, node.type),
                               Location(topology.file, node.line, node.name, "type"))
    return "folded", None
