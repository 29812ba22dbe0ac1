"""OpenNebula provider logic that needs no site: sessions, error classes, security group rules,
VM state mapping; and the emulator's template parser (what pyone and the CLI send)."""

import os
import sys
import types
import xmlrpc.client

import pyone
import pytest
import requests
from tests.helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "collections"))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulators", "opennebula"))

import templates  # noqa: E402
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (  # noqa: E402
    AuthError, FatalError, QuotaError, TransientError)
from ansible_collections.indigo.paas.plugins.module_utils.providers.opennebula import OpenNebulaProvider  # noqa: E402

SITE = {"name": "one", "kind": "opennebula", "endpoint": "https://one.example.org:2633/RPC2",
        "network": {"private": "priv", "public": "pub"}}


def provider(credentials=None, **site):
    return OpenNebulaProvider(dict(SITE, **site), credentials or {"username": "u", "password": "p"})


@pytest.mark.parametrize("credentials, session", [
    ({"username": "u", "password": "p"}, "u:p"),
    ({"username": "u", "token": "t0k"}, "u:t0k"),
    ({"token": "u:t0k"}, "u:t0k"),
])
def test_session_from_credentials(credentials, session):
    assert provider(credentials).one._OneServerXRPC__session == session


@pytest.mark.parametrize("credentials", [{}, {"username": "u"}, {"password": "p"}, {"token": "no-user"}])
def test_incomplete_credentials_are_auth_errors(credentials):
    with pytest.raises(AuthError, match="username"):
        OpenNebulaProvider(SITE, credentials)


def test_missing_endpoint_is_fatal():
    with pytest.raises(FatalError, match="no 'endpoint'"):
        OpenNebulaProvider(dict(SITE, endpoint=None), {"username": "u", "password": "p"})


@pytest.mark.parametrize("exc, kind", [
    (pyone.OneAuthenticationException("[one.vm.info] User couldn't be authenticated, aborting call."), AuthError),
    (pyone.OneAuthorizationException("[one.vm.allocate] User [2] : user [2] limit of 4 reached for VMS quota in VM."),
     QuotaError),
    (pyone.OneAuthorizationException("[one.vm.action] Not authorized to perform MANAGE VM [3]."), AuthError),
    (pyone.OneInternalException("[one.vm.info] Internal error"), TransientError),
    (pyone.OneNoExistsException("[one.vm.info] Error getting virtual machine [9]."), FatalError),
    (pyone.OneException("[one.vm.allocate] Error allocating a new virtual machine template."), FatalError),
    (xmlrpc.client.ProtocolError("https://one/RPC2", 503, "Service Unavailable", {}), TransientError),
    (xmlrpc.client.ProtocolError("https://one/RPC2", 401, "Unauthorized", {}), AuthError),
    (xmlrpc.client.ProtocolError("https://one/RPC2", 404, "Not Found", {}), FatalError),
    (requests.exceptions.ConnectionError("Connection reset by peer"), TransientError),
    (requests.exceptions.ReadTimeout("read timed out"), TransientError),
    (requests.exceptions.SSLError("certificate verify failed"), FatalError),
    (ValueError("unexpected"), FatalError),
])
def test_errors_are_classified(exc, kind):
    classified = provider()._classify(exc, "vm.allocate")
    assert type(classified) is kind
    assert classified.site == "one" and "one.vm.allocate" in classified.message


def test_foreign_instance_ids_are_rejected_before_any_call():
    with pytest.raises(FatalError, match="not an OpenNebula VM id"):
        provider().get_instance("i-0abc")


def test_tls_failure_says_what_to_do():
    err = provider()._classify(requests.exceptions.SSLError("certificate verify failed"), "system.version")
    assert "verify_tls" in err.message


def test_security_group_rules_from_ports():
    rules = OpenNebulaProvider._rules([
        {"port": 80, "protocol": "tcp", "remote_cidr": "0.0.0.0/0"},
        {"port": "8000-8010", "protocol": "udp", "remote_cidr": "192.168.1.0/24"},
        {"port": 22, "protocol": "tcp"},
    ])
    assert rules == [
        {"PROTOCOL": "ALL", "RULE_TYPE": "outbound"},
        {"PROTOCOL": "TCP", "RULE_TYPE": "inbound", "RANGE": "22"},  # SSH always: the engine waits on it
        {"PROTOCOL": "TCP", "RULE_TYPE": "inbound", "RANGE": "80"},
        {"PROTOCOL": "UDP", "RULE_TYPE": "inbound", "RANGE": "8000:8010", "IP": "192.168.1.0", "SIZE": 256},
    ]


@pytest.mark.parametrize("port, message", [
    ({"port": 0}, "invalid port"), ({"port": "web"}, "invalid port"), ({"port": 70000}, "invalid port"),
    ({"port": 80, "protocol": "sctp"}, "unsupported protocol"),
    ({"port": 80, "remote_cidr": "10.0.0.0/33"}, "invalid remote_cidr"),
])
def test_bad_ports_are_fatal(port, message):
    with pytest.raises(FatalError, match=message):
        OpenNebulaProvider._rules([port])


def fake_vm(state, lcm, nics=(), tags=None):
    return types.SimpleNamespace(
        ID=7, NAME="d-wn-1", STATE=state, LCM_STATE=lcm,
        TEMPLATE={"NIC": list(nics) if len(nics) != 1 else nics[0], "VCPU": "2", "MEMORY": "2048",
                  "DISK": {"IMAGE": "debian-13"}},
        USER_TEMPLATE=tags if tags is not None else {"INDIGO_DEPLOYMENT": "d", "INDIGO_NODE": "wn",
                                                     "INDIGO_INDEX": "1"})


@pytest.mark.parametrize("state, lcm, status", [
    (1, 0, "building"), (3, 1, "building"), (3, 2, "building"), (3, 3, "active"), (3, 36, "error"),
    (3, 16, "error"), (3, 13, "deleted"), (3, 11, "deleted"), (6, 0, "deleted"), (8, 0, "stopped"),
])
def test_vm_states_are_normalised(state, lcm, status):
    assert provider()._to_instance(fake_vm(state, lcm)).status == status


def test_instance_from_vm():
    inst = provider()._to_instance(fake_vm(3, 3, nics=[{"IP": "10.0.0.5", "NETWORK": "priv"},
                                                       {"IP": "10.1.0.9", "NETWORK": "pub"},
                                                       {"IP": "8.8.4.4", "NETWORK": "other"}]))
    assert (inst.id, inst.deployment, inst.node, inst.index) == ("7", "d", "wn", 1)
    assert inst.private_ips == ["10.0.0.5"] and inst.public_ips == ["10.1.0.9", "8.8.4.4"]
    assert inst.address == "10.1.0.9" and inst.image == "debian-13" and inst.flavor == "cpu=2,mem=2048MB"
    untagged = provider()._to_instance(fake_vm(3, 3, tags={}))
    assert untagged.index == -1 and untagged.deployment == ""


# -- the emulator's template parser ------------------------------------------------------------
def test_attribute_syntax_with_vectors_quotes_and_comments():
    text = '''# a VM
    NAME = "web 1"
    CPU=0.5
    CONTEXT = [ SSH_PUBLIC_KEY = "ssh-ed25519 AAA a@b", NOTE = "say \\"hi\\"" ]
    nic = [ network_id = 0 ]
    NIC = [ NETWORK = "public" ]
    '''
    parsed = templates.parse(text)
    assert templates.get(parsed, "NAME") == "web 1" and templates.get(parsed, "CPU") == "0.5"
    assert dict(templates.get(parsed, "CONTEXT")) == {"SSH_PUBLIC_KEY": "ssh-ed25519 AAA a@b", "NOTE": 'say "hi"'}
    assert [dict(n) for n in templates.get_all(parsed, "NIC")] == [{"NETWORK_ID": "0"}, {"NETWORK": "public"}]


def test_xml_form_as_pyone_sends_it_round_trips():
    xml = pyone.util.cast2one({"TEMPLATE": {"CPU": 1, "NIC": [{"NETWORK_ID": 0}, {"NETWORK_ID": 1}],
                                            "CONTEXT": {"USER_DATA": "a<b&c"}}})
    parsed = templates.parse(xml)
    assert templates.get(parsed, "CPU") == "1" and len(templates.get_all(parsed, "NIC")) == 2
    assert dict(templates.get(parsed, "CONTEXT")) == {"USER_DATA": "a<b&c"}
    parsed.append(["NOTE", "x]]>y"])  # the emulator's own answers may hold anything
    assert templates.parse(templates.to_xml("TEMPLATE", parsed)) == parsed


def test_pyone_cannot_send_cdata_terminators():
    # pyone wraps values in CDATA without splitting "]]>": why the provider base64-encodes user data
    with pytest.raises(templates.TemplateSyntaxError):
        templates.parse(pyone.util.cast2one({"TEMPLATE": {"CONTEXT": {"USER_DATA": "a]]>b"}}}))


def test_merge_replaces_named_attributes_only():
    merged = templates.merge([["A", "1"], ["NIC", [["X", "1"]]], ["NIC", [["X", "2"]]]], [["NIC", [["X", "3"]]]])
    assert merged == [["A", "1"], ["NIC", [["X", "3"]]]]


@pytest.mark.parametrize("bad", ['CPU = ', 'CPU "1"', 'NIC = [ A = 1', '= 3'])
def test_syntax_errors(bad):
    with pytest.raises(templates.TemplateSyntaxError):
        templates.parse(bad)
