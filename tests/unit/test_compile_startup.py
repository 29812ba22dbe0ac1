"""`indigo validate` and `indigo compile` load only what compiling needs (start-up is most of a run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from tests.helpers import ROOT

SLURM_EXAMPLE = os.path.join(ROOT, "examples", "slurm_cluster.yaml")
# Packages of the runtime, the providers and the apps: none of them is needed to compile.
HEAVY = ("ansible", "ansible_runner", "jinja2", "boto3", "botocore", "openstack", "keystoneauth1", "pyone",
         "kubernetes", "requests", "urllib3", "moto", "sqlite3")

_PROBE = """
import json, sys
from tosca2ansible.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
print(json.dumps({"code": code, "modules": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def _run(*args):
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command", ["validate", "compile"])
def test_validate_and_compile_import_no_runtime_or_cloud_package(command, tmp_path):
    args = [command, SLURM_EXAMPLE]
    if command == "compile":
        args += ["-o", str(tmp_path / "project"), "--defer-inputs"]
    result = _run(*args)
    assert result["code"] in (0, None)
    assert not sorted(set(HEAVY) & set(result["modules"]))
    if command == "compile":
        assert (tmp_path / "project" / "deploy.yml").is_file()


def test_help_does_not_load_the_compiler():
    result = _run("--help")
    assert "tosca2ansible" in result["modules"]
    assert "toscaparser" not in result["modules"] and "yaml" not in result["modules"]
