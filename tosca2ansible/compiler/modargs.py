"""Arguments of the localhost modules for platform-realised node types (Marathon, Chronos, Onedata,
Helm). Service endpoints and credentials of the platform come from extra vars the operator or AWX
passes (`indigo_marathon_endpoint`, `indigo_chronos_endpoint`, `indigo_kubeconfig`, and the frameworks'
HTTP credentials `indigo_marathon_username`/`_password` and `indigo_chronos_username`/`_password`, each
falling back to `indigo_mesos_username`/`_password`, since the roles give Marathon and Chronos their own
credentials); TOSCA properties fill the rest.
"""

from __future__ import annotations

from typing import Any

from tosca2ansible.compiler.render import Expr


def _framework_credentials(framework: str) -> dict:
    return {field: Expr("{{ indigo_%s_%s | default(indigo_mesos_%s) | default(omit) }}" % (framework, field, field))
            for field in ("username", "password")}


def _runtime_resources(host_caps: dict) -> dict:
    return {"cpus": host_caps.get("num_cpus"), "mem": host_caps.get("mem_size"),
            "disk": host_caps.get("disk_size"), "gpus": host_caps.get("num_gpus")}


def _container_common(node, host_caps: dict) -> dict:
    props = node.properties
    image = node.artifacts.get("image", {})
    return {
        "image": image.get("file") if isinstance(image, dict) else None,
        "command": props.get("command"),
        "environment": props.get("environment_variables"),
        "secrets": props.get("secrets"),
        "uris": props.get("uris"),
        "constraints": props.get("constraints"),
        "privileged": props.get("privileged"),
        "force_pull_image": props.get("force_pull_image"),
        "volumes": host_caps.get("volumes"),
    }


def marathon_app(node, host_caps: dict, state: str) -> dict:
    args: dict = {"endpoint": Expr("{{ indigo_marathon_endpoint }}"), **_framework_credentials("marathon"),
                  "id": Expr("/{{ indigo_deployment_id }}/%s" % node.name), "state": Expr(state)}
    if state == "present":
        ports = host_caps.get("publish_ports")
        args.update(_container_common(node, host_caps))
        args.update(_runtime_resources(host_caps))
        args["labels"] = node.properties.get("labels")
        if isinstance(ports, list):
            args["ports"] = [{"container_port": p.get("source"), "protocol": p.get("protocol", "tcp")}
                             for p in ports if isinstance(p, dict)]
    return args


def chronos_job(node, host_caps: dict, state: str) -> dict:
    args: dict = {"endpoint": Expr("{{ indigo_chronos_endpoint }}"), **_framework_credentials("chronos"),
                  "name": Expr("{{ indigo_deployment_id }}-%s" % node.name), "state": Expr(state)}
    if state == "present":
        props = node.properties
        args.update(_container_common(node, host_caps))
        resources = _runtime_resources(host_caps)
        resources.pop("gpus")
        args.update(resources)
        for key in ("schedule", "description", "retries", "epsilon"):
            args[key] = props.get(key)
    return args


def onedata_space(node, host_caps: dict, state: str) -> dict:
    props = node.properties
    args = {"onezone": props.get("onezone"), "token": props.get("token"), "space": props.get("space"),
            "oneproviders": props.get("oneproviders"), "state": Expr(state)}
    if "create" not in props and state == "present":
        args["create"] = False
    return args


def helm_release(node, host_caps: dict, state: str) -> dict:
    props = node.properties
    return {"name": props.get("name") or node.name, "chart": props.get("name"),
            "repository": props.get("repository"), "version": props.get("version"),
            "values": props.get("values"), "kubeconfig": Expr("{{ indigo_kubeconfig | default(omit) }}"),
            "state": Expr(state)}


BUILDERS = {
    "indigo.paas.marathon_app": marathon_app,
    "indigo.paas.chronos_job": chronos_job,
    "indigo.paas.onedata_space": onedata_space,
    "indigo.paas.helm_release": helm_release,
}


def module_args(module: str, node, host_caps: dict, state: str = "present") -> dict:
    args: Any = BUILDERS[module](node, host_caps or {}, state)
    return {k: v for k, v in args.items() if v is not None}
