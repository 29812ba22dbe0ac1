# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""The generic provisioning state machine, written once for every provider.

``Engine.ensure`` brings one node template of a deployment to an exact count of instances: it lists
what the site holds by tags (the only source of truth), adopts what exists, creates the missing
indexes concurrently, deletes the surplus (highest indexes first), waits until instances are active
and answer on SSH. If anything fails, every instance *this call* created is deleted before the
error is raised, so a failed run never leaks (unlike IM, see its issues #288 and #1677). Errors go up as
they are: classified provider errors, and anything else as the bug it is (never disguised as a site's).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import concurrent.futures
import dataclasses
import socket
import threading
import time

from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (
    FatalError,
    TransientError,
    retry_transient,
)

DEFAULT_WORKERS = 100  # creates are I/O-bound waits on the cloud API; the providers' retries absorb throttling


@dataclasses.dataclass
class EnsureResult:
    instances: list  # Instance objects, sorted by index (for planned creations in check mode: none)
    created: list  # ids of instances created by this call (names in check mode)
    deleted: list  # ids of instances deleted by this call
    adopted: list  # ids of instances that existed already and were kept
    # other resources of the deployment (networks, groups, keys, IPs, volumes) this call's provider calls
    # created or deleted (as they report them), as Resource dicts {kind, id, name, site}
    created_resources: list = dataclasses.field(default_factory=list)
    deleted_resources: list = dataclasses.field(default_factory=list)

    @property
    def changed(self):
        return bool(self.created or self.deleted or self.created_resources or self.deleted_resources)


def wait_for_port(address, port, timeout, interval=1.0, connect_timeout=3.0):
    """Poll until a TCP ``port`` accepts connections on ``address``; False when ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=connect_timeout):
                return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class Engine:
    """Run the exact-count state machine for one provider (one site)."""

    def __init__(self, provider, max_workers=DEFAULT_WORKERS, ssh_port=22, retry_attempts=5,
                 retry_base_delay=0.5, poll_interval=2.0, log=None):
        self.provider = provider
        self.max_workers = max_workers
        self.ssh_port = ssh_port
        self.retry_attempts = retry_attempts
        self.retry_base_delay = retry_base_delay
        self.poll_interval = poll_interval
        self.log = log or (lambda message: None)

    # -- helpers ---------------------------------------------------------------------------
    def _retry(self, func):
        """One retry layer: a provider that retries its own calls is called once (see providers/base.py)."""
        if getattr(self.provider, "retries_own_calls", False):
            return func()

        def on_retry(attempt, exc, delay):
            self.log("transient error (attempt %d), retrying in %.1fs: %s" % (attempt, delay, exc))

        return retry_transient(func, attempts=self.retry_attempts, base_delay=self.retry_base_delay, on_retry=on_retry)

    def _live(self, deployment, node):
        found = self._retry(lambda: self.provider.find_instances(deployment, node))
        return [inst for inst in found if inst.status != "deleted"]

    @staticmethod
    def _by_index(instances):
        """Map index → instance; duplicates of one index (e.g. a lost create reply) become surplus."""
        keep, duplicates = {}, []
        rank = {"active": 0, "building": 1, "stopped": 2, "error": 3}
        for inst in sorted(instances, key=lambda i: (i.index, rank.get(i.status, 4), i.id)):
            if inst.index in keep:
                duplicates.append(inst)
            else:
                keep[inst.index] = inst
        return keep, duplicates

    def plan(self, deployment, node, count, indexes=None, absent=False):
        """(kept by index, indexes to create, instances to delete in order) for an exact ``count``; with
        ``indexes``, only those indexes are made present (or, ``absent``, deleted): the others stay as they are."""
        if count < 0:
            raise FatalError("count must be >= 0, got %d" % count, self.provider.site_name)
        by_index, duplicates = self._by_index(self._live(deployment, node))
        if indexes is not None:
            if any(index < 0 for index in indexes):
                raise FatalError("indexes must be >= 0, got %s" % sorted(indexes), self.provider.site_name)
            wanted = set(indexes)
            if absent:
                surplus = [by_index.pop(index) for index in sorted(by_index, reverse=True) if index in wanted]
                return by_index, [], surplus + [d for d in duplicates if d.index in wanted]
            return by_index, sorted(wanted - set(by_index)), [d for d in duplicates if d.index in wanted]
        missing = [index for index in range(count) if index not in by_index]
        surplus = [by_index.pop(index) for index in sorted(by_index, reverse=True) if index >= count]
        return by_index, missing, surplus + duplicates

    # -- the state machine -----------------------------------------------------------------
    def ensure(self, spec_for_index, deployment, node, count, wait=True, wait_timeout=600, check_mode=False,
               indexes=None, absent=False):
        """Bring ``node`` of ``deployment`` to exactly ``count`` instances (or ``indexes`` present/absent).

        ``spec_for_index(index)`` returns the InstanceSpec of one index.
        """
        kept, missing, surplus = self.plan(deployment, node, count, indexes, absent)
        if indexes is not None:
            # only the named indexes are this call's business: the others are neither waited for nor reported
            kept = {index: inst for index, inst in kept.items() if index in set(indexes)}
        if check_mode:
            planned = [spec_for_index(index).name for index in missing]
            return EnsureResult(sorted(kept.values(), key=lambda i: i.index), planned, [s.id for s in surplus],
                                [k.id for k in kept.values()])
        # What the call creates or deletes besides instances comes from the provider calls themselves
        # (prepare_deployment, create_instance, delete_instance): nothing lists the site to find out.
        created_resources, deleted_resources = [], []
        deleted = []
        if surplus:
            deleted, deleted_resources = self._delete_many(surplus)
        created_ids = []
        lock = threading.Lock()
        deadline = time.monotonic() + wait_timeout
        starts_deployment = False
        if missing:
            specs = [spec_for_index(index) for index in missing]
            # a deployment this call starts (no instance of it on the site) is removed entirely when the call fails
            starts_deployment = not kept and not self._live(deployment, None)
            try:
                created_resources += self._retry(lambda: self.provider.prepare_deployment(deployment, specs)) or []
            except Exception:  # pylint: disable=broad-except
                self._rollback([], deployment if starts_deployment else None)
                raise
        else:
            specs = []

        def create_one(spec):
            inst = self._create_adopting(spec, created_ids, lock)
            with lock:
                created_resources.extend(inst.created_resources)
            return self._wait_ready(inst, deadline) if wait else inst

        def ready_one(inst):
            return self._wait_ready(inst, deadline) if wait else inst

        workers = max(1, min(self.max_workers, len(specs) + len(kept)))
        results = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(create_one, spec) for spec in specs]
            futures += [pool.submit(ready_one, inst) for inst in kept.values()]
            error = None
            for future in concurrent.futures.as_completed(futures):
                try:
                    results.append(future.result())
                except Exception as exc:  # pylint: disable=broad-except
                    error = error or exc
                    for pending in futures:
                        pending.cancel()  # stop what has not started; running workers finish
        if error is not None:
            self._rollback(created_ids, deployment if starts_deployment else None)
            raise error
        results.sort(key=lambda inst: inst.index)
        return EnsureResult(results, list(created_ids), deleted, [k.id for k in kept.values()],
                            [r.to_dict() for r in created_resources], [r.to_dict() for r in deleted_resources])

    def _create_adopting(self, spec, created_ids, lock):
        """Create one instance; before a retry, adopt an instance the failed attempt may have left."""
        attempts = {"n": 0}

        def attempt():
            attempts["n"] += 1
            if attempts["n"] > 1:
                for inst in self.provider.find_instances(spec.deployment, spec.node):
                    if inst.index == spec.index and inst.status != "deleted":
                        with lock:
                            created_ids.append(inst.id)
                        return inst
            inst = self.provider.create_instance(spec)
            with lock:
                created_ids.append(inst.id)
            return inst

        return self._retry(attempt)

    def _wait_ready(self, inst, deadline):
        remaining = max(1.0, deadline - time.monotonic())
        inst = self._retry(lambda: self.provider.wait_active(inst.id, timeout=remaining, interval=self.poll_interval))
        while not inst.address:  # some clouds report the address a moment after ACTIVE
            if time.monotonic() >= deadline:
                raise TransientError("instance %s has no address" % inst.name, self.provider.site_name)
            time.sleep(self.poll_interval)
            inst = self._retry(lambda: self.provider.get_instance(inst.id)) or inst
        remaining = max(1.0, deadline - time.monotonic())
        if not wait_for_port(inst.address, self.ssh_port, remaining, interval=min(1.0, self.poll_interval)):
            raise TransientError("instance %s (%s): SSH port %d did not answer in time"
                                 % (inst.name, inst.address, self.ssh_port), self.provider.site_name)
        return inst

    def _delete_many(self, instances):
        """Delete concurrently, submitted highest index first; returns (the deleted ids, the other resources
        the deletes removed with them, as the provider's delete_instance reports them)."""
        ordered = sorted(instances, key=lambda inst: inst.index, reverse=True)
        if not ordered:
            return [], []
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(self.max_workers, len(ordered))) as pool:
            futures = [pool.submit(self._retry, lambda i=inst: self.provider.delete_instance(i.id, wait=True)) for inst in ordered]
            errors, resources = [], []
            for future in futures:
                try:
                    resources += future.result() or []
                except Exception as exc:  # pylint: disable=broad-except
                    errors.append(exc)
        if errors:
            raise errors[0]
        return [inst.id for inst in ordered], resources

    def _rollback(self, created_ids, started_deployment=None):
        """Best-effort deletion of what this call created; a rollback failure must not hide the cause.

        ``started_deployment``: the deployment had no instance on the site before this call, so its networks,
        groups and keys go too once no instance of it is left.
        """
        for instance_id in list(created_ids):
            try:
                self._retry(lambda i=instance_id: self.provider.delete_instance(i, wait=True))
            except Exception as exc:  # pylint: disable=broad-except
                self.log("rollback: could not delete %s: %s" % (instance_id, exc))
        if started_deployment:
            try:
                if not self._live(started_deployment, None):
                    self._retry(lambda: self.provider.delete_deployment(started_deployment))
            except Exception as exc:  # pylint: disable=broad-except
                self.log("rollback: could not delete the resources of %s: %s" % (started_deployment, exc))

    # -- whole deployment ------------------------------------------------------------------
    def live_instances(self, deployment, node=None):
        """Live instances of ``deployment`` (and ``node``), transient errors retried."""
        return self._live(deployment, node)

    def find_deployment(self, deployment):
        instances = self._live(deployment, None)
        resources = self._retry(lambda: self.provider.find_resources(deployment))
        return instances, resources

    def teardown(self, deployment, check_mode=False):
        """Delete every instance and resource of ``deployment``; returns the Resource/Instance dicts deleted."""
        instances, resources = self.find_deployment(deployment)
        if check_mode:
            return [{"kind": "instance", "id": i.id, "name": i.name, "site": i.site} for i in instances] + \
                [r.to_dict() for r in resources]
        if not instances and not resources:
            return []
        deleted = self._retry(lambda: self.provider.delete_deployment(deployment))
        return [r.to_dict() for r in deleted]
