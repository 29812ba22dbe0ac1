# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""A small JSON REST client over Ansible's own HTTP layer (``open_url``), with classified errors.

Why not a dedicated client: the PyPI clients for Marathon (``marathon``, last release 2020) and Chronos
(``chronos-python``, 2017) are unmaintained and pull in ``requests``; ``open_url`` honours
``validate_certs``/``ca_path`` and proxies like every other Ansible module.

Errors reuse the provider classification: 401/403 -> AuthError, 5xx/429/409-locked/connection
failures -> TransientError (retried with backoff), other 4xx -> FatalError with the server's message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url
from ansible_collections.indigo.paas.plugins.module_utils.units import size_mb_exact
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import (
    AuthError,
    FatalError,
    QuotaError,
    TransientError,
    retry_transient,
)

TRANSIENT_STATUS = frozenset([408, 409, 423, 425, 429, 500, 502, 503, 504])


def _server_message(body):
    """The human part of an error body (Marathon/Chronos/Onezone all use a JSON 'message' or 'error')."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:300]
    if isinstance(data, dict):
        for key in ("message", "description", "error"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("description") or value.get("id")
            if value:
                return str(value)
    return json.dumps(data)[:300]


def classify_http_error(service, method, url, status, body):
    message = "%s %s %s: HTTP %s: %s" % (service, method, url, status, _server_message(body))
    if status in (401, 403):
        return AuthError(message)
    if status == 507:
        return QuotaError(message)
    if status in TRANSIENT_STATUS:
        return TransientError(message)
    return FatalError(message)


class RestClient:
    """JSON over HTTP(S). ``headers`` may carry a token; it is never put into error messages."""

    def __init__(self, service, endpoint, headers=None, username=None, password=None,
                 validate_certs=True, ca_path=None, timeout=30, retries=5, retry_delay=0.5):
        if not endpoint or not str(endpoint).startswith(("http://", "https://")):
            raise FatalError("%s: endpoint must be an http(s) URL, got %r" % (service, endpoint))
        self.service = service
        self.endpoint = str(endpoint).rstrip("/")
        self.headers = dict(headers or {})
        self.username = username
        self.password = password
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self.retries = max(1, retries)
        self.retry_delay = retry_delay
        self.retried = []  # messages of transient failures that were retried (returned to the user)

    def _once(self, method, path, body, allow_404):
        url = self.endpoint + path
        headers = {"Accept": "application/json"}
        headers.update(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            response = open_url(
                url, data=data, method=method, headers=headers, validate_certs=self.validate_certs,
                ca_path=self.ca_path, timeout=self.timeout, url_username=self.username,
                url_password=self.password, force_basic_auth=bool(self.username), follow_redirects="safe",
            )
            text = response.read().decode("utf-8")
            status = response.getcode()
            location = response.headers.get("Location")
        except HTTPError as exc:
            text = exc.read().decode("utf-8", "replace") if exc.fp else ""
            if exc.code == 404 and allow_404:
                return 404, None, None
            raise classify_http_error(self.service, method, path, exc.code, text)
        except (URLError, socket.timeout, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            if "CERTIFICATE_VERIFY_FAILED" in str(reason):
                raise FatalError("%s %s %s: TLS verification failed: %s" % (self.service, method, path, reason))
            raise TransientError("%s %s %s: %s" % (self.service, method, path, reason))
        payload = json.loads(text) if text.strip() else None
        return status, payload, location

    def request(self, method, path, body=None, allow_404=False):
        """Return ``(status, payload, location)``; 404 gives ``(404, None, None)`` when allowed."""

        def on_retry(attempt, exc, delay):
            self.retried.append(str(exc))

        return retry_transient(lambda: self._once(method, path, body, allow_404), attempts=self.retries,
                               base_delay=self.retry_delay, on_retry=on_retry)


def same(desired, actual):
    """True when ``actual`` has every value of ``desired`` (extra server-side keys are ignored).

    None, "" , [] and {} are all "unset", so a field the server fills with an empty default does not
    look like a change.
    """
    if desired in (None, "", [], {}):
        return actual in (None, "", [], {})
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return False
        return all(same(value, actual.get(key)) for key, value in desired.items())
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(desired) != len(actual):
            return False
        return all(same(d, a) for d, a in zip(desired, actual))
    if isinstance(desired, float) or isinstance(actual, float):
        try:
            return abs(float(desired) - float(actual)) < 1e-9
        except (TypeError, ValueError):
            return False
    return desired == actual


def parse_size_mb(value, what="mem"):
    """A size as Mesos takes it: MB as a float, by the one rule of ``units`` (1 GB = 1024 MB)."""
    try:
        exact = size_mb_exact(value, what)
    except ValueError as exc:
        raise FatalError(str(exc))
    return None if exact is None else round(exact, 3)
