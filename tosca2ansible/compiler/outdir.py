"""Write a compiled project into `-o DIR` safely.

DIR is replaced only when the compiler wrote it (it holds MARKER with the compiler's signature), or
when it is empty. Anything else — a foreign directory, a file, a symlink — is refused with exit 2 and
nothing is touched. The new project is written into a temporary sibling and renamed into place, so a
failure never leaves a half project; every filesystem error is a UserInputError (exit 2) naming the
path, or an EnvironmentProblem (exit 3) when the machine itself is out of space.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile

from tosca2ansible import __version__
from tosca2ansible.errors import EnvironmentProblem, Location, UserInputError

MARKER = ".indigo-project"
SIGNATURE = "indigo compile: this directory is a compiled project; it is replaced on recompile\n"
STAGING_PREFIX = ".indigo-compile-"
# Projects written before the marker existed: a directory holding only these entries is ours too.
_LEGACY_ENTRIES = frozenset(("ansible.cfg", "deploy.yml", "undeploy.yml", "inventory", "group_vars",
                             "requirements.yml", "awx", "template.yaml", ".ansible-lint", "artifacts"))
_MACHINE_ERRNOS = frozenset((errno.ENOSPC, errno.EDQUOT, errno.ENOMEM, errno.EMFILE, errno.ENFILE))


def _fs_error(exc: OSError, path: str, doing: str):
    message = "cannot %s: %s" % (doing, exc.strerror or exc)
    error = EnvironmentProblem if exc.errno in _MACHINE_ERRNOS else UserInputError
    return error(message, Location(file=path, field="-o"))


def _is_ours(path: str) -> bool:
    marker = os.path.join(path, MARKER)
    try:
        if os.path.isfile(marker) and not os.path.islink(marker):
            with open(marker, encoding="utf-8", errors="replace") as handle:
                return handle.read(len(SIGNATURE)) == SIGNATURE
        entries = set(os.listdir(path))
    except OSError:
        return False
    return not entries or ("deploy.yml" in entries and entries <= _LEGACY_ENTRIES)


def _check_target(out_dir: str) -> bool:
    """True when out_dir exists (and may be replaced); raises when it must not be touched."""
    if os.path.islink(out_dir):
        raise UserInputError("output path is a symbolic link; give the directory itself (refusing to replace or "
                             "follow it)", Location(file=out_dir, field="-o"))
    if not os.path.lexists(out_dir):
        return False
    if not os.path.isdir(out_dir):
        raise UserInputError("output path exists and is not a directory", Location(file=out_dir, field="-o"))
    if not _is_ours(out_dir):
        raise UserInputError("output directory is not empty and was not written by indigo compile (no %s); "
                             "refusing to overwrite" % MARKER, Location(file=out_dir, field="-o"))
    return True


def _write_file(path: str, data: bytes) -> None:
    """Plain open/write/close (no buffered file object: a project is a dozen small files)."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view):]
    finally:
        os.close(handle)


def _sweep_stale(parent: str) -> None:
    """Remove `.indigo-compile-*.old` siblings a killed compile left (only ones carrying our marker)."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        path = os.path.join(parent, name)
        if name.startswith(STAGING_PREFIX) and name.endswith(".old") and not os.path.islink(path) \
                and os.path.isdir(path) and _is_ours(path):
            shutil.rmtree(path, ignore_errors=True)


def _stage(parent: str, files: dict, mode: int) -> str:
    staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent)
    try:
        _write_file(os.path.join(staging, MARKER), (SIGNATURE + "version: %s\n" % __version__).encode("utf-8"))
        for folder in sorted({os.path.dirname(rel_path) for rel_path in files} - {""}):
            os.makedirs(os.path.join(staging, folder), exist_ok=True)
        for rel_path, content in sorted(files.items()):
            _write_file(os.path.join(staging, rel_path),
                        content if isinstance(content, bytes) else content.encode("utf-8"))
        os.chmod(staging, mode)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def write_project(out_dir: str, files: dict) -> None:
    """Write `files` ({relative path: text or bytes}) as the project in out_dir (see the module doc)."""
    out_dir = os.path.abspath(out_dir)
    try:
        exists = _check_target(out_dir)
        parent = os.path.dirname(out_dir)
        os.makedirs(parent, exist_ok=True)
        if not os.path.isdir(parent):
            raise UserInputError("parent of the output path is not a directory", Location(file=parent, field="-o"))
    except OSError as exc:
        raise _fs_error(exc, out_dir, "create the output directory") from None
    umask = os.umask(0)
    os.umask(umask)
    try:
        _sweep_stale(parent)
        staging = _stage(parent, files, 0o777 & ~umask)
    except OSError as exc:
        raise _fs_error(exc, parent, "write the project next to the output directory") from None
    old = staging + ".old"
    try:
        if exists:
            os.rename(out_dir, old)
            try:
                os.rename(staging, out_dir)
            except OSError:
                os.rename(old, out_dir)  # put the previous project back
                raise
        else:
            os.rename(staging, out_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _fs_error(exc, out_dir, "replace the output directory") from None
    if exists:
        shutil.rmtree(old, ignore_errors=True)
        if os.path.lexists(old):
            raise UserInputError("the project was written but its previous version could not be removed",
                                 Location(file=old, field="-o"))
