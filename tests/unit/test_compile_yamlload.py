"""The compiler's YAML reader gives what PyYAML's SafeLoader gives, plus the line of every key."""

from __future__ import annotations

import glob
import os

import pytest

from tests.fixtures.corpus import CORPUS as CORPUS_DIR, needs_corpus
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tosca2ansible.compiler.yamlload import MarkedDict, line_of, load_yaml_text, plain
from tosca2ansible.errors import UserInputError
from tests.helpers import ROOT

CORPUS = str(CORPUS_DIR)

FEATURES = """\
plain: text
booleans: [yes, No, true, off, y, n]
numbers: [1, -2, 0x1F, 0o17, 1_000, 1.5, 1e3, .inf, -.inf, 3.]
nothing: [~, null, '']
quoted: ['yes', "1.5", '~']
when: 2001-12-14
stamp: 2001-12-14t21:59:43.10-05:00
tagged: [!!str 12, !!int "7", !!float "2", !!bool "true"]
binary: !!binary aGVsbG8=
folded: >
  one
  two
literal: |
  keep
  lines
base: &base {cpu: 1, mem: 2 GB}
merged:
  <<: *base
  cpu: 4
merged_list:
  <<: [{a: 1}, {b: 2}]
  c: 3
shared: &items [1, 2]
again: *items
set: !!set {a, b}
omap: !!omap [{x: 1}, {y: 2}]
pairs: !!pairs [{x: 1}, {x: 2}]
= : value key
1: int key
1.5: float key
true: bool key
~: null key
"""
DUPLICATE = "a: 1\nduplicate: first\nb: 2\nduplicate: last\n"


def test_same_data_as_pyyaml_safe_loader():
    assert plain(load_yaml_text(FEATURES, "f.yaml")) == yaml.safe_load(FEATURES)


def test_every_mapping_knows_its_lines():
    doc = load_yaml_text(FEATURES, "f.yaml")
    assert isinstance(doc, MarkedDict) and doc.line == 1
    assert line_of(doc, "plain") == 1 and line_of(doc, "literal") == 13
    assert doc["base"].line == 16 and line_of(doc["base"], "mem") == 16
    # merged keys keep the line where they were written; own keys their own line
    assert line_of(doc["merged"], "mem") == 16 and line_of(doc["merged"], "cpu") == 19


def test_duplicate_keys_are_an_error_naming_both_lines():
    with pytest.raises(UserInputError, match=r"f.yaml:4: duplicate key 'duplicate' on lines 2 and 4"):
        load_yaml_text(DUPLICATE, "f.yaml")
    with pytest.raises(UserInputError, match=r"f.yaml:3: duplicate key 'k' on lines 2 and 3"):
        load_yaml_text("m:\n  k: 1\n  k: 2\n", "f.yaml")


def test_duplicate_keys_as_notices_keep_the_last_one():
    seen = []
    doc = load_yaml_text(DUPLICATE, "f.yaml", on_duplicate=seen.append)
    assert [(d.key, d.first_line, d.second_line) for d in seen] == [("duplicate", 2, 4)]
    assert doc["duplicate"] == "last" and line_of(doc, "duplicate") == 4


def test_aliases_are_shared_like_pyyaml():
    doc = load_yaml_text("a: &x {k: [1]}\nb: *x\nc: &y [1]\nd: *y\n", "f.yaml")
    assert doc["a"] is doc["b"] and doc["c"] is doc["d"]


@pytest.mark.parametrize("text, message", [
    ("a: &x {k: *x}\n", "YAML syntax error: found unconstructable recursive node"),
    ("a: !unsafe foo\n", "YAML syntax error: could not determine a constructor for the tag '!unsafe'"),
    ("a: !!python/object:os.system x\n", "could not determine a constructor"),
    ("a: !!seq foo\n", "expected a sequence node, but found scalar"),
    ("a: {<<: 3}\n", "expected a mapping or list of mappings for merging"),
    ("? {a: 1}\n: 2\n", "a mapping key must be a plain value, not MarkedDict"),
    ("? [1]\n: 2\n", "a mapping key must be a plain value, not list"),
    ("--- a\n--- b\n", "expected a single document in the stream"),
    ("a: [1, 2\n", "YAML syntax error"),
])
def test_bad_yaml_is_one_clean_error_with_file_and_line(text, message):
    with pytest.raises(UserInputError) as error:
        load_yaml_text(text, "bad.yaml")
    assert message in str(error.value)
    assert error.value.location.file == "bad.yaml"


def test_documents_that_are_not_mappings_load_like_pyyaml():
    for text in ("", "- 1\n- [a, b]\n", "just text", "42"):
        assert plain(load_yaml_text(text, "f.yaml")) == yaml.safe_load(text)
    # a list holding itself (PyYAML builds one) would send every later walk round in circles
    with pytest.raises(UserInputError, match="f.yaml:1: a YAML alias refers to the collection that contains it"):
        load_yaml_text("- &a [*a]\n", "f.yaml")


def _files():
    found = sorted(glob.glob(os.path.join(CORPUS, "**", "*.y*ml"), recursive=True))
    found += sorted(glob.glob(os.path.join(ROOT, "tosca2ansible", "**", "*.y*ml"), recursive=True))
    return found


@needs_corpus
def test_every_corpus_and_bundled_file_loads_as_pyyaml_does():
    files = _files()
    assert len(files) > 60
    with_duplicates = set()
    for path in files:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        found = []
        assert plain(load_yaml_text(text, path, on_duplicate=found.append)) == yaml.safe_load(text), path
        if found:
            with_duplicates.add(os.path.basename(path))
    # upstream's type library repeats `constraints` (a notice when imported); one example repeats `ports`
    assert with_duplicates == {"custom_types.yaml", "hadoop_cluster.yaml"}


SCALAR_TEXT = st.sampled_from(["yes", "No", "~", "null", "1", "0x1F", "1.5", "1e3", ".inf", "2001-12-14", "a b",
                               "'quoted'", '"dq"', "-1", "+1", "0o7", "true", "on", "=", "<<: {}", "x", ""])


@settings(max_examples=200, deadline=None)
@given(st.recursive(SCALAR_TEXT, lambda inner: st.one_of(
    st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
    st.dictionaries(st.sampled_from(["a", "b", "1", "yes", "~"]), inner, max_size=3).map(
        lambda pairs: "{" + ", ".join("%s: %s" % kv for kv in pairs.items()) + "}")), max_leaves=12))
def test_flow_documents_read_as_pyyaml_reads_them(body):
    text = "key: %s\n" % body
    try:
        expected = yaml.safe_load(text)
    except yaml.YAMLError:
        with pytest.raises(UserInputError):
            load_yaml_text(text, "f.yaml")
        return
    assert plain(load_yaml_text(text, "f.yaml")) == expected
