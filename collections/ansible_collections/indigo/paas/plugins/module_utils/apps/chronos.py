# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""Chronos jobs (TOSCA ``tosca.nodes.indigo.Container.Application.Docker.Chronos``).

A job with ``parents`` is a dependent job (``/v1/scheduler/dependency``); any other is scheduled
(``/v1/scheduler/iso8601``). Chronos rewrites a schedule as it runs (an empty start becomes the time of
submission, ``R1`` becomes ``R0`` after the run), so schedules are compared by meaning, not by text.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.indigo.paas.plugins.module_utils.apps.rest import parse_size_mb, same
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import FatalError, TransientError

# The INDIGO orchestrator ran a job without a schedule once, right away.
RUN_ONCE = "R1//PT1M"
JOB_NAME = re.compile(r"^[\w.-]+$")
SCHEDULE = re.compile(r"^R(\d*)/([^/]*)/(P[0-9YMWDTHS.]+)$")


def parse_schedule(text):
    match = SCHEDULE.match(str(text or ""))
    if not match:
        raise FatalError("chronos_job: schedule %r is not an ISO 8601 repeating interval such as "
                         "'R/2026-01-01T00:00:00Z/PT1H' or 'R1//PT1M'" % text)
    repeats = int(match.group(1)) if match.group(1) else None
    return repeats, match.group(2), match.group(3)


def schedule_matches(desired, actual):
    """True when ``actual`` is ``desired`` as Chronos keeps it (start filled in, runs consumed)."""
    try:
        want_repeats, want_start, want_period = parse_schedule(desired)
        have_repeats, have_start, have_period = parse_schedule(actual)
    except FatalError:
        return False
    if want_period != have_period:
        return False
    if want_start and not have_start.startswith(want_start.rstrip("Z").split(".")[0]):
        return False
    if want_repeats is None:
        return have_repeats is None
    return have_repeats is not None and have_repeats <= want_repeats


def check_name(name):
    if not JOB_NAME.match(name or ""):
        raise FatalError("chronos_job: name %r may hold only letters, digits, '_', '.' and '-'" % name)
    return name


def build_job(params):
    name = check_name(params.get("name"))
    if not params.get("command"):
        raise FatalError("chronos_job: 'command' is required with state=present")
    container = None
    if params.get("image"):
        volumes = []
        for volume in params.get("volumes") or []:
            parts = volume.split(":") if isinstance(volume, str) else [
                volume.get("host_path", ""), volume.get("container_path", ""), volume.get("mode", "rw")]
            if len(parts) < 2 or not parts[1]:
                raise FatalError("chronos_job: volume %r must be 'HOST_PATH:CONTAINER_PATH[:MODE]'" % (volume,))
            volumes.append({"hostPath": parts[0], "containerPath": parts[1],
                            "mode": (parts[2] if len(parts) > 2 and parts[2] else "rw").upper()})
        container = {"type": "DOCKER", "image": params["image"], "network": params.get("network") or "BRIDGE",
                     "forcePullImage": bool(params.get("force_pull_image")), "volumes": volumes,
                     "parameters": [{"key": "privileged", "value": "true"}] if params.get("privileged") else []}
    job = {
        "name": name,
        "command": params["command"],
        "shell": bool(params.get("shell", True)),
        "description": params.get("description") or "",
        "owner": params.get("owner") or "",
        "epsilon": params.get("epsilon") or "PT10S",
        "retries": int(params.get("retries") if params.get("retries") is not None else 2),
        "cpus": float(params.get("cpus") if params.get("cpus") is not None else 0.1),
        "mem": parse_size_mb(params.get("mem"), "mem") or 128.0,
        "disk": parse_size_mb(params.get("disk"), "disk") or 256.0,
        "environmentVariables": [{"name": str(k), "value": str(v)} for k, v in sorted(
            dict(params.get("environment") or {}, **(params.get("secrets") or {})).items())],
        "uris": list(params.get("uris") or []),
        "constraints": [[str(x) for x in c] for c in (params.get("constraints") or [])],
        "disabled": bool(params.get("disabled")),
    }
    if container:
        job["container"] = container
    if params.get("parents"):
        if params.get("schedule"):
            raise FatalError("chronos_job: a job has either a schedule or parents, not both")
        job["parents"] = list(params["parents"])
    else:
        parse_schedule(params.get("schedule") or RUN_ONCE)
        job["schedule"] = params.get("schedule") or RUN_ONCE
    return job


def job_matches(desired, actual):
    if actual is None:
        return False
    rest = {k: v for k, v in desired.items() if k not in ("schedule", "environmentVariables")}
    if not same(rest, actual):
        return False
    have_env = sorted((e.get("name"), e.get("value")) for e in actual.get("environmentVariables") or [])
    if have_env != [(e["name"], e["value"]) for e in desired["environmentVariables"]]:
        return False
    if "schedule" in desired:
        return not actual.get("parents") and schedule_matches(desired["schedule"], actual.get("schedule"))
    return True


class Chronos:
    def __init__(self, client):
        self.client = client

    def get(self, name):
        _status, payload, _loc = self.client.request("GET", "/v1/scheduler/jobs/search?name=%s" % name)
        # search matches substrings: keep the exact name only
        found = [job for job in payload or [] if job.get("name") == name]
        return found[0] if found else None

    def put(self, job):
        path = "/v1/scheduler/dependency" if job.get("parents") else "/v1/scheduler/iso8601"
        self.client.request("POST", path, job)

    def delete(self, name):
        self.client.request("DELETE", "/v1/scheduler/job/%s" % name)

    def wait_run(self, name, before, timeout, sleep=time.sleep, clock=time.monotonic):
        """Until the job has a new success (returned) or has failed every retry (FatalError)."""
        deadline = clock() + timeout
        before_ok = (before or {}).get("successCount", 0)
        before_err = (before or {}).get("errorCount", 0)
        while True:
            job = self.get(name)
            if job is None:
                raise FatalError("chronos_job: job %s disappeared while waiting for its run" % name)
            if job.get("successCount", 0) > before_ok:
                return job
            if job.get("errorCount", 0) - before_err > job.get("retries", 0):
                raise FatalError("chronos_job: job %s failed %d times (last error %s)"
                                 % (name, job["errorCount"] - before_err, job.get("lastError")))
            if clock() >= deadline:
                raise TransientError("chronos_job: job %s has not succeeded after %ss (successes %s, errors %s)"
                                     % (name, timeout, job.get("successCount"), job.get("errorCount")))
            sleep(0.3)


def redact(job, secret_names):
    """A copy of ``job`` safe to return: values of secret environment variables masked."""
    if not job or not secret_names:
        return job
    copy = dict(job)
    copy["environmentVariables"] = [dict(e, value="********") if e.get("name") in secret_names else e
                                    for e in job.get("environmentVariables") or []]
    return copy


def ensure_job(chronos, params, check_mode):
    result = _ensure_job(chronos, params, check_mode)
    secret_names = set((params.get("secrets") or {}).keys())
    result["job"] = redact(result.get("job"), secret_names)
    if "diff" in result:
        result["diff"] = {k: redact(v, secret_names) for k, v in result["diff"].items()}
    return result


def _ensure_job(chronos, params, check_mode):
    name = check_name(params.get("name"))
    actual = chronos.get(name)
    result = {"changed": False, "name": name}
    if params["state"] == "absent":
        result["job"] = None
        if actual is not None:
            result.update(changed=True, diff={"before": actual, "after": {}})
            if not check_mode:
                chronos.delete(name)
        return result
    desired = build_job(params)
    if job_matches(desired, actual):
        result["job"] = actual
        return result
    result.update(changed=True, diff={"before": actual or {}, "after": desired})
    if check_mode:
        result["job"] = desired
        return result
    chronos.put(desired)
    if params.get("wait"):
        result["job"] = chronos.wait_run(name, actual, params["wait_timeout"])
    else:
        result["job"] = chronos.get(name)
    return result
