# -*- coding: utf-8 -*-
# Copyright: contributors to the indigo.paas collection
# Apache License 2.0 (see LICENSE)
"""Names every part of the framework agrees on: deployment ids, node names, the tags that record what a
deployment owns on a site, and new deployment ids."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import secrets

TAG_DEPLOYMENT = "indigo_deployment"
TAG_NODE = "indigo_node"
TAG_INDEX = "indigo_index"

DEPLOYMENT_PATTERN = r"^[a-z][a-z0-9-]{0,40}$"
DEPLOYMENT_RE = re.compile(DEPLOYMENT_PATTERN)
NODE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")


class UserError(ValueError):
    """A module option, input or catalogue entry is wrong (``error_class: user``): not the site's fault and
    not a bug."""


def is_deployment_id(value):
    return isinstance(value, str) and DEPLOYMENT_RE.match(value) is not None


def check_deployment(deployment):
    if not is_deployment_id(deployment):
        raise UserError("deployment %r must match %s" % (deployment, DEPLOYMENT_PATTERN))


def check_node(node):
    if not isinstance(node, str) or not NODE_RE.match(node):
        raise UserError("node %r must be a TOSCA node template name (letters, digits, '_', '.', '-')" % (node,))


def deployment_slug(text, max_len=41):
    """The deployment id a file stem gives: lower-case letters, digits and '-', starting with a letter."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    if not slug or not slug[0].isalpha():
        slug = "d-" + slug
    return slug[:max_len].rstrip("-")


def new_deployment_id(text):
    """A fresh deployment id: the slug of ``text`` (at most 30 characters) and 6 random hex digits."""
    return "%s-%s" % (deployment_slug(text, 30), secrets.token_hex(3))
