"""One secrets rule (collection module_utils/secrets.py) for compiler, survey, runtime state, journal and
modules: TOSCA-declared secrecy first, then names on word parts, then values equal to a known secret."""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import pytest

from tosca2ansible.collection import collections_root, secrets_rule
from tosca2ansible.compiler import compile_template
from tosca2ansible.runtime.journal.api import Journal
from tosca2ansible.runtime.journal.redact import MASK, Redactor, redact_inputs, secret_values_from_vars
from tosca2ansible.runtime.state import DeploymentState
from tests.helpers import tosca

RULE = secrets_rule()
SECRET_NAMES = ["admin_pass", "ssh_passphrase", "apikey", "apiKey", "db_password", "rclone_passwd", "MYSQL_PWD",
                "vault_secret", "access_token", "ssh_key", "private_key", "client_credentials", "auth_token",
                "mysecretvalue", "dbpassword"]
PUBLIC_NAMES = ["ssh_public_key", "instance_key_pub", "monkey", "keyboard_layout", "passenger_count", "db_name",
                "compass_url"]
HEADER = tosca("""\
  node_templates:
    vm: {type: tosca.nodes.indigo.Compute, capabilities: {os: {properties: {type: linux}}}}
  inputs:
""")


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names(name):
    assert RULE.is_secret_name(name)


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_public_names(name):
    assert not RULE.is_secret_name(name)


def test_value_equal_to_a_known_secret_is_secret():
    assert RULE.is_secret("motd", value="hunter2-xyz", known={"hunter2-xyz"})
    assert not RULE.is_secret("motd", value="hello", known={"hunter2-xyz"})


def _compile(tmp_path, inputs_block):
    template = tmp_path / "t.yaml"
    template.write_text(HEADER + textwrap.indent(textwrap.dedent(inputs_block), "    "))
    compiled = compile_template(str(template), str(tmp_path / "p"), {}, [], defer_inputs=True)
    survey = {q["question_name"]: q for q in json.loads((tmp_path / "p" / "awx" / "survey.json").read_text())["spec"]}
    inputs = (tmp_path / "p" / "group_vars" / "all" / "inputs.yml").read_text()
    return compiled, survey, inputs


def test_every_part_of_the_framework_agrees_on_names(tmp_path):
    block = "".join("%s: {type: string, default: MARK-%s-value}\n" % (n, n) for n in SECRET_NAMES + PUBLIC_NAMES)
    compiled, survey, inputs = _compile(tmp_path, block)
    values = {n: "MARK-%s-value" % n for n in SECRET_NAMES + PUBLIC_NAMES}
    assert sorted(compiled.secret_names) == sorted(SECRET_NAMES)
    journal_inputs = redact_inputs(values)
    state = DeploymentState("d-agree", home=tmp_path / "home")
    state.write_record(inputs=values)
    public_record = json.loads(state.record_file.read_text())["inputs"]
    for name in SECRET_NAMES:
        assert values[name] not in inputs, name                       # compiled project
        assert "default" not in survey[name] and survey[name]["type"] == "password", name  # AWX survey
        assert journal_inputs[name] == MASK, name                     # journal / indigo show
        assert name not in public_record, name                        # deployment.json
    for name in PUBLIC_NAMES:
        assert values[name] in inputs and survey[name]["default"] == values[name], name
        assert journal_inputs[name] == values[name] and public_record[name] == values[name], name


def test_tosca_declared_secrecy_wins_over_an_innocent_name(tmp_path):
    compiled, survey, inputs = _compile(tmp_path, """\
        motd: {type: string, default: DECLARED-marker-1, metadata: {secret: true}}
        login: {type: tosca.datatypes.Credential, default: {user: u, token: DECLARED-marker-2}}
        """)
    assert compiled.secret_names == ["login", "motd"]
    assert "DECLARED-marker" not in inputs
    assert "default" not in survey["motd"] and "default" not in survey["login"]
    # the runtime keeps the compiler's names: deployment.json and the journal mask them too
    state = DeploymentState("d-declared", home=tmp_path / "home")
    state.write_record(inputs={"motd": "DECLARED-marker-1"}, secret_names=compiled.secret_names)
    state.write_record(status="deployed")  # later updates keep them out
    assert "DECLARED" not in state.record_file.read_text()
    assert state.read_record()["inputs"]["motd"] == "DECLARED-marker-1"
    with Journal(str(tmp_path / "journal.sqlite")) as journal:
        journal.record_deployment("d-declared", "deployed", inputs={"motd": "DECLARED-marker-1"},
                                  secret_names=["motd"], note="motd is DECLARED-marker-1")
    assert b"DECLARED" not in (tmp_path / "journal.sqlite").read_bytes()


def test_redactor_masks_by_the_same_rule():
    found = secret_values_from_vars({"admin_pass": "pass-value-1", "cfg": {"ssh_passphrase": "phrase-value-2"},
                                     "apikey": "key-value-3", "ssh_public_key": "ssh-ed25519 AAAA"})
    assert found == {"pass-value-1", "phrase-value-2", "key-value-3"}
    assert Redactor(found).text("login with pass-value-1") == "login with " + MASK


MODULES = sorted((collections_root() / "ansible_collections" / "indigo" / "paas" / "plugins" / "modules").glob("*.py"))
# options that carry secrets in real templates whatever their name
CARRIERS = {("marathon_app", "environment"), ("chronos_job", "environment"), ("helm_release", "values"),
            ("instance", "user_data")}


def _options(path: Path):
    """Every `name=dict(...)` keyword of the module's argument spec (sub-options included)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.keyword) and isinstance(node.value, ast.Call) \
                and getattr(node.value.func, "id", None) == "dict" and node.arg:
            keys = {k.arg: k.value for k in node.value.keywords}
            if "type" in keys:
                no_log = isinstance(keys.get("no_log"), ast.Constant) and keys["no_log"].value is True
                yield node.arg, no_log


@pytest.mark.parametrize("module", MODULES, ids=[m.stem for m in MODULES])
def test_no_log_on_every_option_that_can_carry_a_secret(module):
    options = dict(_options(module))
    for name, no_log in options.items():
        if RULE.is_secret_name(name) or (module.stem, name) in CARRIERS:
            assert no_log, "%s: option %s needs no_log=True" % (module.stem, name)
    for stem, name in CARRIERS:
        if stem == module.stem:
            assert name in options, name
