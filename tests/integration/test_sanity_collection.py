"""Collection-level checks a user runs: ansible-doc renders every module and plugin, and
ansible-test sanity passes on the collection."""

import glob
import os
import subprocess

import pytest

from test_ec2_support import ROOT, VENV_BIN

COLLECTION = os.path.join(ROOT, "collections", "ansible_collections", "indigo", "paas")
ENV = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_NOCOLOR="1")


def plugins(kind):
    return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(COLLECTION, "plugins", kind, "*.py"))
                  if not os.path.basename(p).startswith("_"))


@pytest.mark.parametrize("kind, directory", [("module", "modules"), ("inventory", "inventory"), ("callback", "callback")])
def test_ansible_doc_renders_every_plugin(kind, directory):
    names = plugins(directory)
    if kind == "module":
        assert {"instance", "instance_info", "deployment_teardown"} <= set(names)
    if not names:
        pytest.skip("no %s plugin in the collection yet" % kind)
    fqcns = ["indigo.paas.%s" % name for name in names]
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-doc"), "-t", kind, "--json"] + fqcns,
                          env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "ERROR" not in proc.stderr and "WARNING" not in proc.stderr, proc.stderr
    import json

    docs = json.loads(proc.stdout)
    assert sorted(docs) == sorted(fqcns)
    for fqcn, doc in docs.items():
        assert doc["doc"]["short_description"], fqcn
        if kind == "module":
            assert doc["examples"] and doc["return"] is not None, fqcn


def test_instance_doc_shows_the_site_fragment():
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-doc", ), "indigo.paas.instance"],
                          env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for option in ("deployment", "count", "catalogue", "credentials", "wait_timeout", "error_class"):
        assert option in proc.stdout


# ansible-test bootstraps pip in each sanity venv with a script from ci-files.testing.ansible.com, which
# this network cannot reach: an equivalent that installs pip with the project's own (modern) pip.
GET_PIP_SHIM = r"""import os, subprocess, sys
CA = "/etc/ssl/certs/ca-certificates.crt"
if os.path.exists(CA):
    with open(os.path.join(sys.prefix, "pip.conf"), "w") as handle:
        handle.write("[global]\ncert = " + CA + "\n")
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call(["@PYTHON@", "-m", "pip", "--python", sys.executable, "install"] + args))
"""


def ensure_pip_bootstrap():
    import ansible_test._util.target.setup.requirements as requirements  # noqa: F401  (present with ansible-core)

    cache = os.path.expanduser("~/.ansible/test/cache")
    os.makedirs(cache, exist_ok=True)
    for version in ("24.2",):
        path = os.path.join(cache, "get_pip_%s.py" % version.replace(".", "_"))
        if not os.path.exists(path):
            with open(path, "w") as handle:
                handle.write(GET_PIP_SHIM.replace("@PYTHON@", os.path.join(VENV_BIN, "python")))


@pytest.fixture(scope="module")
def installed_collection(tmp_path_factory):
    """The collection as a user gets it: `ansible-galaxy collection build`, then install into an empty path."""
    base = tmp_path_factory.mktemp("installed")
    for args in (["build", "--output-path", str(base)], ["install", "--force", "-p", str(base / "collections")]):
        if args[0] == "install":
            args.insert(2, str(next(base.glob("indigo-paas-*.tar.gz"))))
        proc = subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection"] + args, cwd=COLLECTION,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return os.path.join(str(base), "collections", "ansible_collections", "indigo", "paas")


def _ansible_test(installed, *args):
    return subprocess.run([os.path.join(VENV_BIN, "ansible-test")] + list(args) + ["--python", "3.11", "--color", "no"],
                          cwd=installed, env=dict(ENV, PATH=str(VENV_BIN) + os.pathsep + os.environ["PATH"]),
                          capture_output=True, text=True, timeout=1800)


@pytest.mark.slow
def test_ansible_test_sanity_passes_from_the_installed_collection(installed_collection):
    ensure_pip_bootstrap()
    proc = _ansible_test(installed_collection, "sanity")
    assert proc.returncode == 0, (proc.stdout[-6000:], proc.stderr[-6000:])


@pytest.mark.slow
def test_ansible_test_units_pass_from_the_installed_collection(installed_collection):
    ensure_pip_bootstrap()
    proc = _ansible_test(installed_collection, "units")
    assert proc.returncode == 0, (proc.stdout[-6000:], proc.stderr[-6000:])
    # target (module_utils) and controller (plugin_utils) tests both ran
    assert proc.stdout.count(" passed in ") >= 2 and "failed" not in proc.stdout, proc.stdout[-3000:]
