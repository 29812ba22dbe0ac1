#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: marathon_app
short_description: A Docker application on Marathon (TOSCA Container.Application.Docker.Marathon)
version_added: "0.1.0"
description:
  - Creates, updates or deletes one Marathon app so that it matches the options, which map 1:1 to a
    TOSCA C(tosca.nodes.indigo.Container.Application.Docker.Marathon) node and the C(host) capability of
    the C(Container.Runtime.Docker) node hosting it.
  - Idempotent. The desired definition is compared with the app Marathon has; the app is changed only on
    a difference (fields Marathon fills itself, such as assigned service ports, are not differences).
  - With O(wait), follows the deployment Marathon started until it is finished and the app has
    O(instances) tasks running, and healthy when it has health checks.
  - Talks to the Marathon v2 REST API through Ansible's own HTTP layer.
author: INDIGO PaaS Ansible maintainers (@indigo-dc)
extends_documentation_fragment:
  - indigo.paas.apps
  - indigo.paas.apps.mesos
attributes:
  check_mode:
    support: full
    description: Reports what would change without calling the service's write API.
  diff_mode:
    support: full
    description: Shows the desired and current definitions.
options:
  id:
    description:
      - The Marathon app id, for example V(/my-deployment/web). A leading C(/) is added when missing.
    type: str
    required: true
  image:
    description:
      - Docker image (TOSCA artifact C(image) of the node). Required with O(state=present).
    type: str
  command:
    description:
      - Shell command run in the container (TOSCA property C(command)); the image's entrypoint when unset.
    type: str
  cpus:
    description:
      - CPU shares (runtime capability C(num_cpus)).
    type: float
    default: 1.0
  mem:
    description:
      - Memory, as a number of MB or a TOSCA size such as V(1 GB) (runtime capability C(mem_size)).
        V(1 GB) means 1024 MB as it did for INDIGO. Marathon's default of 128 MB when unset.
    type: str
  disk:
    description:
      - Scratch disk, as MB or a TOSCA size.
    type: str
  gpus:
    description:
      - GPUs (runtime capability C(num_gpus)).
    type: int
    default: 0
  instances:
    description:
      - How many tasks run (the runtime's C(scalable) capability C(count)).
    type: int
    default: 1
  environment:
    description:
      - Environment variables (TOSCA property C(environment_variables)).
    type: dict
  secrets:
    description:
      - Secret environment variables (TOSCA property C(secrets)). Values are never logged and are shown
        as C(********) in the result and the diff.
    type: dict
  labels:
    description:
      - Marathon labels (TOSCA property C(labels)), for example C(HAPROXY_GROUP=external) for marathon-lb.
    type: dict
  constraints:
    description:
      - Placement constraints (TOSCA property C(constraints)), each a list such as V([hostname, UNIQUE]).
    type: list
    elements: list
  uris:
    description:
      - URIs Mesos fetches into the sandbox (TOSCA property C(uris)).
    type: list
    elements: str
  privileged:
    description:
      - Run the container privileged (TOSCA property C(privileged)).
    type: bool
    default: false
  force_pull_image:
    description:
      - Pull the image on every start (TOSCA property C(force_pull_image)).
    type: bool
    default: true
  network:
    description:
      - Container networking. C(BRIDGE) maps O(ports); C(HOST) uses the agent's ports directly.
    type: str
    choices: [BRIDGE, HOST, USER]
    default: BRIDGE
  ports:
    description:
      - Published ports (runtime capability C(publish_ports)); TOSCA C(source) is O(ports[].container_port).
    type: list
    elements: dict
    suboptions:
      container_port:
        description: Port inside the container.
        type: int
        required: true
      host_port:
        description: Port on the agent; V(0) lets Mesos pick one.
        type: int
        default: 0
      service_port:
        description: Port on the load balancer; Marathon assigns one when unset (returned in RV(service_ports)).
        type: int
      protocol:
        description: Transport protocol.
        type: str
        choices: [tcp, udp]
        default: tcp
      name:
        description: A name for the port.
        type: str
  volumes:
    description:
      - Volumes (runtime capability C(volumes)). Either the INDIGO string V(SOURCE:CONTAINER_PATH[:MODE[:dvdi:DRIVER]]),
        where SOURCE is a host path (starting with C(/)) or the name of an external volume, or a dict with
        C(source), C(container_path), C(mode) (V(rw)/V(ro)), C(provider), C(driver).
    type: list
    elements: raw
  health_checks:
    description:
      - Marathon health checks. Keys C(protocol) (V(HTTP), V(HTTPS), V(TCP), V(COMMAND), V(MESOS_HTTP), V(MESOS_TCP)),
        C(path), C(port_index), C(command), C(grace_period_seconds), C(interval_seconds), C(timeout_seconds),
        C(max_consecutive_failures).
    type: list
    elements: dict
  force:
    description:
      - Override a deployment in progress (Marathon C(?force=true)). Otherwise a locked app is retried.
    type: bool
    default: false
  wait:
    description:
      - Wait for the deployment to finish and the app to be running/healthy (or gone, for O(state=absent)).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait with O(wait).
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Run a web server with two instances behind marathon-lb
  indigo.paas.marathon_app:
    endpoint: "https://{{ hostvars[groups['mesos_lb'][0]].IM_NODE_PUBLIC_IP }}:8443"
    username: admin
    password: "{{ marathon_password }}"
    id: /demo/web
    image: nginx:1.27
    cpus: 0.5
    mem: 512 MB
    instances: 2
    labels:
      HAPROXY_GROUP: external
    ports:
      - container_port: 80
    volumes:
      - "web-data:/usr/share/nginx/html:rw:dvdi:rexray"
    health_checks:
      - protocol: HTTP
        path: /
  register: web

- name: Remove it
  indigo.paas.marathon_app:
    endpoint: https://marathon.example.org:8443
    id: /demo/web
    state: absent
"""

RETURN = r"""
id:
  description: The normalised app id.
  returned: always
  type: str
  sample: /demo/web
app:
  description: The app as Marathon reports it after the change (secret env values masked); null when absent.
  returned: always
  type: dict
service_ports:
  description: Service ports Marathon assigned, one per O(ports) entry (TOSCA C(publish_ports[].target)).
  returned: always
  type: list
  elements: int
  sample: [10000]
deployment_ids:
  description: The Marathon deployments this call started.
  returned: always
  type: list
  elements: str
retried:
  description: Transient failures that were retried (messages).
  returned: always
  type: list
  elements: str
error_class:
  description:
    - On failure, the class of the error, V(auth), V(quota), V(transient), V(fatal) (the service's), V(user)
      (an option is wrong) or V(bug) (an unexpected exception in this code).
  returned: failed
  type: str
traceback:
  description: The traceback of an unexpected exception (RV(error_class=bug)), to report.
  returned: failure with error_class bug
  type: str
"""

from ansible_collections.indigo.paas.plugins.module_utils.apps.common import (
    HTTP_ARGS,
    MESOS_ARGS,
    AppModule,
    mesos_client,
)
from ansible_collections.indigo.paas.plugins.module_utils.apps.marathon import Marathon, ensure_app, service_ports


class MarathonAppModule(AppModule):
    argument_spec = dict(
        id=dict(type="str", required=True),
        image=dict(type="str"),
        command=dict(type="str"),
        cpus=dict(type="float", default=1.0),
        mem=dict(type="str"),
        disk=dict(type="str"),
        gpus=dict(type="int", default=0),
        instances=dict(type="int", default=1),
        environment=dict(type="dict", no_log=True),
        secrets=dict(type="dict", no_log=True),
        labels=dict(type="dict"),
        constraints=dict(type="list", elements="list"),
        uris=dict(type="list", elements="str"),
        privileged=dict(type="bool", default=False),
        force_pull_image=dict(type="bool", default=True),
        network=dict(type="str", choices=["BRIDGE", "HOST", "USER"], default="BRIDGE"),
        ports=dict(type="list", elements="dict", options=dict(
            container_port=dict(type="int", required=True),
            host_port=dict(type="int", default=0),
            service_port=dict(type="int"),
            protocol=dict(type="str", choices=["tcp", "udp"], default="tcp"),
            name=dict(type="str"),
        )),
        volumes=dict(type="list", elements="raw"),
        health_checks=dict(type="list", elements="dict"),
        force=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
    )
    argument_spec.update(HTTP_ARGS)
    argument_spec.update(MESOS_ARGS)
    module_kwargs = dict(supports_check_mode=True, required_if=[("state", "present", ("image",))])

    def make_client(self, params):
        return mesos_client("marathon", params)

    def ensure(self, client, params, check_mode):
        result = ensure_app(Marathon(client), params, check_mode)
        result["service_ports"] = service_ports(result.get("app"))
        return result


def main():
    MarathonAppModule()()


if __name__ == "__main__":
    main()
