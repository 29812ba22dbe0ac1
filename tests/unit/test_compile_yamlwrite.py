"""The project's YAML writer reads back, through PyYAML, as exactly the data written."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tosca2ansible.compiler.render import Unsafe
from tosca2ansible.compiler.yamlwrite import MAX_LINE, dump, possibly_template, unsafe_keeps_str


class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    pass


_Loader.add_constructor("!unsafe", lambda loader, node: Unsafe(loader.construct_scalar(node)))


def _same(left, right):
    if isinstance(left, dict):
        return isinstance(right, dict) and list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return isinstance(right, list) and len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, str):
        # data keeps `!unsafe` unless ansible-core 2.19 would retype it; other text gets it where it could be Jinja
        tagged = unsafe_keeps_str(left) and (isinstance(left, Unsafe) or possibly_template(left))
        return isinstance(right, Unsafe) == tagged and isinstance(right, str) and str(left) == str(right)
    return type(left) is type(right) and left == right


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT,
                    TEXT.map(Unsafe), st.sampled_from(["yes", "No", "null", "~", "1.5", "0600", "- a", "a: b",
                                                       "{{ x }}", "  lead", "trail ", "#c", "a\\ b" * 30]))
DATA = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(TEXT.filter(bool), inner, max_size=4)),
                    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(DATA)
def test_round_trip(data):
    text = dump(data)
    assert text.startswith("---\n")
    assert _same(data, yaml.load(text, Loader=_Loader))  # nosec B506


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="ab c{}'\"\\/", min_size=100, max_size=600), min_size=1, max_size=3))
def test_long_strings_fold_under_the_line_limit(values):
    text = dump({"key": values, "nested": {"deeper": {"value": values[0]}}})
    assert max(len(line) for line in text.splitlines()) <= 160
    assert yaml.safe_load(text.replace("!unsafe ", "")) == {"key": values, "nested": {"deeper": {"value": values[0]}}}
    assert MAX_LINE <= 160


def test_text_ending_in_a_newline_is_quoted():
    # found by hypothesis: a plain-scalar regex ending in "$" accepted "A\n" and lost the newline
    for data in ({"A\n": None}, {"key": "A\n"}, ["A\n"]):
        assert yaml.safe_load(dump(data)) == data
