# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""Helm charts on Kubernetes (TOSCA ``tosca.nodes.indigo.Kubernetes.HelmChart``) as Flux HelmReleases.

The INDIGO orchestrator created a Flux v1 ``helm.fluxcd.io/v1`` HelmRelease and polled ``status.phase``;
current Flux uses ``helm.toolkit.fluxcd.io/v2`` with a ``HelmRepository`` source and a ``Ready``
condition. Both are supported (``api_version``). Calls go through the official ``kubernetes`` client's
CustomObjectsApi; errors are classified like every provider error.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.indigo.paas.plugins.module_utils.apps.rest import same
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (
    AuthError,
    FatalError,
    TransientError,
    retry_transient,
)

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException
    from urllib3.exceptions import HTTPError as Urllib3Error

    HAS_KUBERNETES = True
except ImportError:  # reported by the module through missing_required_lib
    HAS_KUBERNETES = False
    ApiException = Urllib3Error = Exception

FLUX_V1 = "helm.fluxcd.io/v1"
FLUX_V2 = "helm.toolkit.fluxcd.io/v2"
SOURCE_V1 = ("source.toolkit.fluxcd.io", "v1", "helmrepositories")
MANAGED_BY = {"app.kubernetes.io/managed-by": "indigo-paas"}
V1_READY = ("Succeeded", "Deployed")
V1_FAILED = ("Failed", "ChartFetchFailed", "RollbackFailed", "RolledBack")


def api_client(params):
    """An ApiClient from explicit host/api_key, a kubeconfig file/context, or the in-cluster account."""
    configuration = k8s_client.Configuration()
    try:
        if params.get("host"):
            configuration.host = params["host"]
            if params.get("api_key"):
                configuration.api_key = {"authorization": "Bearer " + params["api_key"]}
        elif params.get("kubeconfig") or params.get("context") or not _in_cluster():
            k8s_config.load_kube_config(config_file=params.get("kubeconfig"), context=params.get("context"),
                                        client_configuration=configuration)
        else:
            k8s_config.load_incluster_config(client_configuration=configuration)
    except (k8s_config.ConfigException, OSError) as exc:
        raise AuthError("helm_release: cannot load Kubernetes credentials: %s" % exc)
    configuration.verify_ssl = params["validate_certs"]
    if params.get("ca_cert"):
        configuration.ssl_ca_cert = params["ca_cert"]
    return k8s_client.ApiClient(configuration)


def _in_cluster():
    import os

    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def classify(exc, what):
    if isinstance(exc, ApiException):
        message = "helm_release: %s: HTTP %s %s" % (what, exc.status, (exc.body or exc.reason or "")[:300])
        if exc.status in (401, 403):
            return AuthError(message)
        if exc.status == 404:
            return FatalError(message + " (is Flux installed on the cluster, with this API version?)")
        if exc.status in (409, 429) or (exc.status or 0) >= 500 or exc.status == 0:
            return TransientError(message)
        return FatalError(message)
    return TransientError("helm_release: %s: %s" % (what, exc))


def split_api_version(api_version):
    group, _sep, version = api_version.partition("/")
    return group, version


def build_objects(params):
    """``(helm_release, helm_repository_or_None)`` bodies for the chosen Flux API."""
    for key in ("chart", "repository"):
        if not params.get(key):
            raise FatalError("helm_release: '%s' is required with state=present" % key)
    values = params.get("values") or {}
    if not isinstance(values, dict):
        raise FatalError("helm_release: values must be a mapping (or a YAML string of one)")
    metadata = {"name": params["name"], "namespace": params["namespace"], "labels": dict(MANAGED_BY)}
    if params["api_version"] == FLUX_V1:
        chart = {"repository": params["repository"], "name": params["chart"]}
        if params.get("version"):
            chart["version"] = str(params["version"])
        spec = {"releaseName": params["name"], "chart": chart, "values": values}
        return {"apiVersion": FLUX_V1, "kind": "HelmRelease", "metadata": metadata, "spec": spec}, None
    repo_name = params["name"] + "-repo"
    repository = {"apiVersion": "/".join(SOURCE_V1[:2]), "kind": "HelmRepository",
                  "metadata": dict(metadata, name=repo_name),
                  "spec": {"url": params["repository"], "interval": params["interval"]}}
    chart_spec = {"chart": params["chart"], "sourceRef": {"kind": "HelmRepository", "name": repo_name,
                                                          "namespace": params["namespace"]}}
    if params.get("version"):
        chart_spec["version"] = str(params["version"])
    spec = {"releaseName": params["name"], "interval": params["interval"], "chart": {"spec": chart_spec},
            "values": values}
    return {"apiVersion": FLUX_V2, "kind": "HelmRelease", "metadata": metadata, "spec": spec}, repository


def spec_matches(desired, actual):
    if actual is None:
        return False
    have = actual.get("spec") or {}
    rest = {k: v for k, v in desired["spec"].items() if k != "values"}
    return same(rest, have) and (desired["spec"].get("values") or {}) == (have.get("values") or {})


def release_status(obj):
    """``(state, detail)`` with state in ready/failed/pending, for either Flux API version."""
    status = (obj or {}).get("status") or {}
    generation = ((obj or {}).get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    if generation is not None and observed is not None and observed < generation:
        return "pending", "generation %s not yet observed" % generation
    if "phase" in status or "releaseStatus" in status:
        phase = status.get("phase")
        if phase in V1_READY or status.get("releaseStatus") == "deployed" and phase not in V1_FAILED:
            return "ready", phase or "deployed"
        if phase in V1_FAILED:
            return "failed", "%s: %s" % (phase, _last_message(status))
        return "pending", phase or "unknown"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            if condition.get("status") == "True":
                return "ready", condition.get("reason") or "Ready"
            if condition.get("reason") in ("InstallFailed", "UpgradeFailed", "RetriesExceeded", "ArtifactFailed"):
                return "failed", "%s: %s" % (condition.get("reason"), condition.get("message"))
            return "pending", condition.get("reason") or "not ready"
    return "pending", "no status yet"


def _last_message(status):
    conditions = status.get("conditions") or []
    return conditions[-1].get("message") if conditions else ""


class FluxReleases:
    def __init__(self, api, attempts=5, base_delay=0.5):
        self.api = api  # a kubernetes.client.CustomObjectsApi
        self.attempts = attempts
        self.base_delay = base_delay
        self.retried = []

    def _call(self, what, func, *args, **kwargs):
        missing_ok = kwargs.pop("missing_ok", False)

        def once():
            try:
                return func(*args, **kwargs)
            except (ApiException, Urllib3Error) as exc:
                # an absent object is a JSON Status "NotFound"; an absent API (no Flux CRD) is a plain 404 page
                if missing_ok and getattr(exc, "status", None) == 404 and '"NotFound"' in (exc.body or ""):
                    return None
                raise classify(exc, what)

        def on_retry(attempt, exc, delay):
            self.retried.append(str(exc))

        return retry_transient(once, attempts=self.attempts, base_delay=self.base_delay, on_retry=on_retry)

    def get(self, group, version, plural, namespace, name):
        return self._call("get %s %s/%s" % (plural, namespace, name), self.api.get_namespaced_custom_object,
                          group, version, namespace, plural, name, missing_ok=True)

    def apply(self, body, plural, actual):
        group, version = split_api_version(body["apiVersion"])
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        if actual is None:
            return self._call("create %s %s/%s" % (plural, namespace, name), self.api.create_namespaced_custom_object,
                              group, version, namespace, plural, body)
        body = dict(body, metadata=dict(body["metadata"], resourceVersion=actual["metadata"].get("resourceVersion")))
        return self._call("replace %s %s/%s" % (plural, namespace, name), self.api.replace_namespaced_custom_object,
                          group, version, namespace, plural, name, body)

    def delete(self, group, version, plural, namespace, name):
        self._call("delete %s %s/%s" % (plural, namespace, name), self.api.delete_namespaced_custom_object,
                   group, version, namespace, plural, name, missing_ok=True)

    def wait(self, group, version, namespace, name, timeout, sleep=time.sleep, clock=time.monotonic):
        deadline = clock() + timeout
        while True:
            obj = self.get(group, version, "helmreleases", namespace, name)
            state, detail = release_status(obj)
            if state == "ready":
                return obj
            if state == "failed":
                raise FatalError("helm_release: %s/%s failed: %s" % (namespace, name, detail))
            if clock() >= deadline:
                raise TransientError("helm_release: %s/%s not ready after %ss (%s)" % (namespace, name, timeout, detail))
            sleep(0.5)


def ensure_release(flux, params, check_mode):
    group, version = split_api_version(params["api_version"])
    namespace, name = params["namespace"], params["name"]
    actual = flux.get(group, version, "helmreleases", namespace, name)
    result = {"changed": False, "name": name, "namespace": namespace, "api_version": params["api_version"]}
    if params["state"] == "absent":
        result["release"] = None
        if actual is not None:
            result.update(changed=True, diff={"before": actual.get("spec"), "after": {}})
        if not check_mode:
            if actual is not None:
                flux.delete(group, version, "helmreleases", namespace, name)
            if params["api_version"] == FLUX_V2:
                repo = flux.get(SOURCE_V1[0], SOURCE_V1[1], SOURCE_V1[2], namespace, name + "-repo")
                if repo is not None:
                    flux.delete(SOURCE_V1[0], SOURCE_V1[1], SOURCE_V1[2], namespace, name + "-repo")
                    result["changed"] = True
        return result
    release, repository = build_objects(params)
    if repository is not None:
        have_repo = flux.get(SOURCE_V1[0], SOURCE_V1[1], SOURCE_V1[2], namespace, repository["metadata"]["name"])
        if have_repo is None or not same(repository["spec"], have_repo.get("spec")):
            result["changed"] = True
            if not check_mode:
                flux.apply(repository, SOURCE_V1[2], have_repo)
    if not spec_matches(release, actual):
        result.update(changed=True, diff={"before": (actual or {}).get("spec") or {}, "after": release["spec"]})
        if check_mode:
            result["release"] = release
            return result
        actual = flux.apply(release, "helmreleases", actual)
    if params.get("wait") and not check_mode:
        actual = flux.wait(group, version, namespace, name, params["wait_timeout"])
    result["release"] = actual
    state, detail = release_status(actual)
    result["status"] = {"state": state, "detail": detail}
    return result
