"""`indigo compile -o DIR` replaces only what it wrote itself, atomically, and never shows a traceback."""

from __future__ import annotations

import os

import pytest

from tosca2ansible.compiler.outdir import MARKER
from tests.fixtures.corpus import TYPES_MAPPING, require_corpus
from tests.helpers import indigo, tosca

TEMPLATE = tosca("""\
  node_templates:
    vm: {type: tosca.nodes.indigo.Compute}
""")


@pytest.fixture(name="template")
def _template(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(TEMPLATE)
    return path


def compile_to(template, out):
    require_corpus()
    return indigo("compile", str(template), "-o", str(out), "--types-path", TYPES_MAPPING)


def refused(result, *needles):
    assert result.exit_code in (2, 3), result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    line = [x for x in result.output.splitlines() if x.lower().startswith("error:")]
    assert len(line) == 1, result.output
    for needle in needles:
        assert needle in line[0], line[0]
    return line[0]


def no_staging_left(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(".indigo-compile-")] == []


def test_a_directory_holding_deploy_yml_and_other_files_is_not_ours(tmp_path, template):
    out = tmp_path / "p"
    out.mkdir()
    (out / "deploy.yml").write_text("- hosts: all\n")
    (out / "data").write_text("precious")
    refused(compile_to(template, out), str(out), "refusing")
    assert (out / "data").read_text() == "precious" and (out / "deploy.yml").exists()
    assert no_staging_left(tmp_path)


def test_recompile_replaces_its_own_project_and_leaves_no_old_copy(tmp_path, template):
    out = tmp_path / "p"
    assert compile_to(template, out).exit_code == 0
    assert (out / MARKER).is_file()
    (out / "deploy.yml").write_text("stale")
    assert compile_to(template, out).exit_code == 0
    assert (out / "deploy.yml").read_text() != "stale"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p", "t.yaml"]


def test_a_forged_marker_is_not_enough(tmp_path, template):
    out = tmp_path / "p"
    out.mkdir()
    (out / MARKER).write_text("not the signature\n")
    (out / "notes").write_text("keep")
    refused(compile_to(template, out), str(out))
    assert (out / "notes").read_text() == "keep"


def test_an_empty_directory_is_used(tmp_path, template):
    out = tmp_path / "p"
    out.mkdir()
    assert compile_to(template, out).exit_code == 0
    assert (out / "deploy.yml").is_file()


@pytest.mark.parametrize("target_kind", ["own-project", "empty-dir", "dangling"])
def test_a_symlink_is_never_followed_or_replaced(tmp_path, template, target_kind):
    real = tmp_path / "real"
    if target_kind == "own-project":
        assert compile_to(template, real).exit_code == 0
    elif target_kind == "empty-dir":
        real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    before = sorted(os.listdir(real)) if real.exists() else None
    refused(compile_to(template, link), str(link), "symbolic link")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert (sorted(os.listdir(real)) if real.exists() else None) == before
    assert no_staging_left(tmp_path)


def test_a_file_as_output(tmp_path, template):
    out = tmp_path / "f"
    out.write_text("x")
    refused(compile_to(template, out), str(out))
    assert out.read_text() == "x"


@pytest.mark.parametrize("path", ["/etc/hostname/x", "/proc/x", "/sys/x", "/proc/self/status/x", "/dev/null/p"])
def test_system_paths_are_a_clean_error(template, path):
    refused(compile_to(template, path), path.rsplit("/", 1)[0])


def test_permission_denied_is_a_clean_error(tmp_path, template):
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    refused(compile_to(template, locked / "p"), str(locked))


def test_permission_denied_as_root_via_readonly_fs(template):
    # /proc/sys is read-only for everyone (root included): the write of the staging dir fails.
    refused(compile_to(template, "/proc/sys/indigo-p"), "/proc/sys")


def test_stale_old_copy_of_ours_is_swept(tmp_path, template):
    out = tmp_path / "p"
    assert compile_to(template, out).exit_code == 0
    os.rename(out, tmp_path / ".indigo-compile-dead.old")
    foreign = tmp_path / ".indigo-compile-foreign.old"
    foreign.mkdir()
    (foreign / "x").write_text("not ours")
    assert compile_to(template, out).exit_code == 0
    assert not (tmp_path / ".indigo-compile-dead.old").exists()
    assert (foreign / "x").exists()
