"""Mutated templates never crash the compiler: either a project or one clean UserInputError."""

from __future__ import annotations

import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tosca2ansible.compiler import build
from tosca2ansible.errors import UserInputError
from tests.fixtures.corpus import PRESENT, TYPES_MAPPING
from tests.helpers import ROOT

SEED = os.path.join(ROOT, "examples", "slurm_cluster.yaml")
TYPES = [TYPES_MAPPING] if PRESENT else []
with open(SEED, encoding="utf-8") as _handle:
    SEED_TEXT = _handle.read()
SEED_DATA = yaml.safe_load(SEED_TEXT)

JUNK = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False), st.text(max_size=20),
              st.sampled_from(["lrms_wn", "HOST", "SELF", "get_input", "tosca.nodes.indigo.Compute", "wn_num",
                               "private_address", "1 GB", "yes"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(
        st.sampled_from(["get_input", "get_attribute", "get_property", "concat", "token", "type", "host",
                         "properties", "requirements", "node", "x"]), inner, max_size=2)),
    max_leaves=8)


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, prefix + (index,))


ALL_PATHS = [p for p in _paths(SEED_DATA) if p]


def _mutate(data, path, action, junk):
    import copy  # pylint: disable=import-outside-toplevel

    data = copy.deepcopy(data)
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif action == "delete" and isinstance(parent, list):
        parent.pop(last)
    elif action == "add" and isinstance(parent[last], dict):
        parent[last]["extra_" + str(len(parent[last]))] = junk
    else:
        parent[last] = junk
    return data


def _check(template_path):
    try:
        build(str(template_path), {}, TYPES, None, defer_inputs=True)
    except UserInputError as exc:
        assert "internal error" not in exc.message, exc.message
        assert str(exc).strip()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(ALL_PATHS), action=st.sampled_from(["delete", "replace", "add"]), junk=JUNK)
def test_structural_mutations(tmp_path, path, action, junk):
    template = tmp_path / "fuzz.yaml"
    template.write_text(yaml.safe_dump(_mutate(SEED_DATA, path, action, junk)))
    _check(template)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, len(SEED_TEXT)), cut=st.integers(0, 40), insert=st.text(max_size=5))
def test_text_mutations(tmp_path, position, cut, insert):
    template = tmp_path / "fuzz.yaml"
    template.write_text(SEED_TEXT[:position] + insert + SEED_TEXT[position + cut:])
    _check(template)
