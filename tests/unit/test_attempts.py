"""The attempt loop over ranked sites: what moves on, what is torn down, what the timeouts do."""

import os
import subprocess
import sys
import time

import pytest

from tosca2ansible.errors import DeploymentFailed, EnvironmentProblem, UserInputError
from tosca2ansible.runtime.attempts import (DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OVERALL_TIMEOUT, classify, run_attempts,
                                           stop_jobs_of_run)
from tosca2ansible.runtime.runner import RunResult


def result(status="successful", rc=0, classes=(), failures=("h: t: boom",), run_id="r"):
    ok = status == "successful" and rc == 0
    return RunResult(run_id=run_id, status=status, rc=rc, changed=0, failures=[] if ok else list(failures),
                     stats={}, artifacts_dir="/nowhere", error_classes=list(classes))


class Recorder:
    def __init__(self, outcomes):
        self.outcomes = outcomes  # site name -> RunResult or exception
        self.calls, self.teardowns, self.records = [], [], []

    def run_one(self, site, timeout):
        self.calls.append((site["name"], timeout))
        outcome = self.outcomes[site["name"]]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def teardown(self, site, res):
        # the order matters: the failed attempt is torn down before the next one starts
        self.teardowns.append((site["name"], len(self.calls)))
        return ["%s-vm-0" % site["name"]]

    def record(self, attempt):
        self.records.append(attempt)


SITES = [{"name": "a"}, {"name": "b"}, {"name": "c"}]


def test_quota_then_configuration_failure_then_success():
    rec = Recorder({"a": result("failed", 2, ["quota"]), "b": result("failed", 2, []), "c": result(run_id="ok")})
    res, site, attempts = run_attempts(SITES, rec.run_one, rec.teardown, rec.record)
    assert site["name"] == "c" and res.run_id == "ok"
    assert [(a.site, a.outcome, a.error_class) for a in rec.records] == [
        ("a", "failed", "quota"), ("b", "failed", "configuration"), ("c", "ok", None)]
    assert rec.teardowns == [("a", 1), ("b", 2)]  # each torn down before the next attempt ran
    assert rec.records[0].cleaned == ["a-vm-0"]


def test_auth_failure_skips_the_site():
    rec = Recorder({"a": result("failed", 2, ["auth"]), "b": result()})
    _, site, _ = run_attempts(SITES[:2], rec.run_one, rec.teardown, rec.record)
    assert site["name"] == "b" and rec.records[0].outcome == "skipped" and rec.records[0].error_class == "auth"


def test_missing_host_tools_skip_a_site_without_teardown():
    rec = Recorder({"a": EnvironmentProblem("no systemd-nspawn"), "b": result()})
    _, site, _ = run_attempts(SITES[:2], rec.run_one, rec.teardown, rec.record)
    assert site["name"] == "b" and rec.teardowns == []
    assert rec.records[0].outcome == "skipped" and "systemd-nspawn" in rec.records[0].message


def test_every_site_failing_names_each_attempt():
    rec = Recorder({"a": result("failed", 2, ["transient"]), "b": result("failed", 2, ["fatal"])})
    with pytest.raises(DeploymentFailed) as err:
        run_attempts(SITES[:2], rec.run_one, rec.teardown, rec.record)
    assert "a: failed (transient); b: failed (fatal)" in str(err.value)
    assert [t[0] for t in rec.teardowns] == ["a", "b"]


def test_attempt_timeout_is_transient_and_torn_down():
    rec = Recorder({"a": result("timeout", 254), "b": result()})
    _, site, _ = run_attempts(SITES[:2], rec.run_one, rec.teardown, rec.record, attempt_timeout=60)
    assert site["name"] == "b"
    assert rec.calls[0] == ("a", 60)
    assert (rec.records[0].outcome, rec.records[0].error_class) == ("timeout", "transient")
    assert rec.teardowns[0][0] == "a"


def test_overall_timeout_tears_down_the_running_attempt_and_stops():
    now = [0.0]

    def clock():
        return now[0]

    def run_one(site, timeout):
        now[0] += timeout  # the attempt runs until the budget given is spent
        return result("timeout", 254)

    rec = Recorder({})
    with pytest.raises(DeploymentFailed) as err:
        run_attempts(SITES, run_one, rec.teardown, rec.record, attempt_timeout=100, overall_timeout=150, clock=clock)
    assert "overall timeout of 150s" in str(err.value)
    # attempt 1 used 100 s; attempt 2 got the 50 s left, was cut and torn down; no third attempt
    assert [t[0] for t in rec.teardowns] == ["a", "b"]
    assert [a.site for a in rec.records] == ["a", "b"]
    assert "overall timeout" in rec.records[1].message


@pytest.mark.parametrize("error_class", ["quota", "transient", "fatal", "configuration"])
def test_every_failure_class_moves_on_not_only_5xx(error_class):
    # INDIGO moved to the next provider on 5xx answers only
    classes = [] if error_class == "configuration" else [error_class]
    rec = Recorder({"a": result("failed", 2, classes), "b": result()})
    _, site, _ = run_attempts(SITES[:2], rec.run_one, rec.teardown, rec.record)
    assert site["name"] == "b"
    assert (rec.records[0].outcome, rec.records[0].error_class) == ("failed", error_class)
    assert rec.teardowns == [("a", 1)]


def test_user_error_stops_at_once():
    rec = Recorder({"a": UserInputError("template.yaml:3: unknown input"), "b": result()})
    with pytest.raises(UserInputError):
        run_attempts(SITES[:2], rec.run_one, rec.teardown, rec.record)
    assert [c[0] for c in rec.calls] == ["a"] and rec.teardowns == []


def test_default_timeouts_are_sane_and_the_cli_uses_them():
    # INDIGO: 10 days per site, no overall timeout
    from tosca2ansible.cli.deploy_cmd import deploy_command

    assert (DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OVERALL_TIMEOUT) == (30 * 60, 2 * 60 * 60)
    options = {p.name: p.default for p in deploy_command.params}
    assert (options["attempt_timeout"], options["overall_timeout"]) == (DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OVERALL_TIMEOUT)
    rec = Recorder({"a": result()})
    run_attempts(SITES[:1], rec.run_one, rec.teardown, rec.record)
    assert rec.calls == [("a", DEFAULT_ATTEMPT_TIMEOUT)]


def test_attempt_budget_never_exceeds_what_is_left_of_the_overall_timeout():
    now = [0.0]

    def run_one(site, timeout):
        rec.calls.append((site["name"], timeout))
        now[0] += 70
        return result("failed", 2, ["quota"])

    rec = Recorder({})
    with pytest.raises(DeploymentFailed) as err:
        run_attempts(SITES, run_one, rec.teardown, rec.record, attempt_timeout=100, overall_timeout=160,
                     clock=lambda: now[0])
    assert rec.calls == [("a", 100), ("b", 90), ("c", 20)]
    assert "no site could take the deployment" in str(err.value)


def test_overall_timeout_before_a_site_is_tried_records_no_attempt_for_it():
    now = [0.0]

    def run_one(site, timeout):
        now[0] += 200  # a failure that took the whole budget without being a timeout
        return result("failed", 2, ["transient"])

    rec = Recorder({})
    with pytest.raises(DeploymentFailed) as err:
        run_attempts(SITES, run_one, rec.teardown, rec.record, attempt_timeout=300, overall_timeout=150,
                     clock=lambda: now[0])
    assert [a.site for a in rec.records] == ["a"] and rec.teardowns == [("a", 0)]
    assert "overall timeout of 150s reached after 1 attempt(s)" in str(err.value)


def test_classify_prefers_the_modules_classification():
    assert classify(result("failed", 2, ["fatal", "quota"])) == "quota"
    assert classify(result("failed", 2, [])) == "configuration"
    assert classify(result("timeout", 254)) == "transient"


def test_stop_jobs_of_run_kills_detached_jobs_of_that_run_only():
    env = dict(os.environ, INDIGO_RUN_ID="run-to-stop")
    other = dict(os.environ, INDIGO_RUN_ID="another-run")
    target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env, start_new_session=True)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=other, start_new_session=True)
    try:
        time.sleep(0.3)
        stopped = stop_jobs_of_run("run-to-stop")
        assert stopped == [target.pid]
        assert target.wait(timeout=10) is not None
        assert bystander.poll() is None
    finally:
        for proc in (target, bystander):
            proc.kill()
            proc.wait()
