# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""Marathon apps (TOSCA ``tosca.nodes.indigo.Container.Application.Docker.Marathon``).

The module's options map 1:1 to the TOSCA node and its Docker runtime's ``host`` capability; this file
turns them into a Marathon (>= 1.5) app definition, compares it with what Marathon has, and
creates/updates/deletes only on a difference. ``wait`` follows the deployment Marathon started until
it is gone and ``healthy >= instances`` (``running >= instances`` when the app has no health check),
which is what the INDIGO orchestrator polled.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.indigo.paas.plugins.module_utils.apps.rest import parse_size_mb, same
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import FatalError, TransientError

HEALTH_KEYS = {
    "protocol": "protocol", "path": "path", "port_index": "portIndex", "command": "command",
    "grace_period_seconds": "gracePeriodSeconds", "interval_seconds": "intervalSeconds",
    "timeout_seconds": "timeoutSeconds", "max_consecutive_failures": "maxConsecutiveFailures",
}
NETWORK_MODES = {"BRIDGE": "container/bridge", "HOST": "host", "USER": "container"}


def normalize_app_id(app_id):
    app_id = str(app_id or "").strip()
    if not app_id.strip("/"):
        raise FatalError("marathon_app: 'id' must not be empty")
    return "/" + app_id.strip("/")


def parse_volume(volume):
    """A volume as INDIGO wrote it ('SOURCE:CONTAINER_PATH:MODE[:dvdi:DRIVER]') or as a dict.

    SOURCE is a host path when it starts with '/', else the name of an external (dvdi) volume.
    """
    if isinstance(volume, dict):
        spec = dict(volume)
    else:
        parts = str(volume).split(":")
        if len(parts) < 2:
            raise FatalError("marathon_app: volume %r must be 'SOURCE:CONTAINER_PATH[:MODE[:dvdi:DRIVER]]'" % volume)
        spec = {"source": parts[0], "container_path": parts[1]}
        if len(parts) > 2 and parts[2]:
            spec["mode"] = parts[2]
        if len(parts) > 3:
            spec["provider"] = parts[3]
            spec["driver"] = parts[4] if len(parts) > 4 else "rexray"
    if not spec.get("container_path"):
        raise FatalError("marathon_app: volume %r has no container_path" % (volume,))
    mode = str(spec.get("mode") or "RW").upper()
    if mode not in ("RW", "RO"):
        raise FatalError("marathon_app: volume mode must be rw or ro, got %r" % spec.get("mode"))
    source = spec.get("source") or spec.get("host_path") or spec.get("name")
    if not source:
        raise FatalError("marathon_app: volume %r has no source (host path or volume name)" % (volume,))
    if spec.get("provider") or not str(source).startswith("/"):
        return {"containerPath": spec["container_path"], "mode": mode,
                "external": {"name": source, "provider": spec.get("provider") or "dvdi",
                             "options": {"dvdi/driver": spec.get("driver") or "rexray"}}}
    return {"containerPath": spec["container_path"], "hostPath": source, "mode": mode}


def build_app(params):
    """The Marathon app definition the options describe (only fields we manage)."""
    if not params.get("image"):
        raise FatalError("marathon_app: 'image' is required with state=present")
    mem = parse_size_mb(params.get("mem"), "mem")
    network = params.get("network") or "BRIDGE"
    port_mappings = []
    for index, port in enumerate(params.get("ports") or []):
        if not port.get("container_port"):
            raise FatalError("marathon_app: ports[%d] needs container_port" % index)
        mapping = {"containerPort": int(port["container_port"]), "hostPort": int(port.get("host_port") or 0),
                   "protocol": (port.get("protocol") or "tcp").lower()}
        if port.get("service_port"):
            mapping["servicePort"] = int(port["service_port"])
        if port.get("name"):
            mapping["name"] = port["name"]
        port_mappings.append(mapping)
    health_checks = []
    for check in params.get("health_checks") or []:
        converted = {HEALTH_KEYS[key]: value for key, value in check.items() if key in HEALTH_KEYS and value is not None}
        converted["protocol"] = str(converted.get("protocol") or "TCP").upper()
        if converted["protocol"] == "COMMAND":
            converted["command"] = {"value": check.get("command")}
        elif "portIndex" not in converted:
            converted["portIndex"] = 0
        health_checks.append(converted)
    env = {str(k): str(v) for k, v in (params.get("environment") or {}).items()}
    env.update({str(k): str(v) for k, v in (params.get("secrets") or {}).items()})
    app = {
        "id": normalize_app_id(params.get("id")),
        "cmd": params.get("command") or None,
        "cpus": float(params.get("cpus") if params.get("cpus") is not None else 1.0),
        "mem": mem if mem is not None else 128.0,
        "disk": parse_size_mb(params.get("disk"), "disk") or 0.0,
        "gpus": int(params.get("gpus") or 0),
        "instances": int(params.get("instances") if params.get("instances") is not None else 1),
        "env": env,
        "labels": {str(k): str(v) for k, v in (params.get("labels") or {}).items()},
        "constraints": [[str(x) for x in c] for c in (params.get("constraints") or [])],
        "fetch": [{"uri": uri} for uri in (params.get("uris") or [])],
        "healthChecks": health_checks,
        "networks": [{"mode": NETWORK_MODES[network]}],
        "container": {
            "type": "DOCKER",
            "docker": {"image": params["image"], "privileged": bool(params.get("privileged")),
                       "forcePullImage": bool(params.get("force_pull_image"))},
            "portMappings": port_mappings if network != "HOST" else [],
            "volumes": [parse_volume(v) for v in (params.get("volumes") or [])],
        },
    }
    if app["instances"] < 0:
        raise FatalError("marathon_app: instances must be >= 0")
    return app


def redact(app, secret_names):
    """A copy of ``app`` safe to return or diff: secret env values hidden."""
    if not app:
        return app
    copy = dict(app)
    if secret_names and isinstance(app.get("env"), dict):
        copy["env"] = {k: ("********" if k in secret_names else v) for k, v in app["env"].items()}
    return copy


class Marathon:
    def __init__(self, client):
        self.client = client

    def get(self, app_id):
        _status, payload, _loc = self.client.request("GET", "/v2/apps%s?embed=app.counts&embed=app.deployments" % app_id,
                                                     allow_404=True)
        return payload.get("app") if payload else None

    def create(self, app):
        _status, payload, _loc = self.client.request("POST", "/v2/apps", app)
        return [d.get("id") for d in (payload or {}).get("deployments") or []]

    def update(self, app, force):
        path = "/v2/apps%s%s" % (app["id"], "?force=true" if force else "")
        _status, payload, _loc = self.client.request("PUT", path, app)
        return [payload["deploymentId"]] if payload and payload.get("deploymentId") else []

    def delete(self, app_id, force):
        path = "/v2/apps%s%s" % (app_id, "?force=true" if force else "")
        status, payload, _loc = self.client.request("DELETE", path, allow_404=True)
        if status == 404:
            return None
        return [payload["deploymentId"]] if payload and payload.get("deploymentId") else []

    def deployment_ids(self):
        _status, payload, _loc = self.client.request("GET", "/v2/deployments")
        return set(d.get("id") for d in payload or [])

    def wait_unlocked(self, app, timeout, sleep=time.sleep, clock=time.monotonic):
        """Let deployments already running on ``app`` finish, so our change is not refused as locked."""
        blocking = set(d.get("id") for d in app.get("deployments") or [])
        deadline = clock() + timeout
        while blocking & self.deployment_ids():
            if clock() >= deadline:
                raise TransientError("marathon_app: %s is locked by deployments %s for more than %ss; use force=true "
                                     "to override them" % (app.get("id"), sorted(blocking), timeout))
            sleep(0.3)

    def wait(self, app_id, deployment_ids, instances, timeout, absent=False, sleep=time.sleep, clock=time.monotonic):
        """Until our deployments are gone and the app is healthy (or gone, for ``absent``)."""
        deadline = clock() + timeout
        delay = 0.2
        while True:
            pending = set(deployment_ids) & self.deployment_ids()
            app = self.get(app_id)
            if absent:
                if app is None and not pending:
                    return None
            elif app is not None and not pending:
                wanted_healthy = instances if app.get("healthChecks") else 0
                if app.get("tasksRunning", 0) >= instances and app.get("tasksHealthy", 0) >= wanted_healthy:
                    return app
            if clock() >= deadline:
                state = "still present" if absent else "running %s, healthy %s of %s" % (
                    (app or {}).get("tasksRunning", 0), (app or {}).get("tasksHealthy", 0), instances)
                raise TransientError("marathon_app: %s not ready after %ss (deployments pending: %s; %s)"
                                     % (app_id, timeout, sorted(pending), state))
            sleep(delay)
            delay = min(delay * 1.5, 2.0)


def ensure_app(marathon, params, check_mode):
    """Converge one app; returns the module result (without ``failed``)."""
    app_id = normalize_app_id(params.get("id"))
    secret_names = set((params.get("secrets") or {}).keys())
    actual = marathon.get(app_id)
    result = {"changed": False, "id": app_id, "deployment_ids": [], "retried": []}
    if params["state"] == "absent":
        if actual is None:
            result["app"] = None
            return result
        result.update(changed=True, diff={"before": redact(actual, secret_names), "after": {}}, app=None)
        if check_mode:
            return result
        if not params.get("force"):
            marathon.wait_unlocked(actual, params["wait_timeout"])
        deployments = marathon.delete(app_id, params.get("force")) or []
        result["deployment_ids"] = deployments
        if params.get("wait"):
            marathon.wait(app_id, deployments, 0, params["wait_timeout"], absent=True)
        return result
    desired = build_app(params)
    if actual is not None and same(desired, actual):
        result["app"] = redact(actual, secret_names)
        if params.get("wait") and not check_mode:
            result["app"] = redact(marathon.wait(app_id, [], desired["instances"], params["wait_timeout"]), secret_names)
        return result
    result.update(changed=True, diff={"before": redact(actual, secret_names) or {}, "after": redact(desired, secret_names)})
    if check_mode:
        result["app"] = redact(desired, secret_names)
        return result
    if actual is None:
        deployments = marathon.create(desired)
    else:
        if not params.get("force"):
            marathon.wait_unlocked(actual, params["wait_timeout"])
        deployments = marathon.update(desired, params.get("force"))
    result["deployment_ids"] = deployments
    if params.get("wait"):
        current = marathon.wait(app_id, deployments, desired["instances"], params["wait_timeout"])
    else:
        current = marathon.get(app_id)
    result["app"] = redact(current, secret_names)
    return result


def service_ports(app):
    """The ports Marathon assigned (TOSCA ``publish_ports[*].target`` of the runtime)."""
    mappings = ((app or {}).get("container") or {}).get("portMappings") or []
    return [m.get("servicePort") for m in mappings] or list((app or {}).get("ports") or [])
