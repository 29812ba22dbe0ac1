"""indigo.paas.marathon_app through real ansible-playbook against the Marathon emulator process."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "emulators", "marathon"))
from harness import Emulator, run_tasks  # noqa: E402

EMULATOR = os.path.join(os.path.dirname(__file__), "..", "emulators", "marathon", "server.py")
pytestmark = pytest.mark.emulator


@pytest.fixture
def marathon():
    emulator = Emulator(EMULATOR, "--username", "admin", "--password", "s3cret", "--deploy-seconds", "0.4")
    yield emulator
    emulator.stop()


def app_args(marathon, **extra):
    args = {"endpoint": marathon.url, "username": "admin", "password": "s3cret", "id": "demo/web",
            "image": "nginx:1.27", "cpus": 0.5, "mem": "1 GB", "instances": 2,
            "environment": {"MODE": "prod"}, "secrets": {"DB_PASSWORD": "hunter2"},
            "labels": {"HAPROXY_GROUP": "external"}, "ports": [{"container_port": 80}],
            "volumes": ["web-data:/usr/share/nginx/html:rw:dvdi:rexray", "/srv/logs:/var/log/nginx:ro"],
            "health_checks": [{"protocol": "HTTP", "path": "/"}], "api_retries": 3, "wait_timeout": 20}
    args.update(extra)
    return args


def requests_of(state, method):
    return [path for m, path in state["requests"] if m == method]


def test_lifecycle_create_rerun_update_absent(marathon, tmp_path):
    m = "indigo.paas.marathon_app"
    results, proc = run_tasks(tmp_path, [
        {"module": m, "args": app_args(marathon), "diff": True},
        {"module": m, "args": app_args(marathon)},
        {"module": m, "args": app_args(marathon, instances=3, environment={"MODE": "debug"})},
        {"module": m, "args": app_args(marathon, instances=3, environment={"MODE": "debug"})},
    ])
    created, rerun, updated, rerun2 = results
    assert not created.get("failed"), created
    assert created["changed"] is True and created["id"] == "/demo/web"
    app = created["app"]
    # wait: the deployment is over and every task is healthy
    assert app["tasksRunning"] == 2 and app["tasksHealthy"] == 2 and app["deployments"] == []
    assert app["mem"] == 1024.0 and app["container"]["docker"]["image"] == "nginx:1.27"
    assert app["container"]["volumes"][0]["external"]["name"] == "web-data"
    assert app["container"]["volumes"][1] == {"containerPath": "/var/log/nginx", "hostPath": "/srv/logs", "mode": "RO"}
    assert created["service_ports"] == [10000]
    assert app["env"]["DB_PASSWORD"] == "********"
    assert "hunter2" not in proc.stdout and "s3cret" not in proc.stdout
    assert rerun["changed"] is False and rerun["service_ports"] == [10000]
    assert updated["changed"] is True and updated["app"]["instances"] == 3 and updated["app"]["tasksHealthy"] == 3
    assert updated["service_ports"] == [10000], "an update keeps the assigned service port"
    assert rerun2["changed"] is False
    state = marathon.state()
    # exactly one create and one update reached Marathon: the re-runs changed nothing
    assert requests_of(state, "POST") == ["/v2/apps"] and requests_of(state, "PUT") == ["/v2/apps/demo/web"]
    assert state["apps"]["/demo/web"]["env"] == {"MODE": "debug", "DB_PASSWORD": "hunter2"}

    results, _proc = run_tasks(tmp_path, [
        {"module": m, "args": {"endpoint": marathon.url, "username": "admin", "password": "s3cret",
                               "id": "/demo/web", "state": "absent"}},
        {"module": m, "args": {"endpoint": marathon.url, "username": "admin", "password": "s3cret",
                               "id": "/demo/web", "state": "absent"}},
    ])
    assert results[0]["changed"] is True and results[1]["changed"] is False
    assert marathon.state()["apps"] == {}


def test_check_mode_reports_without_changing(marathon, tmp_path):
    m = "indigo.paas.marathon_app"
    results, _proc = run_tasks(tmp_path, [
        {"module": m, "args": app_args(marathon), "check_mode": True, "diff": True},
        {"module": m, "args": app_args(marathon)},
        {"module": m, "args": app_args(marathon, cpus=2.0), "check_mode": True},
        {"module": m, "args": dict(app_args(marathon), state="absent"), "check_mode": True},
    ])
    would_create, created, would_update, would_delete = results
    assert would_create["changed"] is True and would_create["diff"]["before"] == {}
    assert would_create["diff"]["after"]["env"]["DB_PASSWORD"] == "********"
    assert created["changed"] is True
    assert would_update["changed"] is True and would_delete["changed"] is True
    state = marathon.state()
    assert requests_of(state, "POST") == ["/v2/apps"] and not requests_of(state, "PUT")
    assert not requests_of(state, "DELETE")
    assert state["apps"]["/demo/web"]["cpus"] == 0.5


@pytest.fixture
def slow_marathon():
    # deployments take long enough that the next task finds the app still locked
    emulator = Emulator(EMULATOR, "--username", "admin", "--password", "s3cret", "--deploy-seconds", "3")
    yield emulator
    emulator.stop()


def test_injected_5xx_and_locked_app_are_retried(slow_marathon, tmp_path):
    marathon = slow_marathon
    marathon.inject(method="POST", path_prefix="/v2/apps", status=503, count=2, message="Leader unavailable")
    m = "indigo.paas.marathon_app"
    results, _proc = run_tasks(tmp_path, [
        # no wait: the second call finds the app locked by the running deployment and waits it out
        {"module": m, "args": app_args(marathon, wait=False)},
        {"module": m, "args": app_args(marathon, cpus=1.0)},
    ])
    created, updated = results
    assert not created.get("failed"), created
    assert len(created["retried"]) == 2 and "HTTP 503" in created["retried"][0]
    assert not updated.get("failed"), updated
    assert updated["app"]["cpus"] == 1.0 and updated["app"]["tasksHealthy"] == 2
    assert updated["retried"] == [], "the update waited for the lock instead of being refused"
    assert [m for m, _p in marathon.state()["requests"]].count("PUT") == 1


def test_auth_failure_and_bad_input_are_classified(marathon, tmp_path):
    m = "indigo.paas.marathon_app"
    results, proc = run_tasks(tmp_path, [
        {"module": m, "args": app_args(marathon, password="wrong")},
        {"module": m, "args": app_args(marathon, mem="lots")},
        {"module": m, "args": app_args(marathon, endpoint="http://127.0.0.1:9", api_retries=1)},
        {"module": m, "args": app_args(marathon, volumes=["nocolon"])},
        {"module": m, "args": app_args(marathon, id="sick", image="example/unhealthy:1", wait_timeout=3)},
    ])
    auth, bad_mem, unreachable, bad_volume, sick = results
    assert auth["failed"] and auth["error_class"] == "auth" and "401" in auth["msg"]
    assert bad_mem["failed"] and bad_mem["error_class"] == "fatal" and "not a size" in bad_mem["msg"]
    assert unreachable["failed"] and unreachable["error_class"] == "transient"
    assert bad_volume["failed"] and "SOURCE:CONTAINER_PATH" in bad_volume["msg"]
    assert sick["failed"] and sick["error_class"] == "transient"
    assert "not ready after 3s" in sick["msg"] and "healthy 0 of 2" in sick["msg"]
    assert "wrong" not in proc.stdout
    assert list(marathon.state()["apps"]) == ["/sick"]
