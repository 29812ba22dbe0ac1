"""Pure logic of the app modules (no service): size parsing, INDIGO volume strings, schedule
comparison, Flux status reading and request bodies. Fast; the service round trips are in the other
test_app_modules_* files."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "collections"))
from ansible_collections.indigo.paas.plugins.module_utils.apps import chronos, helm, marathon  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.apps.rest import parse_size_mb, same  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import FatalError  # noqa: E402


@pytest.mark.parametrize("value,expected", [
    ("1 GB", 1024.0), ("512 MB", 512.0), ("2GiB", 2048.0), (256, 256.0), ("300", 300.0), ("1.5 GB", 1536.0),
])
def test_sizes_follow_indigo_container_semantics(value, expected):
    assert parse_size_mb(value) == expected


@pytest.mark.parametrize("bad", ["lots", "1 parsec", "GB"])
def test_bad_sizes_are_clear_errors(bad):
    with pytest.raises(FatalError, match="size|unit"):
        parse_size_mb(bad)


def test_indigo_volume_strings():
    assert marathon.parse_volume("marathon:/data:rw:dvdi:rexray") == {
        "containerPath": "/data", "mode": "RW",
        "external": {"name": "marathon", "provider": "dvdi", "options": {"dvdi/driver": "rexray"}}}
    assert marathon.parse_volume("/srv/x:/x:ro") == {"containerPath": "/x", "hostPath": "/srv/x", "mode": "RO"}
    with pytest.raises(FatalError, match="mode"):
        marathon.parse_volume("/a:/b:rwx")


def test_same_ignores_server_filled_fields_but_not_removals():
    assert same({"a": 1, "m": [{"p": 80}]}, {"a": 1, "extra": 2, "m": [{"p": 80, "servicePort": 10000}]})
    assert not same({"env": {}}, {"env": {"OLD": "1"}})
    assert not same({"m": [{"p": 80}]}, {"m": [{"p": 80}, {"p": 81}]})
    assert same({"cpus": 1.0}, {"cpus": 1})


@pytest.mark.parametrize("desired,actual,expected", [
    ("R1//PT1M", "R0/2026-11-22T01:00:00.000Z/PT1M", True),
    ("R1//PT1M", "R2/2026-11-22T01:00:00.000Z/PT1M", False),
    ("R/2030-01-01T00:00:00Z/PT1H", "R/2030-01-01T00:00:00.000Z/PT1H", True),
    ("R/2030-01-01T00:00:00Z/PT1H", "R/2030-01-02T00:00:00.000Z/PT1H", False),
    ("R/2030-01-01T00:00:00Z/PT1H", "R5/2030-01-01T00:00:00.000Z/PT1H", False),
    ("R1//PT1M", "R1//PT2M", False),
])
def test_chronos_schedules_compare_by_meaning(desired, actual, expected):
    assert chronos.schedule_matches(desired, actual) is expected


def test_chronos_job_body():
    job = chronos.build_job({"name": "j", "command": "ls", "image": "alpine", "privileged": True,
                             "environment": {"B": 2}, "secrets": {"A": "s"}, "volumes": ["/h:/c"], "parents": ["p"]})
    assert job["parents"] == ["p"] and "schedule" not in job
    assert job["environmentVariables"] == [{"name": "A", "value": "s"}, {"name": "B", "value": "2"}]
    assert job["container"]["volumes"] == [{"hostPath": "/h", "containerPath": "/c", "mode": "RW"}]
    assert job["container"]["parameters"] == [{"key": "privileged", "value": "true"}]
    masked = chronos.redact(job, {"A"})
    assert masked["environmentVariables"][0]["value"] == "********" and job["environmentVariables"][0]["value"] == "s"


@pytest.mark.parametrize("obj,state", [
    ({"metadata": {"generation": 1}, "status": {"phase": "Succeeded", "observedGeneration": 1}}, "ready"),
    ({"metadata": {"generation": 2}, "status": {"phase": "Succeeded", "observedGeneration": 1}}, "pending"),
    ({"metadata": {"generation": 1}, "status": {"phase": "ChartFetchFailed", "observedGeneration": 1}}, "failed"),
    ({"metadata": {"generation": 1}, "status": {"phase": "Installing"}}, "pending"),
    ({"metadata": {"generation": 3}, "status": {"observedGeneration": 3, "conditions": [
        {"type": "Ready", "status": "True", "reason": "UpgradeSucceeded"}]}}, "ready"),
    ({"metadata": {"generation": 3}, "status": {"observedGeneration": 3, "conditions": [
        {"type": "Ready", "status": "False", "reason": "UpgradeFailed", "message": "x"}]}}, "failed"),
    ({"metadata": {"generation": 1}}, "pending"),
])
def test_flux_status_for_both_api_versions(obj, state):
    assert helm.release_status(obj)[0] == state


def test_flux_v2_bodies_reference_their_repository():
    params = {"name": "r", "namespace": "ns", "chart": "c", "repository": "https://h/", "version": 1.2,
              "values": {"a": 1}, "api_version": helm.FLUX_V2, "interval": "5m"}
    release, repo = helm.build_objects(params)
    assert repo["spec"] == {"url": "https://h/", "interval": "5m"} and repo["metadata"]["name"] == "r-repo"
    assert release["spec"]["chart"]["spec"] == {"chart": "c", "version": "1.2",
                                                "sourceRef": {"kind": "HelmRepository", "name": "r-repo", "namespace": "ns"}}
    v1, none = helm.build_objects(dict(params, api_version=helm.FLUX_V1))
    assert none is None and v1["spec"]["chart"] == {"repository": "https://h/", "name": "c", "version": "1.2"}
