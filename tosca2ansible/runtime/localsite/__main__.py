"""``python -m tosca2ansible.runtime.localsite up|down|list|prepare`` — local nodes for people,
molecule scenarios and tests.

  up --deployment ID --nodes N [--node NAME] [--key PUBKEY_FILE] [--inventory FILE] [--packages P ...]
                                                                   boot N ssh-ready nodes, print JSON
                                                                   (--inventory: an Ansible YAML inventory
                                                                   of them, e.g. for molecule)
  down [--deployment ID | --all] [--purge]                         remove nodes (--purge: proxy, bridge)
  list [--deployment ID]                                           print the nodes as JSON
  prepare [--packages P ...]                                       bridge, apt proxy, base image (and the
                                                                   cached package layer holding P)
Exit codes: 0 ok, 1 failure, 3 this machine cannot run local nodes (not root, tool missing).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from tosca2ansible.runtime.localsite import HostNotReady, LocalSite, LocalSiteConfig, LocalSiteError
from tosca2ansible.runtime.localsite.site import DEPLOYMENT_TAG


def _site(args) -> LocalSite:
    settings = {"local": {"state_dir": args.state_dir}} if args.state_dir else None
    return LocalSite(LocalSiteConfig.from_site(settings), log=lambda m: print(m, file=sys.stderr))


def cmd_up(args) -> int:
    site = _site(args)
    started = time.monotonic()
    site.ensure_ready()
    key = open(args.key).read() if args.key else None
    names = ["%s-%s-%d" % (args.deployment, args.node, i) for i in range(args.nodes)]

    def create(index_name):
        index, name = index_name
        tags = {DEPLOYMENT_TAG: args.deployment, "indigo_node": args.node, "indigo_index": str(index)}
        return site.create_node(name, tags, cpus=args.cpus, mem_mb=args.mem_mb, ssh_public_key=key, timeout=args.timeout,
                                packages=args.packages)

    with ThreadPoolExecutor(max_workers=max(1, args.nodes)) as pool:
        records = list(pool.map(create, enumerate(names)))
    if args.inventory:
        write_inventory(args.inventory, args.node, records, site.cfg.known_hosts_file,
                        args.key[: -len(".pub")] if args.key and args.key.endswith(".pub") else None)
    print(json.dumps({"nodes": [r.to_dict() for r in records], "known_hosts": str(site.cfg.known_hosts_file),
                      "seconds": round(time.monotonic() - started, 1)}, indent=1))
    return 0


def write_inventory(path, group, records, known_hosts, private_key):
    """YAML inventory: one group named after the node, host vars to reach each node over SSH."""
    hosts = {}
    for record in records:
        hosts[record.name] = {
            "ansible_host": record.address, "ansible_user": "root",
            "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes" % known_hosts,
        }
        if private_key:
            hosts[record.name]["ansible_ssh_private_key_file"] = private_key
    with open(path, "w") as handle:
        json.dump({"all": {"children": {group: {"hosts": hosts}}}}, handle, indent=1)  # JSON is valid YAML


def cmd_down(args) -> int:
    site = _site(args)
    if args.all or args.purge:
        deleted = site.teardown(everything=args.purge)
    elif args.deployment:
        deleted = site.delete_deployment(args.deployment)
    else:
        print("down: give --deployment ID, --all or --purge", file=sys.stderr)
        return 2
    print(json.dumps({"deleted": deleted}))
    return 0


def cmd_list(args) -> int:
    site = _site(args)
    tags = {DEPLOYMENT_TAG: args.deployment} if args.deployment else {}
    print(json.dumps({"nodes": [r.to_dict() for r in site.nodes(**tags)]}, indent=1))
    return 0


def cmd_prepare(args) -> int:
    site = _site(args)
    site.ensure_ready()
    if args.packages:
        print(site.ensure_layer(args.packages))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tosca2ansible.runtime.localsite", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", help="default /var/lib/indigo-local (env INDIGO_LOCAL_STATE_DIR)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up")
    up.add_argument("--deployment", required=True)
    up.add_argument("--node", default="node")
    up.add_argument("--nodes", type=int, default=1)
    up.add_argument("--cpus", type=int, default=1)
    up.add_argument("--mem-mb", type=int, default=512)
    up.add_argument("--key", help="SSH public key file authorised for root")
    up.add_argument("--timeout", type=float, default=90)
    up.add_argument("--inventory", help="also write an Ansible inventory of the nodes to this file")
    up.add_argument("--packages", nargs="+", default=[], help="boot from the cached layer holding these packages")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down")
    down.add_argument("--deployment")
    down.add_argument("--all", action="store_true")
    down.add_argument("--purge", action="store_true", help="also stop the apt proxy and remove the bridge")
    down.set_defaults(func=cmd_down)
    listing = sub.add_parser("list")
    listing.add_argument("--deployment")
    listing.set_defaults(func=cmd_list)
    prepare = sub.add_parser("prepare")
    prepare.add_argument("--packages", nargs="+", default=[], help="also build the cached layer holding these packages")
    prepare.set_defaults(func=cmd_prepare)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except HostNotReady as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 3
    except (LocalSiteError, ValueError, OSError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
