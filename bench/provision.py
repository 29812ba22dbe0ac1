#!/usr/bin/env python3
"""Provisioning benchmarks, each against a reference measured in the same run.

1. engine: N instances (default 100) through module_utils/engine.py vs. a serial create loop (what IM
   does), every provider API call delayed by --latency seconds (default 1 s). The provider is an
   in-memory test double used only here: the goal is to measure the engine's concurrency, not a cloud.
   Goal: wall(N) <= 2x wall(1 instance).
2. inventory: --inventory-instances (default 10 000) instances of one deployment on a real moto_server;
   ``ansible-inventory --list`` through indigo.paas.deployment, uncached vs. cached (jsonfile).
   Goal: cached <= 0.2 s of plugin time (the printed figures include ansible-inventory start-up, which
   is measured separately with an empty inventory and subtracted).

Usage: .venv/bin/python bench/provision.py [--instances 100] [--latency 1] [--inventory-instances 10000]
"""

import argparse
import concurrent.futures
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "collections"))
VENV_BIN = os.path.dirname(sys.executable)

from ansible_collections.indigo.paas.plugins.module_utils.engine import Engine  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (  # noqa: E402
    Instance, InstanceSpec, Provider)


class SlowProvider(Provider):
    """In-memory provider whose every API call takes ``latency`` seconds (bench only)."""

    kind = "bench"

    def __init__(self, latency):
        super().__init__({"name": "bench", "kind": "bench"})
        self.latency = latency
        self.instances = {}
        self.ids = itertools.count()
        self.lock = threading.Lock()

    def find_instances(self, deployment, node=None):
        time.sleep(self.latency)
        with self.lock:
            return [i for i in self.instances.values() if i.deployment == deployment and (node is None or i.node == node)]

    def find_resources(self, deployment):
        time.sleep(self.latency)
        return []

    def prepare_deployment(self, deployment, specs):
        time.sleep(self.latency)
        return {}

    def create_instance(self, spec):
        time.sleep(self.latency)
        with self.lock:
            inst = Instance("id-%d" % next(self.ids), spec.name, "bench", spec.deployment, spec.node, spec.index,
                            "active", private_ips=["10.0.0.%d" % (spec.index % 250 + 1)])
            self.instances[inst.id] = inst
            return inst

    def get_instance(self, instance_id):
        time.sleep(self.latency)
        return self.instances.get(instance_id)


def spec_for(index):
    return InstanceSpec(deployment="bench", node="wn", index=index)


def bench_engine(count, latency):
    def engine_run(n):
        provider = SlowProvider(latency)
        start = time.monotonic()
        result = Engine(provider).ensure(spec_for, "bench", "wn", n, wait=False)  # default worker pool
        assert len(result.created) == n
        return time.monotonic() - start

    def serial_run(n):
        provider = SlowProvider(latency)
        start = time.monotonic()
        provider.find_instances("bench", "wn")
        provider.prepare_deployment("bench", [])
        for index in range(n):
            provider.create_instance(spec_for(index))
        return time.monotonic() - start

    one = engine_run(1)
    many = engine_run(count)
    serial = serial_run(count)
    print(flush=True)
    print("engine: 1 instance %.2fs | %d instances %.2fs (%.2fx one instance; goal <= 2x) | serial loop %.2fs"
          " | serial/engine = %.1fx" % (one, count, many, many / one, serial, serial / many))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fill_moto(endpoint, total, deployment):
    import boto3

    import botocore.config

    # moto slows down as it fills up: a batch of run_instances near 10 000 instances takes minutes
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                       aws_secret_access_key="bench", config=botocore.config.Config(read_timeout=900))
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    batch = 250

    def one_batch(number):
        node = "node%d" % number
        reply = ec2.run_instances(ImageId=image_id, InstanceType="t3.micro", MinCount=batch, MaxCount=batch,
                                  TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                      {"Key": "indigo_deployment", "Value": deployment}, {"Key": "indigo_node", "Value": node}]}])
        for index, inst in enumerate(reply["Instances"]):
            ec2.create_tags(Resources=[inst["InstanceId"]], Tags=[
                {"Key": "indigo_index", "Value": str(index)}, {"Key": "Name", "Value": "%s-%s-%d" % (deployment, node, index)}])

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for done, _result in enumerate(pool.map(one_batch, range(total // batch)), 1):
            if done % 8 == 0:
                print("  ... %d instances tagged" % (done * batch), flush=True)


def timed(cmd, env):
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return time.monotonic() - start, proc.stdout


def aws_ec2_config(tmp, endpoint):
    path = os.path.join(tmp, "big.aws_ec2.yml")
    with open(path, "w") as handle:
        yaml.safe_dump({"plugin": "amazon.aws.aws_ec2", "regions": ["us-east-1"], "endpoint_url": endpoint,
                        "filters": {"tag:indigo_deployment": "big"}, "hostnames": ["tag:Name"],
                        "keyed_groups": [{"key": "tags.indigo_node", "prefix": "", "separator": ""}],
                        "cache": True, "cache_plugin": "ansible.builtin.jsonfile",
                        "cache_connection": os.path.join(tmp, "aws-cache")}, handle)
    return path


def host_count(output):
    import json

    return len(json.loads(output)["_meta"]["hostvars"])


def bench_inventory(total, aws_collections=None):
    port = free_port()
    moto = subprocess.Popen([os.path.join(VENV_BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 60
        while True:  # moto_server takes 0.6 s on an idle machine, much longer on a busy one
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
                   ANSIBLE_INVENTORY_ENABLED="indigo.paas.deployment,ansible.builtin.yaml")
        start = time.monotonic()
        fill_moto(endpoint, total, "big")
        print("inventory: %d instances created on moto in %.1fs" % (total, time.monotonic() - start))
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "sites.yml"), "w") as handle:
                yaml.safe_dump({"sites": [{"name": "aws", "kind": "aws", "endpoint": endpoint, "region": "us-east-1",
                                           "credentials": {"env": {"access_key": "AWS_ACCESS_KEY_ID",
                                                                   "secret_key": "AWS_SECRET_ACCESS_KEY"}}}]}, handle)
            config = os.path.join(tmp, "big.indigo_deployment.yml")
            with open(config, "w") as handle:
                yaml.safe_dump({"plugin": "indigo.paas.deployment", "deployment": "big",
                                "catalogue": os.path.join(tmp, "sites.yml"), "cache": True,
                                "cache_plugin": "ansible.builtin.jsonfile",
                                "cache_connection": os.path.join(tmp, "cache")}, handle)
            empty = os.path.join(tmp, "empty.yml")
            with open(empty, "w") as handle:
                handle.write("all: {}\n")
            inventory = os.path.join(VENV_BIN, "ansible-inventory")
            baseline, _ = timed([inventory, "-i", empty, "--list"], env)
            uncached, out = timed([inventory, "-i", config, "--list", "--flush-cache"], env)
            assert host_count(out) == total, "not every instance listed"
            cached, out = timed([inventory, "-i", config, "--list"], env)
            assert host_count(out) == total
            print("inventory: ansible-inventory --list of %d hosts: uncached %.2fs, cached %.2fs"
                  " (start-up with an empty inventory %.2fs; plugin+output time uncached %.2fs, cached %.2fs;"
                  " uncached/cached = %.1fx)" % (total, uncached, cached, baseline, uncached - baseline,
                                                 cached - baseline, uncached / cached), flush=True)
            if aws_collections:
                aws_env = dict(env, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections") + os.pathsep + aws_collections,
                               ANSIBLE_INVENTORY_ENABLED="amazon.aws.aws_ec2")
                aws_config = aws_ec2_config(tmp, endpoint)
                aws_uncached, out = timed([inventory, "-i", aws_config, "--list", "--flush-cache"], aws_env)
                assert host_count(out) == total, "aws_ec2 listed %d hosts" % host_count(out)
                aws_cached, out = timed([inventory, "-i", aws_config, "--list"], aws_env)
                print("inventory: amazon.aws.aws_ec2 on the same %d instances: uncached %.2fs, cached %.2fs"
                      " | indigo.paas.deployment/aws_ec2 uncached = %.2fx, cached = %.2fx"
                      % (total, aws_uncached, aws_cached, uncached / aws_uncached, cached / aws_cached))
    finally:
        moto.terminate()
        moto.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--inventory-instances", type=int, default=10000)
    parser.add_argument("--skip-inventory", action="store_true")
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--aws-collections", metavar="DIR",
                        help="a collections dir holding amazon.aws, to time its aws_ec2 inventory on the same data")
    args = parser.parse_args()
    if not args.skip_engine:
        bench_engine(args.instances, args.latency)
    if not args.skip_inventory:
        bench_inventory(args.inventory_instances, args.aws_collections)


if __name__ == "__main__":
    main()
