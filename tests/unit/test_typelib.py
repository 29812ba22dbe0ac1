"""The bundled INDIGO type library (tosca2ansible/typelib) against tosca-parser and the real corpus.

The corpus (66 INDIGO templates and the three upstream custom_types.yaml files they import) lives in
../shared/corpus (override with INDIGO_CORPUS); tests that need it are skipped when it is absent
(and fail under CI: tests/fixtures/corpus.py).
"""
from __future__ import annotations

import copy
import functools
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from toscaparser import imports as tosca_imports
from toscaparser.common.exception import ExceptionCollector
from toscaparser.elements.nodetype import NodeType
from toscaparser.nodetemplate import NodeTemplate
from toscaparser.tosca_template import ToscaTemplate

from tosca2ansible.typelib import (BUNDLED_TYPES_DIR, INDIGO_TYPES_FILE, bundled_for_url,
                                   is_indigo_types_url)
from tosca2ansible.typelib.tools import build_indigo_types

from tests.fixtures.corpus import CORPUS, EXAMPLES, REPO_ROOT, needs_corpus

UPSTREAM = CORPUS / "types" / "raw.githubusercontent.com" / "indigo-dc" / "tosca-types"
INDIGO_URL = re.compile(
    r"https://raw\.githubusercontent\.com/indigo-dc/tosca-types/([^/\s]+)/custom_types\.yaml")
# The two corpus templates that are wrong against their own branch's types (see the corpus README):
# a Placement policy given an availability_zone its branch does not define, and a misspelt property.
TEMPLATES_WRONG_AGAINST_THEIR_TYPES = {"node_with_availability_zone.yaml", "vm_docker_deepass.yml"}

logging.getLogger("tosca.model").setLevel(logging.CRITICAL)


def _corpus_templates() -> list[Path]:
    return sorted(EXAMPLES.glob("*.y*ml")) if EXAMPLES.is_dir() else []


@pytest.fixture(scope="module", autouse=True)
def offline_cached_imports():
    """Parse offline, and read each imported file once.

    tosca-parser re-reads every import (twice) per template; caching keeps this module fast. A URL
    that no local_defs entry replaced would be fetched from the network: fail instead.
    """
    cache: dict[tuple[str, float], object] = {}
    real_loader = tosca_imports.YAML_LOADER

    def loader(path, a_file=True):
        if not a_file:
            raise AssertionError(f"tosca-parser tried to download {path}")
        key = (str(path), os.stat(path).st_mtime)
        if key not in cache:
            cache[key] = real_loader(path, a_file=True)
        return copy.deepcopy(cache[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tosca_imports, "YAML_LOADER", loader)
        # Real INDIGO templates place software through an `lrms` HostedOn requirement, which
        # tosca-parser >= 2.13 rejects in this check; the compiler disables it the same way.
        patch.setattr(NodeTemplate, "_validate_relationship_occurrences", lambda self: None)
        yield


def parse_outcome(template: Path, local_defs: dict[str, str]) -> str:
    """'OK', or the sorted distinct error lines tosca-parser reported (without its stack traces)."""
    try:
        ToscaTemplate(str(template), local_defs=local_defs)
    except Exception as error:  # tosca-parser raises ValidationError but also raw TypeError & co.
        lines = re.findall(r"^\t([A-Za-z]+: .+)$", str(error), flags=re.M)
        return "\n".join(sorted(set(lines))) or f"{type(error).__name__}: {error}"
    finally:
        ExceptionCollector.stop()  # a class-level global: leave it clean for the next parse
    return "OK"


def _indigo_import(template: Path) -> tuple[str, str]:
    match = INDIGO_URL.search(template.read_text(encoding="utf-8"))
    assert match, f"{template.name} does not import the INDIGO types"
    return match.group(0), match.group(1)


def _write_template(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


@functools.lru_cache(maxsize=None)
def _load_yaml(path: Path) -> dict:
    """Parsed YAML, read once per session (callers must not mutate it)."""
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _bundled() -> dict:
    return _load_yaml(INDIGO_TYPES_FILE)


def _upstream(branch: str) -> dict:
    return _load_yaml(UPSTREAM / branch / "custom_types.yaml")


# --- (a) the library itself ---------------------------------------------------------------------

def test_bundled_file_is_inside_the_package_and_parses_with_tosca_parser(tmp_path):
    assert INDIGO_TYPES_FILE.is_file()
    assert BUNDLED_TYPES_DIR in INDIGO_TYPES_FILE.parents
    template = _write_template(tmp_path, f"""\
        tosca_definitions_version: tosca_simple_yaml_1_0
        imports:
          - indigo: {INDIGO_TYPES_FILE}
        topology_template:
          node_templates:
            server:
              type: tosca.nodes.indigo.Compute
              capabilities:
                scalable: {{properties: {{count: 2}}}}
            slurm:
              type: tosca.nodes.indigo.LRMS.FrontEnd.Slurm
              requirements:
                - host: server
        """)
    parsed = ToscaTemplate(str(template))
    slurm = next(node for node in parsed.nodetemplates if node.name == "slurm")
    assert slurm.get_property_value("wn_num") == -1  # default from the bundled type
    assert slurm.type_definition.parent_type.type == "tosca.nodes.indigo.LRMS.FrontEnd"


def test_every_bundled_node_type_resolves_its_whole_derivation_chain():
    library = _bundled()
    custom_defs = {}
    for section in ("data_types", "capability_types", "artifact_types", "relationship_types",
                    "node_types", "policy_types"):
        custom_defs.update(copy.deepcopy(library[section]))
    for name in library["node_types"]:
        node_type = NodeType(name, custom_defs)
        chain = [name]
        parent = node_type.parent_type
        while parent is not None:
            chain.append(parent.type)
            parent = parent.parent_type
        assert chain[-1] == "tosca.nodes.Root", f"{name}: chain {chain} does not reach tosca.nodes.Root"
        for prop in node_type.get_properties_def_objects():
            assert prop.schema.get("type"), f"{name}.{prop.name} has no type"


def test_every_type_has_a_project_description():
    library = _bundled()
    upstream_texts = set()
    if UPSTREAM.is_dir():
        for branch in build_indigo_types.BRANCHES:
            doc = _upstream(branch)
            for section in build_indigo_types.SECTIONS:
                upstream_texts.update((v or {}).get("description") for v in (doc.get(section) or {}).values())
    for section in build_indigo_types.SECTIONS:
        for name, type_def in library[section].items():
            text = type_def.get("description")
            assert isinstance(text, str) and len(text) > 10, f"{name} has no description"
            assert text not in upstream_texts, f"{name} reuses the upstream description"


@needs_corpus
def test_committed_library_is_what_the_generator_produces(tmp_path):
    fresh = tmp_path / "custom_types.yaml"
    command = [sys.executable, "-m", "tosca2ansible.typelib.tools.build_indigo_types",
               "--upstream", str(UPSTREAM), "--output", str(fresh)]
    subprocess.run(command, check=True, cwd=REPO_ROOT, capture_output=True)
    again = build_indigo_types.build(UPSTREAM)
    assert fresh.read_text(encoding="utf-8") == again, "generator output is not deterministic"
    assert INDIGO_TYPES_FILE.read_text(encoding="utf-8") == again, (
        "typelib/indigo/custom_types.yaml differs from the generator output: regenerate it")


@needs_corpus
def test_generator_refuses_a_type_without_description(tmp_path, monkeypatch, capsys):
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "project_types.yaml").write_bytes(
        (build_indigo_types.TOOLS_DIR / "project_types.yaml").read_bytes())
    texts = (build_indigo_types.TOOLS_DIR / "descriptions.yaml").read_text(encoding="utf-8")
    (tools / "descriptions.yaml").write_text(
        re.sub(r"^  tosca\.nodes\.indigo\.Kepler:.*\n", "", texts, flags=re.M), encoding="utf-8")
    monkeypatch.setattr(build_indigo_types, "TOOLS_DIR", tools)
    output = tmp_path / "out.yaml"
    status = build_indigo_types.main(["--upstream", str(UPSTREAM), "--output", str(output)])
    assert status == 2
    assert "node_types.tosca.nodes.indigo.Kepler" in capsys.readouterr().err
    assert not output.exists()


# --- bundled_for_url ----------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml",
    "https://raw.githubusercontent.com/indigo-dc/tosca-types/devel/custom_types.yaml",
    "https://raw.githubusercontent.com/indigo-dc/tosca-types/add-ek/custom_types.yaml",
    "https://raw.githubusercontent.com/indigo-dc/tosca-types/dodas_roll/custom_types.yaml",
    "https://raw.githubusercontent.com/indigo-dc/tosca-types/v4.0.0/custom_types.yaml",
    "https://raw.githubusercontent.com/indigo-dc/tosca-types/refs/heads/master/custom_types.yaml",
    "http://raw.githubusercontent.com/Indigo-DC/Tosca-Types/master/custom_types.yaml",
    "https://github.com/indigo-dc/tosca-types/raw/devel/custom_types.yaml",
    "https://cdn.jsdelivr.net/gh/indigo-dc/tosca-types@v4.0.0/custom_types.yaml",
])
def test_indigo_type_urls_map_to_the_bundled_file(url):
    assert bundled_for_url(url) == INDIGO_TYPES_FILE


@pytest.mark.parametrize("url", [
    "https://raw.githubusercontent.com/grycap/tosca/main/custom_types.yaml",
    "https://raw.githubusercontent.com/indigo-dc/tosca-types/master/artifacts/custom_types.yaml",
    "https://raw.githubusercontent.com/indigo-dc/tosca-types/master/../custom_types.yaml",
    "https://raw.githubusercontent.com/indigo-dc/tosca-types/custom_types.yaml",
    "https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml.bak",
    "https://evil.example/indigo-dc/tosca-types/master/custom_types.yaml",
    "file:///raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml",
    "custom_types.yaml",
    "http://[::1/indigo-dc",
    "",
    None,
    {"file": "custom_types.yaml"},
])
def test_other_imports_are_not_substituted(url):
    assert bundled_for_url(url) is None
    assert not is_indigo_types_url(url)


# --- (b) the corpus: bundled library vs. each template's own branch ------------------------------

@needs_corpus
@pytest.mark.parametrize("template", _corpus_templates(), ids=lambda path: path.name)
def test_corpus_template_parses_the_same_against_bundled_and_own_types(template):
    url, branch = _indigo_import(template)
    own = parse_outcome(template, {url: str(UPSTREAM / branch / "custom_types.yaml")})
    bundled = parse_outcome(template, {url: str(bundled_for_url(url))})
    assert bundled == own
    if template.name in TEMPLATES_WRONG_AGAINST_THEIR_TYPES:
        assert "UnknownFieldError" in bundled
    else:
        assert bundled == "OK"


@needs_corpus
def test_corpus_is_complete():
    templates = _corpus_templates()
    assert len(templates) == 66
    assert TEMPLATES_WRONG_AGAINST_THEIR_TYPES <= {path.name for path in templates}


# --- (c) facts of the master file are kept ------------------------------------------------------

FACT_KEYS = ("type", "required", "default", "constraints", "entry_schema", "status")


def _facts(definition: dict) -> dict:
    return {key: definition.get(key) for key in FACT_KEYS}


@needs_corpus
@pytest.mark.parametrize("branch", ["master", "devel", "add-ek"])
def test_every_upstream_type_keeps_its_schema(branch):
    upstream = _upstream(branch)
    library = _bundled()
    for section in build_indigo_types.SECTIONS:
        for name, upstream_def in (upstream.get(section) or {}).items():
            ours = library[section].get(name)
            assert ours is not None, f"{section} {name} is missing"
            upstream_def = build_indigo_types._strip_descriptions(upstream_def)  # prose is ours
            for key in ("properties", "attributes"):
                for prop, definition in (upstream_def.get(key) or {}).items():
                    assert prop in (ours.get(key) or {}), f"{name}: {key} {prop} missing"
                    if branch == "master":
                        assert _facts(ours[key][prop]) == _facts(definition), f"{name}.{prop} differs"
                    else:  # another branch: the name and type must agree (master wins on detail)
                        assert ours[key][prop]["type"] == definition["type"], f"{name}.{prop} type"
            for cap, definition in (upstream_def.get("capabilities") or {}).items():
                assert cap in (ours.get("capabilities") or {}), f"{name}: capability {cap} missing"
            ours_reqs = {next(iter(req)) for req in ours.get("requirements") or []}
            for req in upstream_def.get("requirements") or []:
                assert next(iter(req)) in ours_reqs, f"{name}: requirement {next(iter(req))} missing"
            if branch == "master":
                assert ours.get("derived_from") == upstream_def.get("derived_from"), name
                assert ours.get("interfaces") == upstream_def.get("interfaces"), f"{name}: operations differ"
                assert ours.get("artifacts") == upstream_def.get("artifacts"), f"{name}: artifacts differ"


@needs_corpus
def test_master_node_types_are_all_bundled_with_same_property_names_and_types():
    master = _upstream("master")["node_types"]
    library = _bundled()["node_types"]
    assert len(master) == 72
    # the project's declared additions to upstream types (tools/project_types.yaml extend_node_types)
    extensions = yaml.safe_load((Path(build_indigo_types.__file__).parent / "project_types.yaml").read_text())["extend_node_types"]
    for name, definition in master.items():
        expected = {prop: spec["type"] for prop, spec in (definition.get("properties") or {}).items()}
        expected.update({prop: spec["type"] for prop, spec in ((extensions.get(name) or {}).get("properties") or {}).items()})
        got = {prop: spec["type"] for prop, spec in (library[name].get("properties") or {}).items()}
        assert got == expected, name


# --- (d) the project's own types ----------------------------------------------------------------

CLUSTER_WITH_PROJECT_TYPES = """\
    tosca_definitions_version: tosca_simple_yaml_1_0
    imports:
      - indigo_custom_types: https://raw.githubusercontent.com/indigo-dc/tosca-types/master/custom_types.yaml
    topology_template:
      inputs:
        admin_key: {type: string, default: "ssh-ed25519 AAAAC3Nz admin@example"}
      node_templates:
        condor_fe:
          type: tosca.nodes.indigo.LRMS.FrontEnd.HTCondor
          properties:
            wn_ips: {get_attribute: [condor_wn_server, private_address]}
            hybrid: no
          requirements:
            - host: condor_server
        condor_wn:
          type: tosca.nodes.indigo.LRMS.WorkerNode.HTCondor
          properties:
            slots: 4
          requirements:
            - host: condor_wn_server
            - front_end: condor_fe
        home_server:
          type: tosca.nodes.indigo.NFS.Server
          properties: {export_path: /home}
          requirements:
            - host: condor_server
        home_client:
          type: tosca.nodes.indigo.NFS.Client
          properties: {export_path: /home, mount_path: /home}
          requirements:
            - host: condor_wn_server
            - server: home_server
        accounts:
          type: tosca.nodes.indigo.OS.Users
          properties:
            users:
              - {name: alice, ssh_key: {get_input: admin_key}, sudo: yes}
              - {name: bob}
          requirements:
            - host: condor_server
        condor_server:
          type: tosca.nodes.indigo.Compute
          capabilities:
            scalable: {properties: {count: 1}}
        condor_wn_server:
          type: tosca.nodes.indigo.Compute
          capabilities:
            scalable: {properties: {count: 2}}
    """


def _parse_project_template(tmp_path, body: str) -> ToscaTemplate:
    template = _write_template(tmp_path, body)
    url = INDIGO_URL.search(template.read_text(encoding="utf-8")).group(0)
    try:
        return ToscaTemplate(str(template), local_defs={url: str(bundled_for_url(url))})
    finally:
        ExceptionCollector.stop()


def test_project_types_validate_in_a_small_cluster(tmp_path):
    parsed = _parse_project_template(tmp_path, CLUSTER_WITH_PROJECT_TYPES)
    nodes = {node.name: node for node in parsed.nodetemplates}
    front_end = nodes["condor_fe"]
    assert front_end.type_definition.parent_type.type == "tosca.nodes.indigo.LRMS.FrontEnd"
    lrms = front_end.get_capability("lrms")
    assert lrms.get_property_value("type") == "condor"
    worker = nodes["condor_wn"]
    assert worker.get_property_value("front_end_ip") == ""  # optional: the requirement gives it
    assert worker.get_property_value("hybrid") is False
    assert [next(iter(req)) for req in worker.requirements] == ["host", "front_end"]
    assert nodes["home_client"].get_property_value("mount_path") == "/home"
    assert nodes["home_server"].get_property_value("export_options").startswith("rw,")
    users = nodes["accounts"].get_property_value("users")
    assert [user["name"] for user in users] == ["alice", "bob"]
    assert users[0]["sudo"] is True


@pytest.mark.parametrize("good_entry, bad_entry, message", [
    ("- {name: alice, ssh_key: {get_input: admin_key}, sudo: yes}", "- {name: alice, sudo: sometimes}",
     '"sometimes" is not a boolean'),
    ("- {name: bob}", "- {ssh_key: no-name}", 'missing required field "[\'name\']"'),
    ("- {name: bob}", "- {name: Bob Smith}", '"Bob Smith" of property "name" does not match pattern'),
    ("- {name: bob}", "- {name: bob, shell: /bin/zsh}", 'contains unknown field "shell"'),
])
def test_os_users_entries_are_validated(tmp_path, good_entry, bad_entry, message):
    body = CLUSTER_WITH_PROJECT_TYPES.replace(good_entry, bad_entry)
    assert body != CLUSTER_WITH_PROJECT_TYPES
    with pytest.raises(Exception) as caught:
        _parse_project_template(tmp_path, body)
    assert message in str(caught.value)


def test_htcondor_capability_only_accepts_condor(tmp_path):
    body = CLUSTER_WITH_PROJECT_TYPES.replace(
        "            hybrid: no\n",
        "            hybrid: no\n          capabilities:\n            lrms: {properties: {type: slurm}}\n")
    with pytest.raises(Exception, match="condor"):
        _parse_project_template(tmp_path, body)


def test_nfs_client_must_name_a_server(tmp_path):
    body = CLUSTER_WITH_PROJECT_TYPES.replace("            - server: home_server\n", "")
    # The occurrences check is off in this module (as in the compiler), so check the type itself.
    client_type = _bundled()["node_types"]["tosca.nodes.indigo.NFS.Client"]
    server_requirement = next(req["server"] for req in client_type["requirements"] if "server" in req)
    assert server_requirement.get("occurrences", [1, "UNBOUNDED"])[0] == 1
    assert server_requirement["node"] == "tosca.nodes.indigo.NFS.Server"
    _parse_project_template(tmp_path, body)  # still parses: the compiler reports the missing server
