#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: chronos_job
short_description: A Docker batch job on Chronos (TOSCA Container.Application.Docker.Chronos)
version_added: "0.1.0"
description:
  - Creates, updates or deletes one Chronos job so that it matches the options, which map 1:1 to a TOSCA
    C(tosca.nodes.indigo.Container.Application.Docker.Chronos) node and the C(host) capability of its
    C(Container.Runtime.Docker) node.
  - A job with O(parents) (the TOSCA C(parent_job) requirement) is a dependent job; any other is scheduled
    by O(schedule), and runs once right away when O(schedule) is unset, as INDIGO did.
  - Idempotent. Chronos rewrites schedules as jobs run (start time filled in, repetitions consumed); such a
    rewrite is not a difference.
  - Talks to the Chronos v1 REST API through Ansible's own HTTP layer.
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
  name:
    description:
      - The job name (letters, digits, C(_), C(.), C(-)), usually C(<deployment>-<node>).
    type: str
    required: true
  command:
    description:
      - The command (TOSCA property C(command)). Required with O(state=present).
    type: str
  shell:
    description:
      - Run O(command) through a shell.
    type: bool
    default: true
  image:
    description:
      - Docker image (TOSCA artifact C(image)). Without it the command runs on the Mesos agent itself.
    type: str
  schedule:
    description:
      - ISO 8601 repeating interval (TOSCA property C(schedule)), for example V(R/2026-01-01T00:00:00Z/PT1H).
        Default V(R1//PT1M) (once, now). Mutually exclusive with O(parents).
    type: str
  parents:
    description:
      - Names of the jobs this job runs after (TOSCA requirement C(parent_job)).
    type: list
    elements: str
  epsilon:
    description:
      - How late a run may start (TOSCA property C(epsilon)).
    type: str
    default: PT10S
  retries:
    description:
      - Retries of a failed run (TOSCA property C(retries)).
    type: int
    default: 2
  description:
    description:
      - Free text (TOSCA property C(description)).
    type: str
  owner:
    description:
      - E-mail address Chronos notifies on failure.
    type: str
  cpus:
    description:
      - CPU shares (runtime capability C(num_cpus)).
    type: float
    default: 0.1
  mem:
    description:
      - Memory as MB or a TOSCA size (runtime capability C(mem_size)); V(1 GB) is 1024 MB. Default 128 MB.
    type: str
  disk:
    description:
      - Disk as MB or a TOSCA size. Default 256 MB.
    type: str
  environment:
    description:
      - Environment variables (TOSCA property C(environment_variables)).
    type: dict
  secrets:
    description:
      - Secret environment variables (TOSCA property C(secrets), or tokens such as Onedata's); never logged,
        masked as C(********) in the result and the diff.
    type: dict
  uris:
    description:
      - URIs fetched into the sandbox (TOSCA property C(uris)).
    type: list
    elements: str
  constraints:
    description:
      - Placement constraints, each a list such as V([rack, EQUALS, r1]).
    type: list
    elements: list
  volumes:
    description:
      - Volumes, as V(HOST_PATH:CONTAINER_PATH[:MODE]) or dicts with C(host_path), C(container_path), C(mode).
    type: list
    elements: raw
  privileged:
    description:
      - Run the container privileged (TOSCA property C(privileged); INDIGO's default for Chronos was true).
    type: bool
    default: true
  force_pull_image:
    description:
      - Pull the image before every run.
    type: bool
    default: true
  network:
    description:
      - Docker network mode.
    type: str
    choices: [BRIDGE, HOST]
    default: BRIDGE
  disabled:
    description:
      - Keep the job but do not run it.
    type: bool
    default: false
  wait:
    description:
      - After a change, wait until the job has succeeded once more; fail if it fails every retry.
        Useful for run-once jobs.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait with O(wait).
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Run a data-processing job once, with Onedata credentials kept secret
  indigo.paas.chronos_job:
    endpoint: "http://{{ hostvars[groups['mesos_master'][0]].IM_NODE_PRIVATE_IP }}:4400"
    username: admin
    password: "{{ chronos_password }}"
    name: demo-chronos_job
    image: ubuntu:24.04
    command: printenv
    retries: 1
    cpus: 1.0
    mem: 1 GB
    environment:
      INPUT_PATH: /data/in
    secrets:
      INPUT_ONEDATA_TOKEN: "{{ onedata_token }}"
    wait: true

- name: An hourly job and one that runs after it
  indigo.paas.chronos_job:
    endpoint: http://chronos.example.org:4400
    name: "{{ item.name }}"
    command: "{{ item.command }}"
    schedule: "{{ item.schedule | default(omit) }}"
    parents: "{{ item.parents | default(omit) }}"
  loop:
    - {name: fetch, command: ./fetch.sh, schedule: "R/2026-01-01T00:00:00Z/PT1H"}
    - {name: process, command: ./process.sh, parents: [fetch]}
"""

RETURN = r"""
name:
  description: The job name.
  returned: always
  type: str
job:
  description: The job as Chronos reports it (with C(successCount), C(errorCount), C(lastSuccess), C(lastError));
    secret values masked; null when absent.
  returned: always
  type: dict
retried:
  description: Transient failures that were retried.
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

from ansible_collections.indigo.paas.plugins.module_utils.apps.chronos import Chronos, ensure_job
from ansible_collections.indigo.paas.plugins.module_utils.apps.common import (
    HTTP_ARGS,
    MESOS_ARGS,
    AppModule,
    mesos_client,
)


class ChronosJobModule(AppModule):
    argument_spec = dict(
        name=dict(type="str", required=True),
        command=dict(type="str"),
        shell=dict(type="bool", default=True),
        image=dict(type="str"),
        schedule=dict(type="str"),
        parents=dict(type="list", elements="str"),
        epsilon=dict(type="str", default="PT10S"),
        retries=dict(type="int", default=2),
        description=dict(type="str"),
        owner=dict(type="str"),
        cpus=dict(type="float", default=0.1),
        mem=dict(type="str"),
        disk=dict(type="str"),
        environment=dict(type="dict", no_log=True),
        secrets=dict(type="dict", no_log=True),
        uris=dict(type="list", elements="str"),
        constraints=dict(type="list", elements="list"),
        volumes=dict(type="list", elements="raw"),
        privileged=dict(type="bool", default=True),
        force_pull_image=dict(type="bool", default=True),
        network=dict(type="str", choices=["BRIDGE", "HOST"], default="BRIDGE"),
        disabled=dict(type="bool", default=False),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=600),
    )
    argument_spec.update(HTTP_ARGS)
    argument_spec.update(MESOS_ARGS)
    module_kwargs = dict(supports_check_mode=True, mutually_exclusive=[("schedule", "parents")],
                         required_if=[("state", "present", ("command",))])

    def make_client(self, params):
        return mesos_client("chronos", params)

    def ensure(self, client, params, check_mode):
        return ensure_job(Chronos(client), params, check_mode)


def main():
    ChronosJobModule()()


if __name__ == "__main__":
    main()
