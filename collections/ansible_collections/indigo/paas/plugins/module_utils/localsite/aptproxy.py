"""apt-cacher-ng on the bridge address, in the foreground of its own process with its own config
directory (the host's apt never starts services, and its default backend does not resolve here)."""

from __future__ import annotations

import os
import socket
import subprocess
import time

from ansible_collections.indigo.paas.plugins.module_utils.localsite.config import APT_PROXY_PORT, LocalSiteConfig
from ansible_collections.indigo.paas.plugins.module_utils.localsite.errors import LocalSiteError
from ansible_collections.indigo.paas.plugins.module_utils.localsite.host import clean_env, pid_alive, which, write_atomic

CONFIG_TEMPLATE = """\
# Written by the indigo.paas local site: the local site's package cache.
CacheDir: {cache}
LogDir: {logs}
SupportDir: /usr/lib/apt-cacher-ng
Port: {port}
BindAddress: {address}
SocketPath: {socket}
Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian
ReportPage: acng-report.html
ExThreshold: 4
"""


def _pidfile(cfg: LocalSiteConfig):
    return cfg.proxy_dir / "apt-cacher-ng.pid"


def proxy_pid(cfg: LocalSiteConfig):
    try:
        pid = int(_pidfile(cfg).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def answering(cfg: LocalSiteConfig, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((cfg.bridge_ip, APT_PROXY_PORT), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_proxy(cfg: LocalSiteConfig, timeout: float = 20.0) -> str:
    """Start apt-cacher-ng unless it already answers; returns the proxy URL for the nodes."""
    if proxy_pid(cfg) and answering(cfg):
        return cfg.apt_proxy_url
    exe = which("apt-cacher-ng")
    if exe is None:
        raise LocalSiteError("apt-cacher-ng is not installed (Debian package apt-cacher-ng)")
    conf_dir = cfg.proxy_dir / "conf"
    for sub in ("conf", "cache", "log"):
        (cfg.proxy_dir / sub).mkdir(parents=True, exist_ok=True)
    mirror = cfg.mirror.rstrip("/")
    write_atomic(conf_dir / "backends_debian", mirror + "/\n")
    write_atomic(
        conf_dir / "acng.conf",
        CONFIG_TEMPLATE.format(
            cache=cfg.proxy_dir / "cache", logs=cfg.proxy_dir / "log", port=APT_PROXY_PORT,
            address=cfg.bridge_ip, socket=cfg.proxy_dir / "acng.socket",
        ),
    )
    # apt-cacher-ng runs as root here; its cache must be writable by it.
    log = open(cfg.proxy_dir / "log" / "stdout.log", "ab")
    proc = subprocess.Popen(
        [exe, "-c", str(conf_dir), "ForeGround=1"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        env=clean_env(),  # a host daemon outliving the run that started it: none of that run's environment
    )
    log.close()
    write_atomic(_pidfile(cfg), "%d\n" % proc.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalSiteError("apt-cacher-ng exited with %s; see %s" % (proc.returncode, cfg.proxy_dir / "log"))
        if answering(cfg):
            return cfg.apt_proxy_url
        time.sleep(0.2)
    stop_proxy(cfg)
    raise LocalSiteError("apt-cacher-ng did not listen on %s within %ss" % (cfg.apt_proxy_url, timeout))


def stop_proxy(cfg: LocalSiteConfig, timeout: float = 10.0) -> None:
    pid = proxy_pid(cfg)
    if pid:
        os.kill(pid, 15)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, 9)
    try:
        _pidfile(cfg).unlink()
    except FileNotFoundError:
        pass
