#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: instance
short_description: Exact count of instances of one TOSCA node template on a site
version_added: 0.1.0
description:
  - Brings the instances of one node template (O(node)) of a deployment (O(deployment)) on one site to
    exactly O(count), using the cloud's tags C(indigo_deployment), C(indigo_node) and C(indigo_index) as
    the only record of what exists.
  - Missing indexes are created concurrently; surplus instances are deleted highest index first;
    existing instances are adopted. With O(wait), returns once every instance is active and answers on
    SSH (port 22).
  - If anything fails, every instance this run created is deleted before the task fails, and the
    failure carries C(error_class) (C(quota), C(auth), C(transient) or C(fatal)). Transient errors are
    retried with backoff first.
  - With O(state=absent) and no O(node), deletes every resource of the deployment on the site (as
    M(indigo.paas.deployment_teardown) does).
author: INDIGO PaaS Ansible maintainers (@indigo-dc)
extends_documentation_fragment:
  - indigo.paas.site
attributes:
  check_mode:
    support: full
    description: Reports what would be created and deleted, calling no create or delete API.
options:
  deployment:
    description: The deployment id (C(^[a-z][a-z0-9-]{0,40}$)).
    type: str
    required: true
  node:
    description: The TOSCA node template name (a Compute node). Required with O(state=present).
    type: str
  count:
    description: The exact number of instances. O(state=absent) means O(count=0).
    type: int
    default: 1
  indexes:
    description:
      - Exactly these instance indexes are made present (O(state=present)) or deleted (O(state=absent));
        the node's other instances are left as they are and O(count) is not used. For elastic pools, where
        each index is one fixed worker slot.
    type: list
    elements: int
  state:
    description: C(present) for an exact count, C(absent) to delete the node's instances (or the deployment's).
    type: str
    choices: [present, absent]
    default: present
  image:
    description: Image name or id. When omitted, picked from the site's images by O(os_distribution)/O(os_version).
    type: str
  cached_packages:
    description:
      - Packages the node's image should already hold, so its configuration only configures. A site that
        keeps an image cache (on the C(local) site, a package layer over its base image, built once per
        package list) boots the node from it and builds it on first use, also when no instance is
        created (a deploy warms the cache its elastic scale-outs use). Other sites do not build images;
        name a prepared image with O(image) there; the list is then ignored.
    type: list
    elements: str
    default: []
  flavor:
    description: Flavor or instance type name. When omitted, the smallest one that fits the requirements.
    type: str
  num_cpus:
    description: Minimum number of CPUs (TOSCA host num_cpus).
    type: int
  mem_size:
    description: Minimum memory, a TOSCA size such as C(2 GB) or a number of MB.
    type: str
  disk_size:
    description: Root disk size, a TOSCA size such as C(20 GB) or a number of MB.
    type: str
  gpus:
    description: Number of GPUs.
    type: int
    default: 0
  os_distribution:
    description: Operating system distribution (TOSCA os capability), for example C(debian).
    type: str
  os_version:
    description: Operating system version, for example C(13).
    type: str
  ports:
    description: Ports opened to the instances (TOSCA endpoint ports); port 22 is always open.
    type: list
    elements: dict
    default: []
    suboptions:
      port:
        description: Port number.
        type: int
        required: true
      protocol:
        description: C(tcp) or C(udp).
        type: str
        default: tcp
      remote_cidr:
        description: Source addresses allowed.
        type: str
        default: 0.0.0.0/0
  public_ip:
    description: Give every instance a public address (floating or elastic IP).
    type: bool
    default: false
  network:
    description: An existing private network (name or id); by default the site's, else a per-deployment network.
    type: str
  volumes:
    description: Block volumes attached to every instance (TOSCA BlockStorage with AttachesTo).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Volume name (suffix of the instance name).
        type: str
        required: true
      size:
        description: Size, a TOSCA size such as C(10 GB) or a number of MB.
        type: str
        required: true
      device:
        description: Device name as the instance sees it.
        type: str
      location:
        description: Mount point inside the instance (used by the roles, passed through).
        type: str
      type:
        description: Volume type of the site.
        type: str
  ssh_public_key:
    description: An OpenSSH public key injected for the login user.
    type: str
  user_data:
    description: cloud-init user data.
    type: str
  wait:
    description: Wait until every instance is active and answers on SSH.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for instances to become ready.
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Three Slurm workers on the site named in the catalogue
  indigo.paas.instance:
    deployment: slurm-demo
    node: lrms_wn
    count: 3
    site: recas-bari
    num_cpus: 2
    mem_size: 4 GB
    os_distribution: debian
    os_version: "13"
    ports: [{port: 6817}, {port: 6818}]
    ssh_public_key: "{{ lookup('ansible.builtin.file', '~/.indigo/deployments/slurm-demo/ssh/id_ed25519.pub') }}"

- name: Power up worker slots 0 and 3 of an elastic pool (other workers untouched)
  indigo.paas.instance:
    deployment: slurm-demo
    node: lrms_wn
    indexes: [0, 3]
    site: recas-bari

- name: Scale the workers down to one (highest indexes go first)
  indigo.paas.instance:
    deployment: slurm-demo
    node: lrms_wn
    count: 1
    site: recas-bari

- name: Delete everything of the deployment on the site
  indigo.paas.instance:
    deployment: slurm-demo
    state: absent
    site: recas-bari
"""

RETURN = r"""
instances:
  description: The instances of the node after the run, sorted by index.
  returned: success
  type: list
  elements: dict
  sample:
    - {id: i-0abc, name: slurm-demo-lrms_wn-0, site: aws-ireland, deployment: slurm-demo, node: lrms_wn, index: 0,
       status: active, private_ips: [10.77.0.5], public_ips: [], address: 10.77.0.5, flavor: t3.small, image: ami-1, extra: {}}
created:
  description: Ids of the instances this run created (names in check mode).
  returned: success
  type: list
  elements: str
deleted:
  description: Ids of the instances (or resources, for a deployment teardown) this run deleted.
  returned: success
  type: list
  elements: raw
created_resources:
  description:
    - The deployment's other resources (network, subnet, router, security group, key pair, floating or
      elastic IP, volume, ...) that this run created, as the provider calls that created them report
      them (nothing is listed before and after). Empty in check mode and when no instance was created.
  returned: success
  type: list
  elements: dict
  sample:
    - {kind: security_group, id: 6f1c2e3a-0d4b-4c43-9b0e-2f5d8a7c9e10, name: indigo-slurm-demo-lrms_wn, site: recas-bari}
    - {kind: network, id: 0b6e1c52-7f3a-4d2b-8c1e-5a9f3d2e7b64, name: indigo-slurm-demo, site: recas-bari}
deleted_resources:
  description:
    - The deployment's other resources the deletes of this run removed with the instances (their
      floating IPs, volumes), as the delete calls report them, same form as RV(created_resources). A deployment teardown lists
      everything it deleted in RV(deleted) instead.
  returned: success
  type: list
  elements: dict
error_class:
  description:
    - On failure, the class of the error, C(quota), C(auth), C(transient), C(fatal) (the site's), C(user)
      (an option or the catalogue is wrong) or C(bug) (an unexpected exception in this code).
  returned: failure
  type: str
  sample: quota
traceback:
  description: The traceback of an unexpected exception (C(error_class=bug)), to report.
  returned: failure with error_class bug
  type: str
"""

from ansible_collections.indigo.paas.plugins.module_utils.engine import Engine
from ansible_collections.indigo.paas.plugins.module_utils.module_common import IndigoModule, resolve_site_and_provider
from ansible_collections.indigo.paas.plugins.module_utils.naming import UserError, check_deployment, check_node
from ansible_collections.indigo.paas.plugins.module_utils.units import size_gb, size_mb
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import InstanceSpec, VolumeSpec


class InstanceModule(IndigoModule):
    argument_spec = dict(
        deployment=dict(type="str", required=True),
        node=dict(type="str"),
        count=dict(type="int", default=1),
        indexes=dict(type="list", elements="int"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        image=dict(type="str"),
        cached_packages=dict(type="list", elements="str", default=[]),
        flavor=dict(type="str"),
        num_cpus=dict(type="int"),
        mem_size=dict(type="str"),
        disk_size=dict(type="str"),
        gpus=dict(type="int", default=0),
        os_distribution=dict(type="str"),
        os_version=dict(type="str"),
        ports=dict(type="list", elements="dict", default=[], options=dict(
            port=dict(type="int", required=True),
            protocol=dict(type="str", default="tcp"),
            remote_cidr=dict(type="str", default="0.0.0.0/0"),
        )),
        public_ip=dict(type="bool", default=False),
        network=dict(type="str"),
        volumes=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            size=dict(type="str", required=True),
            device=dict(type="str"),
            location=dict(type="str"),
            type=dict(type="str"),
        )),
        ssh_public_key=dict(type="str"),
        user_data=dict(type="str", no_log=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
    )
    module_kwargs = dict(supports_check_mode=True, required_if=[("state", "present", ("node",))])

    def spec_factory(self):
        params = self.params
        mem_mb = size_mb(params["mem_size"], "mem_size")
        disk_gb = size_gb(params["disk_size"], "disk_size")
        volumes = [VolumeSpec(name=v["name"], size_gb=max(1, size_gb(v["size"], "volumes.size")),
                              device=v.get("device"), location=v.get("location"), volume_type=v.get("type"))
                   for v in params["volumes"]]

        def spec_for_index(index):
            return InstanceSpec(
                deployment=params["deployment"], node=params["node"], index=index, image=params["image"],
                flavor=params["flavor"], num_cpus=params["num_cpus"], mem_mb=mem_mb,
                disk_gb=disk_gb or None, gpus=params["gpus"] or 0,
                os_distribution=params["os_distribution"], os_version=params["os_version"],
                ports=[dict(p) for p in params["ports"]], public_ip=params["public_ip"], network=params["network"],
                ssh_public_key=params["ssh_public_key"], user_data=params["user_data"], volumes=list(volumes),
                extra={"cached_packages": list(params["cached_packages"])} if params["cached_packages"] else {},
            )

        return spec_for_index

    def run(self):
        params = self.params
        check_deployment(params["deployment"])
        if params["node"] is not None:
            check_node(params["node"])
        if params["count"] < 0:
            raise UserError("count must be >= 0, got %d" % params["count"])
        if params["indexes"] is not None and not params["node"]:
            raise UserError("indexes needs node (without it state=absent would remove the whole deployment)")
        site, provider = resolve_site_and_provider(params)
        engine = Engine(provider, log=self.log)
        if params["state"] == "absent" and not params["node"]:
            deleted = engine.teardown(params["deployment"], check_mode=self.check_mode)
            return dict(changed=bool(deleted), deleted=deleted, created=[], instances=[], created_resources=[],
                        deleted_resources=[])
        count = params["count"] if params["state"] == "present" else 0
        if params["state"] == "present" and params["cached_packages"] and not self.check_mode:
            provider.prepare_image(self.spec_factory()(0))
        result = engine.ensure(self.spec_factory(), params["deployment"], params["node"], count,
                               wait=params["wait"], wait_timeout=params["wait_timeout"], check_mode=self.check_mode,
                               indexes=params["indexes"], absent=params["state"] == "absent")
        return dict(changed=result.changed, instances=[inst.to_dict() for inst in result.instances],
                    created=result.created, deleted=result.deleted, site=site["name"],
                    created_resources=result.created_resources, deleted_resources=result.deleted_resources)


def main():
    InstanceModule()()


if __name__ == "__main__":
    main()
