"""A receptor mesh for remote execution, the way AWX dispatches jobs to execution nodes.

One control node (this host: the ``receptorctl`` socket the runtime talks to) and execution nodes, each
its own ``receptor`` daemon with its own data and job directories, peered to the control node over TCP,
offering the work type ``ansible-runner`` (``ansible-runner worker``, as AWX's execution nodes do).

The receptor binary is Debian's ``receptor`` package (trixie; bookworm has none): ``$INDIGO_RECEPTOR``,
else ``receptor`` on PATH, else the trixie .deb fetched once with ``apt-get download`` (through the local
site's apt proxy when it answers) and unpacked into ``~/.cache/indigo-receptor``.

Execution nodes here run on the local site's host: the local site's machine control (systemd-nspawn,
overlays, network namespaces) exists only there, so a job that provisions local-site nodes must execute
there (a job for a cloud site may run on any execution node). They share nothing with the control side but
the site: the job travels as ``ansible-runner transmit`` over receptor, runs in the node's own job dir, and
its events and artifacts stream back (runtime/remote.py).

    python -m tosca2ansible.runtime.receptor start exec-a exec-b   # the mesh, under $INDIGO_HOME/receptor
    python -m tosca2ansible.runtime.receptor status
    python -m tosca2ansible.runtime.receptor stop
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from tosca2ansible.errors import EnvironmentProblem, UserInputError
from tosca2ansible.runtime.runner import tools_path
from tosca2ansible.runtime.state import indigo_home

WORK_TYPE = "ansible-runner"
TRIXIE_SOURCE = "deb http://deb.debian.org/debian trixie main\n"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")) / "indigo-receptor"


def mesh_dir() -> Path:
    return Path(os.environ.get("INDIGO_RECEPTOR_DIR") or indigo_home() / "receptor")


def control_socket() -> Path:
    """The control node's receptorctl socket (``$INDIGO_RECEPTOR_SOCKET`` for a mesh run elsewhere)."""
    return Path(os.environ.get("INDIGO_RECEPTOR_SOCKET") or mesh_dir() / "control.sock")


def _apt_proxy() -> Optional[str]:
    """The local site's apt-cacher-ng when it answers (the only way to Debian on some hosts)."""
    from tosca2ansible.collection import ensure_importable

    ensure_importable()
    from ansible_collections.indigo.paas.plugins.module_utils.localsite import aptproxy
    from ansible_collections.indigo.paas.plugins.module_utils.localsite.config import APT_PROXY_PORT, LocalSiteConfig

    cfg = LocalSiteConfig()
    return "http://%s:%d" % (cfg.bridge_ip, APT_PROXY_PORT) if aptproxy.answering(cfg) else None


def fetch_debian_receptor(cache: Path = CACHE) -> Path:
    """Debian trixie's receptor binary, downloaded with apt-get and unpacked (once) into ``cache``."""
    found = sorted(cache.glob("receptor_*/usr/bin/receptor"))
    if found:
        return found[-1]
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=str(cache)) as tmp:
        work = Path(tmp)
        (work / "lists" / "partial").mkdir(parents=True)
        (work / "sources.list").write_text(TRIXIE_SOURCE)
        options = ["-o", "Dir::Etc::sourcelist=%s" % (work / "sources.list"), "-o", "Dir::Etc::sourceparts=/nonexistent",
                   "-o", "Dir::State::Lists=%s" % (work / "lists"), "-o", "Dir::Cache=%s" % (work / "cache"),
                   "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root"]
        proxy = _apt_proxy()
        if proxy:
            options += ["-o", "Acquire::http::Proxy=%s" % proxy]
        for args in (["apt-get"] + options + ["update"], ["apt-get"] + options + ["download", "receptor"]):
            proc = subprocess.run(args, cwd=tmp, capture_output=True, text=True, timeout=600)
            if proc.returncode:
                raise EnvironmentProblem("could not get Debian's receptor package (%s): %s"
                                         % (" ".join(args[:1] + args[-2:]), (proc.stderr or proc.stdout)[-800:]))
        (deb,) = work.glob("receptor_*.deb")
        target = cache / deb.name[:-4]
        subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "x")], check=True, timeout=120)
        shutil.move(str(work / "x"), str(target))
    return target / "usr" / "bin" / "receptor"


def receptor_binary() -> Path:
    configured = os.environ.get("INDIGO_RECEPTOR") or shutil.which("receptor")
    return Path(configured) if configured else fetch_debian_receptor()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_config(name: str, base: Path, port: int, control: bool) -> List[Dict]:
    """receptor's YAML config (a list of one-key maps) for the control node or an execution node."""
    config: List[Dict] = [{"node": {"id": name, "datadir": str(base / "data")}}, {"log-level": "info"},
                          {"control-service": {"service": "control", "filename": str(base / "control.sock")}}]
    if control:
        config.append({"tcp-listener": {"port": port, "bindaddr": "127.0.0.1"}})
    else:
        config.append({"tcp-peer": {"address": "127.0.0.1:%d" % port, "redial": True}})
        runner = Path(sys.executable).parent / "ansible-runner"
        config.append({"work-command": {"worktype": WORK_TYPE, "command": str(runner), "params": "worker",
                                        "allowruntimeparams": False}})
    return config


class Mesh:
    """The mesh under ``mesh_dir()``: ``mesh.json`` records the port and each node's pid."""

    def __init__(self, base: Optional[Path] = None):
        self.base = Path(base) if base else mesh_dir()
        self.record_file = self.base / "mesh.json"

    def record(self) -> Dict:
        try:
            return json.loads(self.record_file.read_text())
        except (OSError, ValueError):
            return {"nodes": {}}

    def _save(self, record: Dict) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        tmp = self.record_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
        tmp.replace(self.record_file)

    def _start_node(self, name: str, port: int, control: bool) -> int:
        import yaml

        base = self.base / name
        (base / "data").mkdir(parents=True, exist_ok=True)
        (base / "jobs").mkdir(exist_ok=True)
        config = base / "receptor.yml"
        config.write_text(yaml.safe_dump(node_config(name, base, port, control), sort_keys=False))
        # the node's own job dirs; HOME stays the account's (ansible expands ~ from the password database too)
        env = dict(os.environ, TMPDIR=str(base / "jobs"), INDIGO_EXECUTION_NODE_DIR=str(base), PATH=tools_path())
        env.pop("INDIGO_HOME", None)  # the node's journal is never the control side's
        with open(base / "receptor.log", "ab") as log:
            proc = subprocess.Popen([str(receptor_binary()), "--config", str(config)], stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL, env=env, cwd=str(base), start_new_session=True)
        return proc.pid

    def start(self, nodes: List[str], timeout: float = 30.0) -> Dict:
        """Start the control node and ``nodes`` (execution nodes); the ones already up stay as they are."""
        if any(n == "control" or not n.replace("-", "").isalnum() for n in nodes):
            raise UserInputError("execution node names are letters, digits and '-', and not 'control': %s" % nodes)
        record = self.record()
        if not record.get("port") or not _alive(record["nodes"].get("control")):
            record = {"port": _free_port(), "nodes": {}}
            record["nodes"]["control"] = self._start_node("control", record["port"], True)
        for name in nodes:
            if not _alive(record["nodes"].get(name)):
                record["nodes"][name] = self._start_node(name, record["port"], False)
        self._save(record)
        for name in nodes:
            self.wait_for_route(name, timeout)
        return record

    def control(self):
        from receptorctl.socket_interface import ReceptorControl

        path = self.base / "control" / "control.sock"
        if not path.exists():
            raise EnvironmentProblem("no receptor control node: no socket %s (start the mesh: python -m "
                                     "tosca2ansible.runtime.receptor start NODE...)" % path)
        return ReceptorControl(str(path))

    def routes(self) -> Dict[str, str]:
        ctl = self.control()
        try:
            return ctl.simple_command("status").get("RoutingTable") or {}
        finally:
            ctl.close()

    def wait_for_route(self, node: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if node in self.routes():
                    return
            except (OSError, EnvironmentProblem, RuntimeError):
                pass
            time.sleep(0.3)
        raise EnvironmentProblem("receptor execution node %s did not join the mesh in %ds (log: %s)"
                                 % (node, timeout, self.base / node / "receptor.log"))

    def kill_node(self, name: str) -> List[int]:
        """The node dies as a machine does: SIGKILL to its receptor and every process started on it (the
        job's ansible-runner worker, ansible-playbook, and the async jobs that detached from it), found by
        the node's mark in their environment."""
        record = self.record()
        pid = record["nodes"].get(name)
        killed = ([pid] if _alive(pid) else []) + started_on(self.base / name)
        for one in killed:
            try:
                os.kill(one, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return killed

    def stop(self) -> None:
        record = self.record()
        for name in sorted(record.get("nodes") or {}, key=lambda n: n == "control"):  # the control node last
            self.kill_node(name) if name != "control" else _terminate(record["nodes"][name])
        shutil.rmtree(self.base, ignore_errors=True)


def _alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _terminate(pid: Optional[int]) -> None:
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if not _alive(pid):
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def started_on(node_dir: Path) -> List[int]:
    """Every process that inherited the node's environment mark (from /proc)."""
    mark = ("INDIGO_EXECUTION_NODE_DIR=%s" % node_dir).encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open("/proc/%s/environ" % entry, "rb") as environ:
                    if mark in environ.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    mesh = Mesh()
    if args[:1] == ["start"] and args[1:]:
        print(json.dumps(mesh.start(args[1:]), indent=1, sort_keys=True))
    elif args[:1] == ["status"]:
        print(json.dumps({"routes": mesh.routes(), "nodes": mesh.record()["nodes"]}, indent=1, sort_keys=True))
    elif args[:1] == ["stop"]:
        mesh.stop()
    else:
        print("usage: python -m tosca2ansible.runtime.receptor start NODE... | status | stop", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
