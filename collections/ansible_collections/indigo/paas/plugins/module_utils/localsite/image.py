"""The base image: one debootstrap'ed Debian rootfs, built once and shared read-only by every node
through overlayfs."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from ansible_collections.indigo.paas.plugins.module_utils.localsite.config import LocalSiteConfig
from ansible_collections.indigo.paas.plugins.module_utils.localsite.host import (
    clean_env, file_lock, mounted, remove_tree, run, which, write_atomic,
)

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


# -- package layers: the site's cache of "an image per role" ------------------------------------------
# A layer is the upper directory of one overlay over the base image in which apt installed a package
# list (e.g. a Slurm worker's munge, slurmd, slurm-client). A node asking for those packages boots from
# ``lowerdir=layer:base``: its role then finds them installed and only configures. The layer's name is
# a hash of the suite and the sorted list, so a role whose package list changes gets a new layer.
LAYER_UNITS_OFF = ("munge", "slurmd", "slurmctld", "condor")  # started by the roles once configured


def layer_key(cfg: LocalSiteConfig, packages: Sequence[str]) -> str:
    wanted = sorted({str(p) for p in packages})
    digest = hashlib.sha256(("%s\n%s" % (cfg.suite, "\n".join(wanted))).encode()).hexdigest()[:12]
    return "debian-%s+%s" % (cfg.suite, digest)


def layer_dir(cfg: LocalSiteConfig, key: str) -> Path:
    return cfg.image_root_dir / "layers" / key


def layer_ready(cfg: LocalSiteConfig, key: str) -> bool:
    return (layer_dir(cfg, key) / READY_MARK).exists()


def lower_dirs(cfg: LocalSiteConfig, key: Optional[str]) -> str:
    """The overlay ``lowerdir`` of a node: the base image, under the node's layer when it has one."""
    if not key:
        return str(cfg.image_dir)
    return "%s:%s" % (layer_dir(cfg, key) / "upper", cfg.image_dir)


def ensure_layer(cfg: LocalSiteConfig, packages: Sequence[str], proxy_url: Optional[str] = None,
                 log: Callable[[str], None] = lambda m: None) -> str:
    """Build (once) the layer holding ``packages`` over the base image; returns its key."""
    wanted = sorted({str(p) for p in packages})
    key = layer_key(cfg, wanted)
    if layer_ready(cfg, key):
        return key
    ensure_image(cfg, proxy_url=proxy_url, log=log)
    with file_lock(cfg.image_root_dir / "image.lock"):
        if layer_ready(cfg, key):
            return key
        final = layer_dir(cfg, key)
        build = final.with_name(final.name + ".build")
        _unmount(build / "root")
        remove_tree(build)
        for sub in ("upper", "work", "root"):
            (build / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(build / "upper", 0o755)  # the layer's root directory, whatever the caller's umask
        started = time.monotonic()
        log("building package layer %s (%s) over the base image (once)" % (key, " ".join(wanted)))
        root = build / "root"
        run(["mount", "-t", "overlay", "overlay", "-o", "lowerdir=%s,upperdir=%s,workdir=%s"
             % (cfg.image_dir, build / "upper", build / "work"), str(root)])
        try:
            _install(cfg, root, wanted, proxy_url)
        finally:
            _unmount(root)
        remove_tree(build / "work")
        (build / "root").rmdir()
        remove_tree(final)
        os.rename(build, final)
        write_atomic(final / READY_MARK, "%s\nbuilt in %.0f s\n" % (" ".join(wanted), time.monotonic() - started))
        log("package layer %s ready in %.0f s" % (key, time.monotonic() - started))
    return key


def _install(cfg: LocalSiteConfig, root: Path, packages: Sequence[str], proxy_url: Optional[str]) -> None:
    # No service starts while packages install (there is no init in the build container).
    write_atomic(root / "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", mode=0o755)
    apt = ["apt-get", "-q", "-y"] + (["-o", "Acquire::http::Proxy=%s" % proxy_url] if proxy_url else [])
    script = "set -e; umask 022; %s update; %s install %s" % (" ".join(apt), " ".join(apt), " ".join(packages))
    run([which("systemd-nspawn") or "systemd-nspawn", "-q", "-D", str(root), "-M", "layer-" + root.parent.name[-18:-6],
         "--register=no", "--keep-unit", "--resolv-conf=off",
         "--timezone=off", "--link-journal=no", "--setenv=DEBIAN_FRONTEND=noninteractive",
         "/bin/sh", "-c", script], timeout=1800, env=clean_env())
    (root / "usr/sbin/policy-rc.d").unlink()
    # What must stay per node: no shared munge key, host keys or machine id; services off until configured.
    for secret in ("etc/munge/munge.key",):
        if (root / secret).exists():
            (root / secret).unlink()
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    write_atomic(root / "etc/machine-id", "")
    for wants in (root / "etc/systemd/system").glob("*.wants"):
        for unit in LAYER_UNITS_OFF:
            link = wants / (unit + ".service")
            if link.is_symlink():
                link.unlink()
    for cached in (root / "var/cache/apt/archives").glob("*.deb"):
        cached.unlink()


def _unmount(path: Path) -> None:
    if path.exists() and mounted(path):
        run(["umount", str(path)], check=False)


def remove_image(cfg: LocalSiteConfig) -> None:
    remove_tree(cfg.image_dir)
