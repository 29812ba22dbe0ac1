"""Small host helpers: running tools, checking that this machine can run local nodes, locking."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

from ansible_collections.indigo.paas.plugins.module_utils.localsite.errors import HostNotReady, LocalSiteError

# Debian package that provides each tool, so the error says what to install.
REQUIRED_TOOLS = {
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "apt-cacher-ng": "apt-cacher-ng",
    "ip": "iproute2",
    "ssh-keygen": "openssh-client",
    "mount": "mount",
}
# apt-cacher-ng and debootstrap live in /usr/sbin, which a non-login PATH may miss.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])


def clean_env() -> Dict[str, str]:
    """The whole environment of the long-lived processes the site starts (systemd-nspawn, hence every
    node, and apt-cacher-ng). They are started from inside a run (the instance module), whose environment
    holds INDIGO_RUN_ID and may hold the operator's cloud credentials: none of it may reach them."""
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


def which(tool: str) -> Optional[str]:
    return shutil.which(tool, path=SEARCH_PATH)


def check_host(tools: Sequence[str] = tuple(REQUIRED_TOOLS)) -> None:
    """Raise HostNotReady naming everything missing (root, tools and their Debian packages)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("the local site needs root (network namespaces, overlay mounts, systemd-nspawn)")
    missing = [t for t in tools if which(t) is None]
    if missing:
        packages = sorted({REQUIRED_TOOLS.get(t, t) for t in missing})
        problems.append(
            "missing %s (install the Debian package%s %s, e.g. scripts/install.sh --system)"
            % (", ".join(missing), "s" if len(packages) > 1 else "", " ".join(packages))
        )
    if problems:
        raise HostNotReady("; ".join(problems))


def run(
    argv: List[str], check: bool = True, timeout: float = 120, input_text: Optional[str] = None, env: Optional[dict] = None
) -> subprocess.CompletedProcess:
    """Run one host command; a failure raises LocalSiteError with the command and its stderr."""
    exe = which(argv[0]) or argv[0]
    try:
        proc = subprocess.run(
            [exe] + list(argv[1:]), capture_output=True, text=True, timeout=timeout, input=input_text, check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise LocalSiteError("%s did not finish within %ss" % (" ".join(argv), timeout))
    except FileNotFoundError:
        raise HostNotReady("%s is not installed" % argv[0])
    if check and proc.returncode != 0:
        raise LocalSiteError("%s failed (exit %d): %s" % (" ".join(argv), proc.returncode, (proc.stderr or proc.stdout).strip()[-800:]))
    return proc


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock shared by every process working on the site (threads and async tasks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write a file so a concurrent reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
    with open(tmp, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def host_capacity() -> dict:
    """CPUs and total RAM (MB) of this machine."""
    mem_kb = 0
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
                break
    return {"cpus": os.cpu_count() or 1, "mem_mb": mem_kb // 1024}


def mounted(path: Path) -> bool:
    target = os.path.realpath(str(path))
    with open("/proc/self/mounts") as handle:
        return any(line.split()[1] == target for line in handle if len(line.split()) > 1)


def mounts_below(path: Path) -> List[str]:
    """Mount points at or under ``path`` (deepest first), e.g. /proc left by an interrupted debootstrap."""
    prefix = os.path.realpath(str(path))
    found = []
    with open("/proc/self/mounts") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) > 1 and (fields[1] == prefix or fields[1].startswith(prefix + "/")):
                found.append(fields[1])
    return sorted(found, key=len, reverse=True)


def remove_tree(path: Path) -> None:
    """rmtree that first unmounts what is mounted below ``path`` and refuses to recurse into a mount."""
    for point in mounts_below(path):
        run(["umount", "-l", point], check=False)
    if mounts_below(path):
        raise LocalSiteError("refusing to delete %s: %s still mounted" % (path, ", ".join(mounts_below(path))))
    if path.exists():
        shutil.rmtree(path)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
