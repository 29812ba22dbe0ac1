"""Golden outputs of representative templates (regenerate: UPDATE_GOLDEN=1 pytest this file).

ansible.cfg (the same in every project, checked in tests/integration/test_standalone_collection.py) and template.yaml (a copy of the input) are left out.
"""

from __future__ import annotations

import os

import pytest

from tests.fixtures.corpus import EXAMPLES, TYPES_MAPPING, require_corpus

from tosca2ansible.compiler import build
from tests.helpers import ROOT

GOLDEN = os.path.join(ROOT, "tests", "golden")
CORPUS = str(EXAMPLES)
TYPES = [TYPES_MAPPING]
CASES = {
    "slurm_cluster": os.path.join(ROOT, "examples", "slurm_cluster.yaml"),
    "mesos_cluster": os.path.join(CORPUS, "mesos_cluster.yaml"),
    "indigo_marathon_app": os.path.join(CORPUS, "indigo_marathon_app.yaml"),
    "hybrid_elastic_cluster": os.path.join(CORPUS, "hybrid_elastic_cluster.yaml"),
}
SKIPPED = ("ansible.cfg", "template.yaml")


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case):
    if CASES[case].startswith(CORPUS):
        require_corpus()
    compiled = build(CASES[case], {}, TYPES, None, defer_inputs=True)
    files = {k: v for k, v in compiled.files.items() if k not in SKIPPED}
    folder = os.path.join(GOLDEN, case)
    if os.environ.get("UPDATE_GOLDEN"):
        for rel, content in files.items():
            path = os.path.join(folder, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(content)
    on_disk = sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, names in os.walk(folder) for f in names)
    assert on_disk == sorted(files), "golden file set differs"
    for rel, content in files.items():
        with open(os.path.join(folder, rel), encoding="utf-8") as handle:
            assert handle.read() == content, rel
