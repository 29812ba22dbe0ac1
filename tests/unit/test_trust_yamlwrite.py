"""The trust boundary in the YAML writer, checked with ansible-core's own loader (the pinned 2.19).

A compiled project's files are read by Ansible as trusted templates (group_vars, playbooks: see
ansible/plugins/vars/host_group_vars.py and ansible/playbook/__init__.py, `trusted_as_template=True`).
What the writer writes must load as the same values with the same types, and no text that is data
(`Unsafe`, or any text Ansible could take for a template that the compiler did not write as an `Expr`)
may load trusted.
"""

from __future__ import annotations

import math

from ansible.module_utils._internal._datatag import AnsibleTagHelper
from ansible.parsing.dataloader import DataLoader
from ansible.template import is_trusted_as_template
from hypothesis import given, settings
from hypothesis import strategies as st

from tosca2ansible.compiler.render import Expr, Unsafe
from tosca2ansible.compiler.yamlwrite import dump, possibly_template, unsafe_keeps_str

# What Ansible (2.19: _internal/_templating/_jinja_bits.py is_possibly_template) renders: these start strings
# or the override header.
JINJA = ["{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "#jinja2:", "{{ lookup('pipe', 'id') }}",
         "{% raw %}", "{{ x }}{# c #}"]
YAML_SPECIAL = ["0755", "0123", "0o17", "0x1F", "1_000", "yes", "no", "on", "off", "y", "n", "true", "False",
                "null", "Null", "~", "", " ", "1.10", ".inf", "-.inf", ".nan", "1e3", "+1", "-0", "2001-12-14",
                "2001-12-14 21:59:43.10 -5", "=", "<<", "!", "&", "*", "- a", "a: b", "#c", "1\n", "yes\n",
                "it's", 'say "hi"', "a\\b", "\\n", "a\nb", "\r\n", "\t", "\x85", "\u2028", "\u2029", "\ufeff",
                "é", "☃"]
ATOMS = st.sampled_from(JINJA + YAML_SPECIAL)
TEXT = st.one_of(
    ATOMS,
    st.lists(st.one_of(ATOMS, st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)), max_size=6).map("".join),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT, TEXT.map(Unsafe))
DATA = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(TEXT, inner, max_size=4)), max_leaves=25)


def _load_as_ansible(tmp_path, text):
    path = tmp_path / "vars.yml"
    path.write_text(text, encoding="utf-8")
    return DataLoader().load_from_file(str(path), cache="none", trusted_as_template=True)


def _native_type(value):
    return type(AnsibleTagHelper.untag(value))  # 2.19 loads scalars as tagged subclasses (Origin)


def _check(given, loaded, where="value"):
    """Same value and type; data never trusted; trusted text only where it cannot be a template."""
    if isinstance(given, dict):
        assert isinstance(loaded, dict) and list(loaded) == [str(k) for k in given], where
        for key, item in given.items():
            _check(item, loaded[str(key)], "%s[%r]" % (where, key))
        return
    if isinstance(given, list):
        assert isinstance(loaded, list) and len(loaded) == len(given), where
        for index, item in enumerate(given):
            _check(item, loaded[index], "%s[%d]" % (where, index))
        return
    if isinstance(given, str):
        assert _native_type(loaded) is str, (where, type(loaded))
        assert str(loaded) == str(given), where
        if isinstance(given, Unsafe) or possibly_template(given):
            assert not (is_trusted_as_template(loaded) and possibly_template(given)), where
            if unsafe_keeps_str(given):
                assert not is_trusted_as_template(loaded), where
        return
    if isinstance(given, float) and math.isinf(given):
        assert loaded == given, where
        return
    assert _native_type(loaded) is type(given) and loaded == given, (where, loaded)


@settings(max_examples=300, deadline=None)
@given(DATA)
def test_what_the_writer_writes_loads_in_ansible_as_the_same_untrusted_data(tmp_path_factory, data):
    tmp_path = tmp_path_factory.mktemp("w")
    _check(data, _load_as_ansible(tmp_path, dump({"v": data}))["v"])


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_text_ansible_could_render_always_survives_unsafe_as_a_string(text):
    # The writer leaves out `!unsafe` only where 2.19 would retype the scalar; that text is never a template.
    if possibly_template(text):
        assert unsafe_keeps_str(text)


def test_issue_11_reproductions_load_as_written(tmp_path):
    """`!unsafe "0755"` used to load as 493, "yes" as True, "" as None, "1.10" as 1.1, "off" as False."""
    values = ["0755", "0123", "yes", "", "null", "1.10", "off", "1\n", "!"]
    loaded = _load_as_ansible(tmp_path, dump({"a": [Unsafe(v) for v in values], "off": Unsafe("off")}))
    assert loaded["a"] == values and all(_native_type(v) is str for v in loaded["a"])
    assert loaded["off"] == "off"


def test_compiler_expressions_stay_templates_and_names_with_jinja_do_not(tmp_path):
    loaded = _load_as_ansible(tmp_path, dump([{"name": "Run x{{ lookup('pipe','id') }}", "when": [Expr("a is b")],
                                               "vars": {"p": Expr("{{ playbook_dir }}")}}]))[0]
    assert is_trusted_as_template(loaded["vars"]["p"]) and is_trusted_as_template(loaded["when"][0])
    assert not is_trusted_as_template(loaded["name"])
