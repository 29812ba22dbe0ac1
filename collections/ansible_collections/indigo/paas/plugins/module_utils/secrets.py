# -*- coding: utf-8 -*-
# Apache License 2.0
"""The one rule that says what is secret, shared by the compiler, the runtime, the journal (and its
callback), the AWX survey writer and ``indigo show``.

In order:

1. TOSCA-declared secrecy: an input or property whose type is (or derives from) a credential type, or
   whose definition says ``metadata: {secret: true}`` (also ``sensitive``), is secret whatever its name.
2. The name: split into word parts (``admin_pass`` -> admin, pass; ``apiKey`` -> api, key); a part that is
   a secret word (password, passwd, pass, pwd, secret, token, key, apikey, passphrase, credential, ...) or
   contains an unambiguous one (``dbpassword``, ``mysecret``) makes the name secret, unless a part says
   the value is public (``ssh_public_key``).
3. The value: a value equal to a known secret (a site credential, another secret input) is secret.

Only the standard library is used: the collection imports nothing outside itself.
"""

from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type  # pylint: disable=invalid-name

MASK = "********"
# Shorter values would mask ordinary words everywhere; a 1-3 character secret is no secret anyway.
MIN_SECRET_LEN = 4
# Word parts that make a name secret on their own.
SECRET_WORDS = frozenset((
    "password", "passwords", "passwd", "pass", "pwd", "pw", "secret", "secrets", "token", "tokens", "key", "keys",
    "apikey", "apikeys", "passphrase", "credential", "credentials", "creds", "privkey", "sshkey", "secretkey",
    "accesskey", "authkey", "authtoken", "cookie", "jwt", "bearer",
))
# Text that makes a name secret wherever it appears inside a word part ("dbpassword", "mysecret").
SECRET_INFIXES = ("password", "passwd", "passphrase", "secret", "token", "credential", "apikey")
# Word parts that say the value is public by design (a public key is handed to every node).
PUBLIC_WORDS = frozenset(("public", "pub", "pubkey"))
# TOSCA types whose values are secret (and every type derived from them).
SECRET_TYPES = frozenset(("tosca.datatypes.Credential", "tosca.datatypes.security.Credential",
                          "tosca.datatypes.indigo.Credential"))
SECRET_METADATA_KEYS = ("secret", "sensitive")

_PARTS_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def name_parts(name):
    """``admin_pass`` -> [admin, pass]; ``apiKey`` -> [api, key]; ``SSH-PassPhrase`` -> [ssh, pass, phrase]."""
    return [part.lower() for part in _PARTS_RE.findall(name)]


def is_secret_name(name):
    """Rule 2 alone: whether ``name`` says its value is secret."""
    if not isinstance(name, str) or not name:
        return False
    parts = name_parts(name)
    if any(part in PUBLIC_WORDS for part in parts):
        return False
    if any(part in SECRET_WORDS for part in parts):
        return True
    lowered = name.lower()
    joined = "".join(parts)
    return any(infix in lowered or infix in joined for infix in SECRET_INFIXES)


def is_declared_secret(type_chain=(), metadata=None):
    """Rule 1: the TOSCA type (with its ancestors, ``type_chain``) or the definition's metadata say so."""
    if isinstance(type_chain, str):
        type_chain = (type_chain,)
    if any(t in SECRET_TYPES for t in type_chain or ()):
        return True
    if isinstance(metadata, dict):
        for key in SECRET_METADATA_KEYS:
            if str(metadata.get(key, "")).lower() in ("true", "yes", "1"):
                return True
    return False


def is_secret(name, type_chain=(), metadata=None, value=None, known=()):
    """The whole rule for one named value: declared, then name, then value equal to a known secret."""
    if is_declared_secret(type_chain, metadata) or is_secret_name(name):
        return True
    if value is not None and not isinstance(value, bool) and known:
        text = str(value)
        return len(text) >= MIN_SECRET_LEN and text in known
    return False


def leaf_strings(value):
    """Every scalar (as text) inside ``value``; booleans and nulls are never secrets."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaf_strings(item)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from leaf_strings(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield str(value)


def secret_values(value):
    """The maskable secret texts inside a secret ``value``."""
    return set(leaf for leaf in leaf_strings(value) if len(leaf) >= MIN_SECRET_LEN)


def secret_values_from_vars(variables, secret_names=()):
    """Values of every variable (at any depth) whose name is secret by the rule or listed in ``secret_names``."""
    found = set()
    names = set(secret_names or ())

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key in names or is_secret_name(key):
                    found.update(secret_values(item))
                else:
                    walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(variables or {})
    return found
