"""indigo.paas.chronos_job through real ansible-playbook against the Chronos emulator process."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "emulators", "marathon"))
from harness import Emulator, run_tasks  # noqa: E402

EMULATOR = os.path.join(os.path.dirname(__file__), "..", "emulators", "chronos", "server.py")
M = "indigo.paas.chronos_job"
pytestmark = pytest.mark.emulator


@pytest.fixture
def chronos():
    emulator = Emulator(EMULATOR, "--username", "admin", "--password", "s3cret", "--run-seconds", "0.3")
    yield emulator
    emulator.stop()


def job_args(chronos, **extra):
    args = {"endpoint": chronos.url, "username": "admin", "password": "s3cret", "name": "demo-chronos_job",
            "image": "ubuntu:24.04", "command": "printenv", "retries": 1, "cpus": 1.0, "mem": "1 GB",
            "environment": {"INPUT_PATH": "/data/in"}, "secrets": {"INPUT_ONEDATA_TOKEN": "tok-123"}}
    args.update(extra)
    return args


def test_run_once_job_lifecycle(chronos, tmp_path):
    results, proc = run_tasks(tmp_path, [
        {"module": M, "args": job_args(chronos, wait=True, wait_timeout=20), "diff": True},
        {"module": M, "args": job_args(chronos)},
        {"module": M, "args": job_args(chronos, name="demo-after", parents=["demo-chronos_job"], command="ls")},
        {"module": M, "args": job_args(chronos, environment={"INPUT_PATH": "/data/other"})},
        {"module": M, "args": job_args(chronos, environment={"INPUT_PATH": "/data/other"})},
    ])
    created, rerun, dependent, updated, rerun2 = results
    assert not created.get("failed"), created
    assert created["changed"] is True and created["job"]["successCount"] == 1
    # Chronos consumed the single repetition and filled in the start time
    assert created["job"]["schedule"].startswith("R0/20") and created["job"]["schedule"].endswith("/PT1M")
    assert created["job"]["mem"] == 1024.0 and created["job"]["container"]["image"] == "ubuntu:24.04"
    env = {e["name"]: e["value"] for e in created["job"]["environmentVariables"]}
    # environment is no_log (real templates put passwords and tokens there): masked in results, sent as given
    assert env == {"INPUT_PATH": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", "INPUT_ONEDATA_TOKEN": "********"}
    assert "tok-123" not in proc.stdout and "s3cret" not in proc.stdout and "/data/in" not in proc.stdout
    assert rerun["changed"] is False, rerun.get("diff")
    assert dependent["changed"] is True and dependent["job"]["parents"] == ["demo-chronos_job"]
    assert updated["changed"] is True and rerun2["changed"] is False
    state = chronos.state()
    assert [p for m, p in state["requests"] if m == "POST"] == [
        "/v1/scheduler/iso8601", "/v1/scheduler/dependency", "/v1/scheduler/iso8601"]
    stored = {e["name"]: e["value"] for e in state["jobs"]["demo-chronos_job"]["environmentVariables"]}
    assert stored == {"INPUT_PATH": "/data/other", "INPUT_ONEDATA_TOKEN": "tok-123"}

    results, _proc = run_tasks(tmp_path, [
        {"module": M, "args": {"endpoint": chronos.url, "username": "admin", "password": "s3cret",
                               "name": "demo-after", "state": "absent"}, "check_mode": True},
        {"module": M, "args": {"endpoint": chronos.url, "username": "admin", "password": "s3cret",
                               "name": "demo-after", "state": "absent"}},
        {"module": M, "args": {"endpoint": chronos.url, "username": "admin", "password": "s3cret",
                               "name": "demo-after", "state": "absent"}},
    ])
    assert [r["changed"] for r in results] == [True, True, False]
    assert set(chronos.state()["jobs"]) == {"demo-chronos_job"}


def test_check_mode_failed_job_and_errors(chronos, tmp_path):
    chronos.inject(method="GET", path_prefix="/v1/scheduler/jobs/search", status=502, count=1)
    results, proc = run_tasks(tmp_path, [
        {"module": M, "args": job_args(chronos, schedule="R/2030-01-01T00:00:00Z/PT1H"), "check_mode": True},
        {"module": M, "args": job_args(chronos, name="broken", command="echo no; exit 1", wait=True, wait_timeout=20)},
        {"module": M, "args": job_args(chronos, password="wrong")},
        {"module": M, "args": job_args(chronos, schedule="every hour")},
        {"module": M, "args": job_args(chronos, name="has space")},
    ])
    would_create, broken, auth, bad_schedule, bad_name = results
    assert would_create["changed"] is True and len(would_create["retried"]) == 1 and "502" in would_create["retried"][0]
    assert "demo-chronos_job" not in chronos.state()["jobs"], "check mode must not create the job"
    assert broken["failed"] and broken["error_class"] == "fatal" and "failed 2 times" in broken["msg"]
    assert auth["failed"] and auth["error_class"] == "auth"
    assert bad_schedule["failed"] and "ISO 8601" in bad_schedule["msg"]
    assert bad_name["failed"] and "may hold only" in bad_name["msg"]
    assert "wrong" not in proc.stdout
