"""The 66 real INDIGO templates: each compiles to a project that passes syntax-check and
ansible-lint --profile production (with exactly the warnings listed here), or is a precise "not supported yet"."""

from __future__ import annotations

import os
import subprocess

import pytest

from tosca2ansible.compiler import compile_template, validate_template
from tosca2ansible.errors import UnsupportedError, UserInputError
from tests.fixtures.corpus import EXAMPLES, TYPES_MAPPING, needs_corpus, require_corpus
from tests.helpers import ROOT, VENV_BIN

CORPUS = str(EXAMPLES)
CORPUS_TYPES = TYPES_MAPPING
FRAMEWORK_COLLECTIONS = os.path.join(ROOT, "collections")

# Drift the reference systems ignored (the IM's tosca-parser on PyYAML, the orchestrator's SnakeYAML), two of
# them wrong against their own text: compiled, with the warnings naming it (errors under --strict, below).
DRIFT_WARNINGS = {
    "node_with_availability_zone.yaml": [
        ":49, field policies.deploy_on_cloudid.properties.availability_zone: unknown property availability_zone "
        "(tosca.policies.indigo.SlaPlacement defines: sla_id): ignored (--strict makes this an error)"],
    # `rclone_pass` is a typo of the declared `rclone_password`: its value is dropped (the password's default stays)
    "vm_docker_deepass.yml": [
        ":63, node deepaas_app, field properties.rclone_pass: unknown property rclone_pass, did you mean "
        "rclone_password? (tosca.nodes.indigo.DEEPaaScont defines: admin_credential, component_version, "
        "dockerhub_img, rclone_conf, rclone_password, rclone_url, rclone_user, rclone_vendor): its value is "
        "dropped (--strict makes this an error)"],
    # two `ports` keys under one endpoint: YAML keeps only the second (the YARN port is lost), as PyYAML did
    "hadoop_cluster.yaml": [
        ":27: duplicate key 'ports' on lines 23 and 27: the one on line 27 is used, line 23 is ignored "
        "(--strict makes this an error)"],
}
# Under --strict the same three are errors.
STRICT_ERRORS = {
    "node_with_availability_zone.yaml": ":49, field policies.deploy_on_cloudid.properties.availability_zone: "
                                        "unknown property availability_zone",
    "vm_docker_deepass.yml": ":63, node deepaas_app, field properties.rclone_pass: unknown property rclone_pass, "
                             "did you mean rclone_password?",
    "hadoop_cluster.yaml": ":27: duplicate key 'ports' on lines 23 and 27 (YAML keeps only the last one) (--strict)",
}
# Valid, but realised by services the project does not drive (batch job brokers).
UNSUPPORTED = {
    "indigo_grid_job.yaml": ":13, node grid_job, field type: not supported yet: grid_job (tosca.nodes.indigo.Grid.Job)",
    "qcg-job.yaml": ":70, node qcg_job, field type: not supported yet: qcg_job (tosca.nodes.indigo.Qcg.Job)",
}

pytestmark = needs_corpus


def _compile_all(out_root, types_paths):
    compiled, wrong, unsupported = [], {}, {}
    for name in sorted(os.listdir(CORPUS)):
        target = os.path.join(out_root, os.path.splitext(name)[0])
        try:
            result = compile_template(os.path.join(CORPUS, name), target, {}, types_paths, None, defer_inputs=True)
            compiled.append(name)
            warnings = [line for line in result.notices if line.startswith("warning:")]
            assert warnings == ["warning: %s%s" % (os.path.join(CORPUS, name), line)
                                for line in DRIFT_WARNINGS.get(name, [])], warnings
        except UnsupportedError as exc:
            unsupported[name] = str(exc)
        except UserInputError as exc:
            wrong[name] = str(exc)
    return compiled, wrong, unsupported


def _check_sets(compiled, wrong, unsupported):
    assert wrong == {}
    assert sorted(unsupported) == sorted(UNSUPPORTED)
    for name, expected in UNSUPPORTED.items():
        assert unsupported[name] == os.path.join(CORPUS, name) + expected
    assert len(compiled) == 66 - len(UNSUPPORTED)


def test_corpus_drift_is_an_error_under_strict():
    require_corpus()
    for name, expected in sorted(STRICT_ERRORS.items()):
        with pytest.raises(UserInputError) as raised:
            validate_template(os.path.join(CORPUS, name), {}, [CORPUS_TYPES], strict=True)
        assert str(raised.value).startswith(os.path.join(CORPUS, name) + expected), str(raised.value)
        assert str(raised.value).endswith("(--strict)")


@pytest.fixture(scope="module", name="corpus_projects")
def fixture_corpus_projects(tmp_path_factory):
    require_corpus()
    out_root = str(tmp_path_factory.mktemp("corpus"))
    return out_root, _compile_all(out_root, [CORPUS_TYPES])


def test_corpus_sets_with_corpus_types(corpus_projects):
    _check_sets(*corpus_projects[1])


def test_corpus_sets_with_bundled_library(tmp_path, monkeypatch):
    monkeypatch.delenv("INDIGO_TYPES_PATH", raising=False)
    _check_sets(*_compile_all(str(tmp_path), []))


def test_corpus_projects_pass_syntax_check(corpus_projects):
    out_root, (compiled, _, _) = corpus_projects
    playbooks = []
    for name in compiled:
        project = os.path.join(out_root, os.path.splitext(name)[0])
        playbooks += [os.path.join(project, "deploy.yml"), os.path.join(project, "undeploy.yml")]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=FRAMEWORK_COLLECTIONS, ANSIBLE_INVENTORY="localhost,")
    done = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "--syntax-check", *playbooks], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_corpus_projects_pass_ansible_lint_production(corpus_projects, tmp_path):
    out_root, (compiled, _, _) = corpus_projects
    config = tmp_path / "lint.yml"
    # awx/configure.yml needs awx.awx (not installed here): linted with it in test_awx_as_code.py
    config.write_text("---\nexclude_paths:\n  - '**/template.yaml'\n  - '**/awx/configure.yml'\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=FRAMEWORK_COLLECTIONS)
    done = subprocess.run([os.path.join(VENV_BIN, "ansible-lint"), "--offline", "--nocolor", "-c", str(config),
                           "--profile", "production", "-q"],
                          cwd=out_root, env=env, capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert len(os.listdir(out_root)) == len(compiled)


def test_corpus_hybrid_templates_place_each_node_on_its_site(corpus_projects):
    """hybrid_* and *_vr* templates: the SlaPlacement target's Compute is provisioned on its SLA's site, the
    others on the deployment's site; undeploy visits every site; VR nodes apply the overlay role."""
    import yaml  # pylint: disable=import-outside-toplevel

    out_root, (compiled, _, _) = corpus_projects
    sla = "5cf12da6cb0e8f527dfb3c97"
    expected = {"hybrid_elastic_cluster.yaml": {"lrms_wn": sla}, "hybrid_elastic_cluster_vr.yaml": {"lrms_wn": sla},
                "hybrid_elastic_cluster_vr_l2.yaml": {}, "hybrid_elastic_cluster_vr_l2_add.yaml": {},
                "hybrid_kubernetes_elastic_cluster.yaml": {"lrms_wn": sla},
                "hybrid_kubernetes_elastic_cluster_vr.yaml": {"lrms_wn": sla},
                "hybrid_mesos_elastic_cluster.yaml": {"mesos_slave_server": sla}}
    assert sorted(n for n in compiled if n.startswith("hybrid_") or "_vr" in n) == sorted(expected)
    for name, wanted in sorted(expected.items()):
        project = os.path.join(out_root, os.path.splitext(name)[0])
        with open(os.path.join(project, "group_vars", "all", "topology.yml"), encoding="utf-8") as handle:
            placement = yaml.safe_load(handle.read().replace("!unsafe ", "")).get("indigo_placement", {})
        assert placement == wanted, name
        with open(os.path.join(project, "deploy.yml"), encoding="utf-8") as handle:
            deploy = handle.read()
        for compute in placement:
            assert "(indigo_sites | default({}))['%s'] | default(indigo_placement['%s'])" % (compute, compute) in deploy
        assert deploy.count("default(indigo_placement[") == len(placement)
        if "_vr" in name:
            assert "name: indigo.paas.overlay" in deploy, name
        with open(os.path.join(project, "undeploy.yml"), encoding="utf-8") as handle:
            assert ("indigo_placement.values()" in handle.read()) == bool(wanted), name
