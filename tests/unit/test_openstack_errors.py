"""Error classification and GPU parsing of the OpenStack provider, on the SDK's own exception types."""

import os
import sys

import pytest
from keystoneauth1 import exceptions as ks_exceptions
from openstack import exceptions as sdk_exceptions
from tests.helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible_collections.indigo.paas.plugins.module_utils.providers.openstack import (  # noqa: E402
    OpenStackProvider, classify_error, parse_gpus)


def http(status, details, cls=sdk_exceptions.HttpException):
    return cls(message="request failed", details=details, http_status=status)


@pytest.mark.parametrize("exc, kind", [
    (http(403, "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances",
          sdk_exceptions.ForbiddenException), "quota"),
    (http(413, "VolumeLimitExceeded: Maximum number of volumes allowed (10) exceeded"), "quota"),
    (http(409, "Quota exceeded for resources: ['floatingip'].", sdk_exceptions.ConflictException), "quota"),
    (http(403, "Policy doesn't allow os_compute_api:servers:create to be performed.",
          sdk_exceptions.ForbiddenException), "fatal"),
    (http(409, "Key pair 'k' already exists.", sdk_exceptions.ConflictException), "fatal"),
    (http(401, "The request you have made requires authentication."), "auth"),
    (ks_exceptions.Unauthorized("The request you have made requires authentication."), "auth"),
    (ks_exceptions.MissingRequiredOptions([]), "auth"),
    (http(503, "Service Unavailable"), "transient"),
    (http(429, "Too Many Requests"), "transient"),
    (ks_exceptions.ConnectFailure("Unable to establish connection"), "transient"),
    (ks_exceptions.DiscoveryFailure("Could not find versioned identity endpoints"), "transient"),
    (ks_exceptions.SSLError("certificate verify failed"), "fatal"),
    (http(400, "Invalid key_name provided.", sdk_exceptions.BadRequestException), "fatal"),
    (ValueError("anything else"), "fatal"),
])
def test_classification(exc, kind):
    error = classify_error(exc, "site-a", "creating server x")
    assert error.kind == kind and error.site == "site-a"
    assert error.message.startswith("creating server x")


@pytest.mark.parametrize("specs, gpus", [
    ({}, 0), ({"pci_passthrough:alias": "nvidia-t4:1"}, 1), ({"pci_passthrough:alias": "a:2,b:1"}, 3),
    ({"resources:PGPU": "2"}, 2), ({"resources:VGPU": "1", "hw:cpu_policy": "dedicated"}, 1),
])
def test_parse_gpus(specs, gpus):
    assert parse_gpus(specs) == gpus


def test_connection_options_verify_tls_by_default_and_pick_auth_type():
    site = {"name": "s", "kind": "openstack", "endpoint": "https://keystone.example.org:5000/v3"}
    password = OpenStackProvider(site, {"username": "u", "password": "p", "project_name": "demo"})._connection_options()
    assert password["verify"] is True and password["auth_type"] == "password"
    assert password["auth"] == {"username": "u", "password": "p", "project_name": "demo",
                                "auth_url": "https://keystone.example.org:5000/v3"}
    oidc = OpenStackProvider(dict(site, verify_tls=False), {"access_token": "t", "identity_provider": "egi",
                                                            "protocol": "openid", "project_id": "p1"})
    options = oidc._connection_options()
    assert options["verify"] is False and options["auth_type"] == "v3oidcaccesstoken"
    appcred = OpenStackProvider(site, {"application_credential_id": "i", "application_credential_secret": "s",
                                       "project_name": "ignored"})._connection_options()
    assert appcred["auth_type"] == "v3applicationcredential" and "project_name" not in appcred["auth"]
    cloud = OpenStackProvider(site, {"cloud": "mycloud"})._connection_options()
    assert cloud == {"cloud": "mycloud", "region_name": None}  # clouds.yaml keeps its own verify setting


def test_missing_endpoint_and_unknown_auth_type_are_clear():
    with pytest.raises(Exception, match="no endpoint"):
        OpenStackProvider({"name": "s"}, {"username": "u"})._connection_options()
    with pytest.raises(Exception, match="unsupported auth_type 'kerberos'"):
        OpenStackProvider({"name": "s", "endpoint": "https://k/v3"}, {"auth_type": "kerberos"})._connection_options()
