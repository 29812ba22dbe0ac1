#!/usr/bin/env python3
"""Provisioning benchmarks, each against a reference measured in the same run.

1. engine: N instances (default 100) through module_utils/engine.py vs. a serial create loop (what IM
   does), every provider API call delayed by --latency seconds (default 1 s). The provider is an
   in-memory test double used only here: the goal is to measure the engine's concurrency, not a cloud.
   Goal: wall(N) <= 2x wall(1 instance).
2. inventory: one deployment of --inventory-sizes instances (default 1000,5000,10000; the same moto_server
   is filled up step by step) listed by indigo.paas.deployment and, with --aws-collections, by
   amazon.aws.aws_ec2 on the same data. Each listing runs in a fresh interpreter that times the plugin's
   parse() and the whole InventoryManager load, uncached (--flush-cache) then cached (jsonfile);
   ``ansible-inventory --list`` on the warm cache and its start-up with an empty inventory are timed too.
   Goal: no slower than aws_ec2; cached parse <= 0.2 s at 10 000 instances.
   moto answers DescribeInstances in O(instances x tagged resources): each instance's tags are found by
   scanning every tag of the region, so a 10 000-instance listing takes many minutes of moto CPU alone.
   --moto indexed (default) runs moto_server with that one lookup replaced by a dict lookup (same answers
   on the wire); --moto stock runs it as released.

Usage: .venv/bin/python bench/provision.py [--instances 100] [--latency 1] [--inventory-sizes 1000,5000,10000]
       [--moto indexed|stock] [--aws-collections DIR]
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
VENV_BIN = os.path.dirname(sys.executable)


def engine_classes():
    """Engine and the bench provider, imported on use: the --time-parse children must leave the
    collection to ansible's own collection loader."""
    sys.path.insert(0, os.path.join(ROOT, "collections"))
    from ansible_collections.indigo.paas.plugins.module_utils.engine import Engine
    from ansible_collections.indigo.paas.plugins.module_utils.providers.base import Instance, InstanceSpec, Provider

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

    return Engine, InstanceSpec, SlowProvider


def bench_engine(count, latency):
    Engine, InstanceSpec, SlowProvider = engine_classes()

    def spec_for(index):
        return InstanceSpec(deployment="bench", node="wn", index=index)

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


def serve_moto(port, indexed):
    """moto_server in this process; ``indexed`` finds a resource's tags by id instead of scanning them all."""
    if indexed:
        from moto.ec2.models.core import TaggedEC2Resource
        from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

        def get_tags(resource):
            if not resource.id:
                return []
            kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource.id), "")
            return [{"resource_id": resource.id, "key": key, "value": value, "resource_type": kind}
                    for key, value in resource.ec2_backend.tags.get(resource.id, {}).items()]

        TaggedEC2Resource.get_tags = get_tags
    from moto.server import main as moto_main

    moto_main(["-H", "127.0.0.1", "-p", str(port)])


def start_moto(indexed):
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve-moto", str(port)]
                            + (["--moto-indexed"] if indexed else []),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 60
    while True:  # moto_server takes 0.6 s on an idle machine, much longer on a busy one
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=2).close()
            return proc, endpoint
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit("moto_server did not start")
            time.sleep(0.2)


def fill_moto(endpoint, first, total, deployment, batch=500):
    """Instances ``first``..``total`` of one deployment: run_instances batches carry the deployment and node
    tags (TagSpecifications); index and Name differ per instance, so they take one create_tags each."""
    import boto3

    import botocore.config

    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                       aws_secret_access_key="bench",
                       config=botocore.config.Config(read_timeout=1800, max_pool_connections=8, retries={"max_attempts": 1}))
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]

    def tag_one(item):
        node, index, instance_id = item
        ec2.create_tags(Resources=[instance_id], Tags=[
            {"Key": "indigo_index", "Value": str(index)}, {"Key": "Name", "Value": "%s-%s-%d" % (deployment, node, index)}])

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for offset in range(first, total, batch):
            node = "node%d" % (offset // batch)
            count = min(batch, total - offset)
            reply = ec2.run_instances(ImageId=image_id, InstanceType="t3.micro", MinCount=count, MaxCount=count,
                                      TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                          {"Key": "indigo_deployment", "Value": deployment}, {"Key": "indigo_node", "Value": node}]}])
            list(pool.map(tag_one, [(node, index, inst["InstanceId"]) for index, inst in enumerate(reply["Instances"])]))


def time_parse(config, plugin_name, flush):
    """Run in a fresh interpreter: load one inventory source as ansible-inventory does, print timings."""
    import json

    begin = time.monotonic()
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader, inventory_loader

    init_plugin_loader()
    plugin_class = type(inventory_loader.get(plugin_name))
    original_parse, parse_times = plugin_class.parse, []

    def timed_parse(self, *args, **kwargs):
        start = time.monotonic()
        try:
            return original_parse(self, *args, **kwargs)
        finally:
            parse_times.append(time.monotonic() - start)

    plugin_class.parse = timed_parse
    loaded = time.monotonic()
    manager = InventoryManager(loader=DataLoader(), sources=[config], cache=not flush)
    print(json.dumps({"setup": loaded - begin, "load": time.monotonic() - loaded, "parse": sum(parse_times),
                      "hosts": len(manager.hosts)}))


def measure(config, plugin_name, env, flush):
    import json

    start = time.monotonic()
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--time-parse", config, plugin_name]
                          + (["--flush"] if flush else []), env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process"] = time.monotonic() - start
    return result


def timed(cmd, env):
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return time.monotonic() - start, proc.stdout


def host_count(output):
    import json

    return len(json.loads(output)["_meta"]["hostvars"])


def write_configs(tmp, endpoint, deployment):
    with open(os.path.join(tmp, "sites.yml"), "w") as handle:
        yaml.safe_dump({"sites": [{"name": "aws", "kind": "aws", "endpoint": endpoint, "region": "us-east-1",
                                   "credentials": {"env": {"access_key": "AWS_ACCESS_KEY_ID",
                                                           "secret_key": "AWS_SECRET_ACCESS_KEY"}}}]}, handle)
    ours = os.path.join(tmp, "%s.indigo_deployment.yml" % deployment)
    with open(ours, "w") as handle:
        yaml.safe_dump({"plugin": "indigo.paas.deployment", "deployment": deployment,
                        "catalogue": os.path.join(tmp, "sites.yml"), "cache": True,
                        "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": os.path.join(tmp, "cache")}, handle)
    # aws_ec2 set up to give the same hosts and node groups (its hosts have ~60 more vars from boto3)
    theirs = os.path.join(tmp, "%s.aws_ec2.yml" % deployment)
    with open(theirs, "w") as handle:
        yaml.safe_dump({"plugin": "amazon.aws.aws_ec2", "regions": ["us-east-1"], "endpoint_url": endpoint,
                        "filters": {"tag:indigo_deployment": deployment}, "hostnames": ["tag:Name"],
                        "keyed_groups": [{"key": "tags.indigo_node", "prefix": "", "separator": ""}],
                        "cache": True, "cache_plugin": "ansible.builtin.jsonfile",
                        "cache_connection": os.path.join(tmp, "aws-cache")}, handle)
    empty = os.path.join(tmp, "empty.yml")
    with open(empty, "w") as handle:
        handle.write("all: {}\n")
    return ours, theirs, empty


def bench_plugin(label, config, plugin_name, env, total):
    uncached = measure(config, plugin_name, env, flush=True)
    cached = measure(config, plugin_name, env, flush=False)
    assert uncached["hosts"] == cached["hosts"] == total, "%s listed %s/%s of %d hosts" % (
        label, uncached["hosts"], cached["hosts"], total)
    cli, out = timed([os.path.join(VENV_BIN, "ansible-inventory"), "-i", config, "--list"], env)
    assert host_count(out) == total
    print("  %-22s parse() uncached %7.2fs | cached %6.3fs | inventory load cached %6.3fs | "
          "ansible-inventory --list cached %6.2fs" % (label, uncached["parse"], cached["parse"], cached["load"], cli),
          flush=True)
    return {"uncached": uncached["parse"], "cached": cached["parse"], "load": cached["load"], "cli": cli}


def bench_inventory(sizes, aws_collections=None, indexed=True):
    moto, endpoint = start_moto(indexed)
    deployment = "big"
    collections = os.path.join(ROOT, "collections")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
               ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_INVENTORY_ENABLED="indigo.paas.deployment,ansible.builtin.yaml")
    aws_env = dict(env, ANSIBLE_COLLECTIONS_PATH=collections + os.pathsep + (aws_collections or ""),
                   ANSIBLE_INVENTORY_ENABLED="amazon.aws.aws_ec2")
    print("inventory: moto_server %s" % ("with tags looked up by id (--moto indexed)" if indexed else "as released (--moto stock)"))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ours, theirs, empty = write_configs(tmp, endpoint, deployment)
            startup, _ = timed([os.path.join(VENV_BIN, "ansible-inventory"), "-i", empty, "--list"], env)
            print("inventory: ansible-inventory start-up with an empty inventory %.2fs" % startup, flush=True)
            filled = 0
            for total in sizes:
                start = time.monotonic()
                fill_moto(endpoint, filled, total, deployment)
                filled = total
                print("inventory: %d instances on moto (+%.1fs to fill)" % (total, time.monotonic() - start), flush=True)
                mine = bench_plugin("indigo.paas.deployment", ours, "indigo.paas.deployment", env, total)
                if not aws_collections:
                    continue
                other = bench_plugin("amazon.aws.aws_ec2", theirs, "amazon.aws.aws_ec2", aws_env, total)
                print("  ratio indigo/aws_ec2 at %d: parse uncached %.2fx, parse cached %.3fx, ansible-inventory"
                      " cached %.2fx (goal: <= 1; cached parse <= 0.2 s: %s)"
                      % (total, mine["uncached"] / other["uncached"], mine["cached"] / other["cached"],
                         mine["cli"] / other["cli"], "met" if mine["cached"] <= 0.2 else "NOT met"), flush=True)
    finally:
        moto.terminate()
        moto.wait(timeout=10)


def main():
    if sys.argv[1:2] == ["--serve-moto"]:
        return serve_moto(int(sys.argv[2]), indexed="--moto-indexed" in sys.argv)
    if sys.argv[1:2] == ["--time-parse"]:
        return time_parse(sys.argv[2], sys.argv[3], flush="--flush" in sys.argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--inventory-sizes", default="1000,5000,10000",
                        help="comma-separated deployment sizes, measured in turn on one growing moto_server")
    parser.add_argument("--moto", choices=("indexed", "stock"), default="indexed")
    parser.add_argument("--skip-inventory", action="store_true")
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--aws-collections", metavar="DIR",
                        help="a collections dir holding amazon.aws, to time its aws_ec2 inventory on the same data")
    args = parser.parse_args()
    if not args.skip_engine:
        bench_engine(args.instances, args.latency)
    if not args.skip_inventory:
        sizes = sorted(int(size) for size in args.inventory_sizes.split(","))
        bench_inventory(sizes, args.aws_collections, indexed=args.moto == "indexed")


if __name__ == "__main__":
    main()
