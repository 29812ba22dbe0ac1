#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: data_upload
short_description: Upload a job's output files to WebDAV, HTTP, S3 or Swift and verify them there
version_added: "0.1.0"
description:
  - Uploads every file of O(files) to the endpoint and reads back what the endpoint holds (WebDAV/HTTP the
    SHA-256 of a C(GET), S3 and Swift the object's size and MD5 ETag); a mismatch fails the task.
  - A file whose copy at the endpoint already matches is not uploaded again.
  - Used by the role C(indigo.paas.data_staging) for the outputs of INDIGO job templates.
author: INDIGO PaaS Ansible maintainers (@indigo-dc)
attributes:
  check_mode:
    support: full
    description: Reports which files would be uploaded without writing to the endpoint.
  diff_mode:
    support: none
    description: Not applicable.
options:
  protocol:
    description: How to reach the endpoint.
    type: str
    required: true
    choices: [webdav, webdavs, http, https, s3, swift, swift+keystone]
  endpoint:
    description:
      - Base URL (WebDAV/HTTP), the S3 endpoint URL (empty for AWS), or the Keystone auth URL (Swift).
    type: str
  path:
    description:
      - Remote directory under O(endpoint); for S3 and Swift the bucket or container, then a prefix.
    type: str
    default: ""
  files:
    description: Local paths of the files to upload (each keeps its base name).
    type: list
    elements: path
    required: true
  username:
    description: User name (HTTP basic auth, Swift).
    type: str
  password:
    description: Password (HTTP basic auth, Swift). Never logged.
    type: str
  tenant:
    description: Swift project (tenant) name.
    type: str
  access_key:
    description: S3 access key id.
    type: str
  secret_key:
    description: S3 secret access key. Never logged.
    type: str
  region:
    description: S3 or Swift region.
    type: str
  validate_certs:
    description: Verify the endpoint's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: PEM file of CA certificates to verify the endpoint with.
    type: path
  timeout:
    description: Seconds one request may take.
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Upload the job's outputs to WebDAV
  indigo.paas.data_upload:
    protocol: webdav
    endpoint: https://dav.example.org/
    path: results/run-1
    files: [/var/lib/indigo/data/out.csv]
    username: "{{ dav_user }}"
    password: "{{ dav_password }}"
"""

RETURN = r"""
uploaded:
  description: One entry per file, C(src), C(url), C(bytes), C(sha256), C(changed).
  returned: always
  type: list
  elements: dict
error_class:
  description:
    - On failure, the class of the error, V(auth), V(quota), V(transient), V(fatal) (the service's), V(user)
      (an option is wrong) or V(bug) (an unexpected exception in this code).
  returned: failed
  type: str
traceback:
  description: The traceback of an unexpected exception (RV(error_class=bug)), to report.
  returned: failure with error_class bug
  type: str
"""

from ansible_collections.indigo.paas.plugins.module_utils.data.transfer import TransferError, upload_all
from ansible_collections.indigo.paas.plugins.module_utils.providers.base import ERROR_CLASSES, FatalError
from ansible_collections.indigo.paas.plugins.module_utils.skeleton import IndigoModule


class DataUploadModule(IndigoModule):
    site_options = False
    failure_keys = {"uploaded": []}
    argument_spec = dict(
        protocol=dict(type="str", required=True,
                      choices=["webdav", "webdavs", "http", "https", "s3", "swift", "swift+keystone"]),
        endpoint=dict(type="str"),
        path=dict(type="str", default=""),
        files=dict(type="list", elements="path", required=True),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        tenant=dict(type="str"),
        access_key=dict(type="str", no_log=True),
        secret_key=dict(type="str", no_log=True),
        region=dict(type="str"),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="int", default=60),
    )
    module_kwargs = dict(
        required_if=[("protocol", "webdav", ["endpoint"]), ("protocol", "webdavs", ["endpoint"]),
                     ("protocol", "http", ["endpoint"]), ("protocol", "https", ["endpoint"]),
                     ("protocol", "swift", ["endpoint"]), ("protocol", "swift+keystone", ["endpoint"])],
        supports_check_mode=True,
    )

    def run(self):
        try:
            changed, uploaded = upload_all(self.params, self.check_mode)
        except TransferError as exc:  # the storage's answer, classified by the transfer code
            raise ERROR_CLASSES.get(exc.error_class, FatalError)(str(exc))
        except ImportError as exc:
            raise FatalError("data_upload needs %s on the node" % exc.name)
        return dict(changed=changed, uploaded=uploaded)


def main():
    DataUploadModule()()


if __name__ == "__main__":
    main()
