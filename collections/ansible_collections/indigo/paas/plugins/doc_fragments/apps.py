# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # HTTP options shared by the REST-based app modules (marathon_app, chronos_job, onedata_space).
    DOCUMENTATION = r"""
options:
  validate_certs:
    description:
      - Verify the server's TLS certificate. Turn off only for a test endpoint.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of CA certificates to verify the server with (instead of the system store).
    type: path
  timeout:
    description:
      - Seconds one HTTP request may take.
    type: int
    default: 30
  api_retries:
    description:
      - How many times a request is tried when the service answers 5xx, 409 (resource locked) or 429, or
        cannot be reached. Retries back off exponentially.
    type: int
    default: 5
  state:
    description:
      - V(present) creates or updates the object so it matches the options; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
"""

    # Mesos frameworks (Marathon, Chronos): HTTP basic auth.
    MESOS = r"""
options:
  endpoint:
    description:
      - Base URL of the framework's API, for example V(https://mesos.example.org:8443) or
        V(http://10.0.0.5:8080).
    type: str
    required: true
  username:
    description:
      - User for HTTP basic authentication.
    type: str
  password:
    description:
      - Password for HTTP basic authentication. Never logged.
    type: str
"""
