"""The framework installs as a package (issue 16): `pip wheel .` into a fresh venv gives an `indigo` that finds
its type library and the collection inside the installed package, with no checkout anywhere on its path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.installed_package import install_wheel_venv
from tests.helpers import ROOT

EXAMPLE = ROOT / "examples" / "slurm_cluster.yaml"
CLEAN = ("PYTHONPATH", "ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_CONFIG", "INDIGO_SITES")


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in CLEAN}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv holding only the wheel (tests/fixtures/installed_package.py)."""
    base = tmp_path_factory.mktemp("wheel")
    installed = install_wheel_venv(base)
    work = base / "work"  # no checkout here
    work.mkdir()
    shutil.copy(EXAMPLE, work / EXAMPLE.name)
    return dict(installed, work=work)


def test_installed_package_uses_its_own_code_and_collection(installed):
    code = ("import tosca2ansible; from tosca2ansible.collection import collections_root; "
            "from tosca2ansible.brokering import catalogue_path; "
            "print(tosca2ansible.__file__); print(collections_root()); print(catalogue_path())")
    proc = subprocess.run([str(installed["venv"] / "bin" / "python"), "-c", code], cwd=installed["work"],
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    module, collections, sites = proc.stdout.split()
    purelib = str(installed["purelib"])
    assert module == os.path.join(purelib, "tosca2ansible", "__init__.py")
    assert collections == purelib  # site-packages/ansible_collections/indigo/paas
    assert sites == os.path.join(purelib, "tosca2ansible", "sites") and os.path.isfile(os.path.join(sites, "local.yml"))


def test_installed_indigo_validates_and_compiles_like_the_checkout(installed, tmp_path):
    indigo = str(installed["venv"] / "bin" / "indigo")
    proc = subprocess.run([indigo, "validate", EXAMPLE.name], cwd=installed["work"], env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "from-wheel"
    proc = subprocess.run([indigo, "compile", EXAMPLE.name, "-o", str(out), "-i", "wn_num=2"], cwd=installed["work"],
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reference = tmp_path / "from-checkout"
    proc = subprocess.run([str(Path(sys.executable).parent / "indigo"), "compile", EXAMPLE.name, "-o", str(reference),
                           "-i", "wn_num=2"], cwd=installed["work"], env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tree = lambda d: {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}  # noqa: E731
    compiled = tree(out)
    assert "deploy.yml" in compiled and compiled == tree(reference)
    assert str(installed["purelib"]).encode() not in b"".join(compiled.values())
