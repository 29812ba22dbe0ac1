# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""Job outputs to storage endpoints, each upload verified by reading back what the endpoint holds.

- WebDAV / HTTP: ``PUT`` (``MKCOL`` of missing collections first on WebDAV), verified by ``GET`` and the
  SHA-256 of the answer; ``requests`` (no maintained WebDAV SDK is packaged by Debian and PyPI alike).
- S3: boto3 ``put_object``; verified by ``head_object`` (size and the single-part ETag, an MD5).
- Swift: openstacksdk's object store (``create_object``), verified by the object's ETag (MD5).

A file whose copy already matches is left alone (``changed`` false). Secrets are never in messages.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

from ansible.module_utils.six.moves.urllib.parse import quote, urlsplit

CHUNK = 1 << 20


class TransferError(Exception):
    def __init__(self, message, error_class="fatal"):
        Exception.__init__(self, message)
        self.error_class = error_class


def digests(path):
    sha256, md5 = hashlib.sha256(), hashlib.md5()  # md5: what S3 and Swift ETags hold, not a security check
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            sha256.update(block)
            md5.update(block)
    return sha256.hexdigest(), md5.hexdigest()


def _join(endpoint, path, name):
    base = endpoint.rstrip("/")
    parts = [p for p in (path or "").split("/") if p] + [name]
    return base + "/" + "/".join(quote(p) for p in parts)


def _http_class(status):
    if status in (401, 403):
        return "auth"
    if status == 507:
        return "quota"
    if status >= 500 or status in (408, 429):
        return "transient"
    return "fatal"


class HttpTarget:
    def __init__(self, params, webdav):
        import requests  # pylint: disable=import-outside-toplevel

        self.session = requests.Session()
        if params.get("username"):
            self.session.auth = (params["username"], params.get("password") or "")
        self.session.verify = params.get("ca_path") or params.get("validate_certs", True)
        self.timeout = params.get("timeout") or 60
        self.webdav = webdav
        self.endpoint, self.path = params["endpoint"], params.get("path") or ""
        self.requests = requests

    def _call(self, method, url, **kwargs):
        try:
            answer = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except self.requests.RequestException as exc:
            raise TransferError("%s %s: %s" % (method, _public(url), exc.__class__.__name__), "transient")
        return answer

    def _sha256(self, url):
        answer = self._call("GET", url, stream=True)
        if answer.status_code == 404:
            return None
        if answer.status_code >= 300:
            raise TransferError("GET %s: HTTP %d" % (_public(url), answer.status_code), _http_class(answer.status_code))
        digest = hashlib.sha256()
        for block in answer.iter_content(CHUNK):
            digest.update(block)
        return digest.hexdigest()

    def _collections(self):
        parts = [p for p in self.path.split("/") if p]
        for depth in range(1, len(parts) + 1):
            url = self.endpoint.rstrip("/") + "/" + "/".join(quote(p) for p in parts[:depth]) + "/"
            answer = self._call("MKCOL", url)
            if answer.status_code not in (201, 405):  # 405: exists already
                raise TransferError("MKCOL %s: HTTP %d" % (_public(url), answer.status_code), _http_class(answer.status_code))

    def upload(self, src, name, sha256, _md5, check):
        url = _join(self.endpoint, self.path, name)
        if self._sha256(url) == sha256:
            return url, False
        if check:
            return url, True
        if self.webdav:
            self._collections()
        with open(src, "rb") as handle:
            answer = self._call("PUT", url, data=handle)
        if answer.status_code not in (200, 201, 204):
            raise TransferError("PUT %s: HTTP %d" % (_public(url), answer.status_code), _http_class(answer.status_code))
        got = self._sha256(url)
        if got != sha256:
            raise TransferError("%s: the endpoint holds sha256 %s after the upload, expected %s" % (_public(url), got, sha256))
        return url, True


class S3Target:
    def __init__(self, params):
        import boto3  # pylint: disable=import-outside-toplevel
        import botocore.exceptions  # pylint: disable=import-outside-toplevel

        self.errors = botocore.exceptions
        self.client = boto3.client("s3", endpoint_url=params.get("endpoint") or None,
                                   region_name=params.get("region") or "us-east-1",
                                   aws_access_key_id=params.get("access_key"), aws_secret_access_key=params.get("secret_key"),
                                   verify=params.get("ca_path") or params.get("validate_certs", True))
        bucket, _sep, prefix = (params.get("path") or "").strip("/").partition("/")
        if not bucket:
            raise TransferError("s3: 'path' must start with the bucket name")
        self.bucket, self.prefix = bucket, prefix

    def _etag(self, key):
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except self.errors.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise TransferError("s3 head %s/%s: %s" % (self.bucket, key, exc.response.get("Error", {}).get("Code")),
                                _s3_class(exc))
        return head.get("ETag", "").strip('"'), head.get("ContentLength")

    def upload(self, src, name, _sha256, md5, check):
        key = "/".join(p for p in (self.prefix, name) if p)
        url = "s3://%s/%s" % (self.bucket, key)
        size = os.path.getsize(src)
        if self._etag(key) == (md5, size):
            return url, False
        if check:
            return url, True
        try:
            with open(src, "rb") as handle:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=handle)
        except (self.errors.ClientError, self.errors.EndpointConnectionError) as exc:
            raise TransferError("s3 put %s: %s" % (url, exc.__class__.__name__), _s3_class(exc))
        if self._etag(key) != (md5, size):
            raise TransferError("%s: the endpoint holds another object after the upload" % url)
        return url, True


def _s3_class(exc):
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return "auth"
    if code in ("SlowDown", "ServiceUnavailable", "InternalError") or not code:
        return "transient"
    return "fatal"


class SwiftTarget:
    def __init__(self, params):
        import openstack  # pylint: disable=import-outside-toplevel

        auth = {"auth_url": params["endpoint"], "username": params.get("username"), "password": params.get("password"),
                "project_name": params.get("tenant") or None, "user_domain_name": "Default",
                "project_domain_name": "Default"}
        self.conn = openstack.connect(auth={k: v for k, v in auth.items() if v}, region_name=params.get("region") or None,
                                      verify=params.get("validate_certs", True))
        container, _sep, prefix = (params.get("path") or "").strip("/").partition("/")
        self.container, self.prefix = container, prefix

    def upload(self, src, name, _sha256, md5, check):
        key = "/".join(p for p in (self.prefix, name) if p)
        url = "swift://%s/%s" % (self.container, key)
        current = self.conn.object_store.get_object_metadata(key, container=self.container) if not check else None
        if current is not None and getattr(current, "etag", None) == md5:
            return url, False
        if check:
            return url, True
        self.conn.object_store.create_container(self.container)
        with open(src, "rb") as handle:
            self.conn.object_store.upload_object(container=self.container, name=key, data=handle.read())
        if self.conn.object_store.get_object_metadata(key, container=self.container).etag != md5:
            raise TransferError("%s: the endpoint holds another object after the upload" % url)
        return url, True


def _public(url):
    parts = urlsplit(url)
    return "%s://%s%s" % (parts.scheme, parts.hostname or "", (":%d" % parts.port) if parts.port else "") + parts.path


def target(params):
    protocol = params["protocol"]
    if protocol in ("webdav", "webdavs"):
        return HttpTarget(params, webdav=True)
    if protocol in ("http", "https"):
        return HttpTarget(params, webdav=False)
    if protocol == "s3":
        return S3Target(params)
    if protocol in ("swift", "swift+keystone"):
        return SwiftTarget(params)
    raise TransferError("protocol %s is not supported (webdav, http, s3, swift)" % protocol)


def upload_all(params, check=False):
    """Upload ``params['files']``; returns ``(changed, [{src, url, bytes, sha256}])``."""
    dest = target(params)
    changed, done = False, []
    for src in params["files"]:
        if not os.path.isfile(src):
            raise TransferError("output %s does not exist on the node" % src)
        sha256, md5 = digests(src)
        url, did = dest.upload(src, os.path.basename(src), sha256, md5, check)
        changed = changed or did
        done.append({"src": src, "url": url, "bytes": os.path.getsize(src), "sha256": sha256, "changed": did})
    return changed, done
