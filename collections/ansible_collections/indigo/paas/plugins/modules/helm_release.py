#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: helm_release
short_description: A Helm chart on Kubernetes as a Flux HelmRelease (TOSCA Kubernetes.HelmChart)
version_added: "0.1.0"
description:
  - Creates, updates or deletes a Flux C(HelmRelease) custom resource so that Flux installs the chart, as the
    INDIGO orchestrator did for C(tosca.nodes.indigo.Kubernetes.HelmChart) nodes; options map 1:1 to the node's
    properties C(name), C(repository), C(version) and C(values).
  - O(api_version=helm.fluxcd.io/v1) is the Flux v1 helm-operator INDIGO used (status C(phase));
    O(api_version=helm.toolkit.fluxcd.io/v2) is current Flux, for which a C(HelmRepository) source named
    C(<name>-repo) is managed too (status condition C(Ready)).
  - Idempotent; with O(wait), polls the release until Flux reports it installed, and fails when Flux reports
    a failed install.
  - Uses the official C(kubernetes) Python client (CustomObjectsApi).
author: INDIGO PaaS Ansible maintainers (@indigo-dc)
requirements:
  - kubernetes >= 29
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
      - Name of the HelmRelease and of the Helm release, usually C(<deployment>-<node>).
    type: str
    required: true
  namespace:
    description:
      - Namespace of the HelmRelease.
    type: str
    default: default
  chart:
    description:
      - Chart name (TOSCA property C(name)). Required with O(state=present).
    type: str
  repository:
    description:
      - Helm repository URL (TOSCA property C(repository)). Required with O(state=present).
    type: str
  version:
    description:
      - Chart version (TOSCA property C(version)); the latest when unset.
    type: str
  values:
    description:
      - Chart values, a mapping or a YAML string of one (TOSCA property C(values)).
    type: raw
  api_version:
    description:
      - Flux API of the HelmRelease.
    type: str
    choices: [helm.fluxcd.io/v1, helm.toolkit.fluxcd.io/v2]
    default: helm.fluxcd.io/v1
  interval:
    description:
      - Reconciliation interval (Flux v2 only).
    type: str
    default: 5m
  kubeconfig:
    description:
      - Path of a kubeconfig file. Default C(~/.kube/config), or the in-cluster service account when running
        in a pod.
    type: path
  context:
    description:
      - Context of the kubeconfig to use.
    type: str
  host:
    description:
      - API server URL, instead of a kubeconfig.
    type: str
  api_key:
    description:
      - Bearer token for O(host). Never logged.
    type: str
  ca_cert:
    description:
      - CA bundle to verify the API server with.
    type: path
  validate_certs:
    description:
      - Verify the API server's TLS certificate.
    type: bool
    default: true
  state:
    description:
      - V(present) or V(absent).
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - Wait until Flux reports the release installed.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait with O(wait).
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Install MinIO as the helm_minio INDIGO example did
  indigo.paas.helm_release:
    kubeconfig: "{{ playbook_dir }}/kubeconfig"
    name: demo-minio
    chart: minio
    repository: https://charts.min.io/
    version: "5.2.0"
    values: |
      mode: standalone
      persistence:
        enabled: false

- name: The same with current Flux
  indigo.paas.helm_release:
    name: demo-minio
    chart: minio
    repository: https://charts.min.io/
    api_version: helm.toolkit.fluxcd.io/v2
    state: absent
"""

RETURN = r"""
release:
  description: The HelmRelease object as the API server returns it; null when absent.
  returned: always
  type: dict
status:
  description: C(state) (V(ready), V(pending), V(failed)) and C(detail) from the Flux status.
  returned: when state is present
  type: dict
retried:
  description: Transient API failures that were retried.
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

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.indigo.paas.plugins.module_utils.apps import helm
from ansible_collections.indigo.paas.plugins.module_utils.apps.common import AppModule
from ansible_collections.indigo.paas.plugins.module_utils.naming import UserError
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import FatalError

try:
    import yaml
except ImportError:  # ansible-core depends on PyYAML
    yaml = None


class HelmReleaseModule(AppModule):
    argument_spec = dict(
        name=dict(type="str", required=True),
        namespace=dict(type="str", default="default"),
        chart=dict(type="str"),
        repository=dict(type="str"),
        version=dict(type="str"),
        values=dict(type="raw", no_log=True),
        api_version=dict(type="str", choices=[helm.FLUX_V1, helm.FLUX_V2], default=helm.FLUX_V1),
        interval=dict(type="str", default="5m"),
        kubeconfig=dict(type="path"),
        context=dict(type="str"),
        host=dict(type="str"),
        api_key=dict(type="str", no_log=True),
        ca_cert=dict(type="path"),
        validate_certs=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
    )
    module_kwargs = dict(supports_check_mode=True, required_if=[("state", "present", ("chart", "repository"))],
                         mutually_exclusive=[("host", "kubeconfig")])

    def make_client(self, params):
        if not helm.HAS_KUBERNETES:
            raise FatalError(missing_required_lib("kubernetes"))
        return helm.FluxReleases(helm.k8s_client.CustomObjectsApi(helm.api_client(params)))

    def ensure(self, client, params, check_mode):
        params = dict(params)
        if isinstance(params.get("values"), str):
            try:
                params["values"] = yaml.safe_load(params["values"]) or {}
            except yaml.YAMLError as exc:
                raise UserError("helm_release: values is not valid YAML: %s" % exc)
        return helm.ensure_release(client, params, check_mode)


def main():
    HelmReleaseModule()()


if __name__ == "__main__":
    main()
