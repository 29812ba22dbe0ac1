"""The base image: one debootstrap'ed Debian rootfs, built once and shared read-only by every node
through overlayfs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Optional

from ansible_collections.indigo.paas.plugins.module_utils.localsite.config import LocalSiteConfig
from ansible_collections.indigo.paas.plugins.module_utils.localsite.host import file_lock, remove_tree, run, write_atomic

BASE_PACKAGES = [
    "systemd-sysv", "dbus", "openssh-server", "python3", "python3-apt", "iproute2", "iputils-ping",
    "procps", "sudo", "ca-certificates", "gnupg",
]
READY_MARK = ".indigo-image-ready"
STALE_MTIME = 946684800  # 2000-01-01: makes `apt: cache_valid_time` refresh the lists in every node


def image_ready(cfg: LocalSiteConfig) -> bool:
    return (cfg.image_dir / READY_MARK).exists()


def ensure_image(cfg: LocalSiteConfig, proxy_url: Optional[str] = None, log: Callable[[str], None] = lambda m: None) -> Path:
    """Build the base image unless it is cached; concurrent callers wait for the one building it."""
    if image_ready(cfg):
        return cfg.image_dir
    with file_lock(cfg.image_root_dir / "image.lock"):
        if image_ready(cfg):
            return cfg.image_dir
        build = cfg.image_dir.with_name(cfg.image_dir.name + ".build")
        remove_tree(build)  # left over by an interrupted build (may still hold its /proc mount)
        build.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if proxy_url:
            env["http_proxy"] = proxy_url  # the proxy caches the base packages for the next cold build
        started = time.monotonic()
        log("building base image debian-%s with debootstrap (once, ~1.5 min)" % cfg.suite)
        run(
            ["debootstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES), cfg.suite, str(build), cfg.mirror],
            timeout=1800,
            env=env,
        )
        _finish_image(cfg, build)
        remove_tree(cfg.image_dir)
        os.rename(build, cfg.image_dir)
        write_atomic(cfg.image_dir / READY_MARK, "built in %.0f s\n" % (time.monotonic() - started))
        log("base image ready in %.0f s" % (time.monotonic() - started))
    return cfg.image_dir


def _finish_image(cfg: LocalSiteConfig, root: Path) -> None:
    """What every node shares: direct sources.list, no host keys, empty and stale apt lists."""
    write_atomic(root / "etc/apt/sources.list", "deb %s %s main\n" % (cfg.mirror, cfg.suite))
    for source in (root / "etc/apt/sources.list.d").glob("*.sources"):
        source.unlink()
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()  # each node gets its own host keys
    # An empty machine-id per node is filled at create time; the shared one must not leak.
    write_atomic(root / "etc/machine-id", "")
    lists = root / "var/lib/apt/lists"
    for entry in lists.iterdir():
        if entry.is_file():
            entry.unlink()
    os.utime(lists, (STALE_MTIME, STALE_MTIME))
    for cached in (root / "var/cache/apt/archives").glob("*.deb"):
        cached.unlink()
    # Units that only fail or wait inside a container.
    for unit in ("systemd-networkd-wait-online.service", "getty@tty1.service"):
        link = root / "etc/systemd/system" / unit
        if not link.exists():
            link.symlink_to("/dev/null")


def remove_image(cfg: LocalSiteConfig) -> None:
    remove_tree(cfg.image_dir)
