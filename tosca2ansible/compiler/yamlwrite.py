"""A small, fast block-style YAML serializer for the compiled project.

PyYAML's pure-Python emitter is the slowest part of compiling 10 000 nodes, and libyaml cannot indent
block sequences the way yamllint (ansible-lint) wants. The data we write is only dicts, lists, str,
`Unsafe` str (tagged `!unsafe`), int, float, bool and None, so a serializer for exactly that is short:
strings are plain when unambiguous, otherwise JSON-escaped double-quoted scalars (valid YAML), folded
at single spaces to stay under the line-length limit. Tests round-trip every output through PyYAML.
"""

from __future__ import annotations

import math
from json.encoder import encode_basestring as _encode_json_string
import re
from typing import Any

from tosca2ansible.compiler.render import Expr, Unsafe

MAX_LINE = 150
INDENT = "  "
# Plain scalars we are sure every YAML 1.1/1.2 reader gives back as the same string.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")  # used with fullmatch: "$" would accept a final newline
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_RESERVED = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "none", "nan", "inf"}
# Text classes written as text (checked first: nearly every scalar is one of them)
_TEXT_TYPES = frozenset((str, Unsafe, Expr))
# Text -> may it be written plain; key -> its rendering. Both pure functions of the text, so cached.
_PLAIN_TEXT: dict = {}
_KEYS: dict = {}
_CACHE_MAX = 100_000


def _scalar(value: Any, indent: str, column: int) -> str:
    if value.__class__ in _TEXT_TYPES:
        return _text(value, indent, column)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        mantissa, _, exponent = text.partition("e")
        if "." not in mantissa:
            mantissa += ".0"  # YAML 1.1 readers need the dot to see a float
        return mantissa + ("e" + (exponent if exponent[:1] in "+-" else "+" + exponent) if exponent else "")
    return _text(value, indent, column)


def _text(value: Any, indent: str, column: int) -> str:
    text = str(value)
    prefix = "!unsafe " if isinstance(value, Unsafe) else ""
    plain = _PLAIN_TEXT.get(text)
    if plain is None:
        plain = bool(_PLAIN.fullmatch(text)) and text.lower() not in _RESERVED
        if len(_PLAIN_TEXT) >= _CACHE_MAX:
            _PLAIN_TEXT.clear()
        _PLAIN_TEXT[text] = plain
    if plain and column + len(text) < MAX_LINE:
        return prefix + text
    return prefix + _fold(_quote(text), indent + INDENT, column + len(prefix))


def _quote(text: str) -> str:
    """JSON double-quoted text (valid YAML), with what YAML may not carry raw escaped too."""
    quoted = _encode_json_string(text)
    return _NOT_PRINTABLE.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 0x100
                              else "\\u%04x" % ord(m.group()), quoted)


def _fold(quoted: str, continuation: str, used: int) -> str:
    """Break a double-quoted scalar at single spaces (a folded line break reads back as one space)."""
    if used + len(quoted) <= MAX_LINE:
        return quoted
    pieces, line_start, last_space = [], 0, -1
    budget = MAX_LINE - used
    for index in range(1, len(quoted) - 1):
        if quoted[index] == " " and quoted[index - 1] not in " \\" and quoted[index + 1] != " ":
            if index - line_start > budget and last_space > line_start:
                pieces.append(quoted[line_start:last_space])
                line_start = last_space + 1
                budget = MAX_LINE - len(continuation)
            last_space = index
    if len(quoted) - line_start > budget and last_space > line_start:
        pieces.append(quoted[line_start:last_space])
        line_start = last_space + 1
    pieces.append(quoted[line_start:])
    lines = []
    for number, piece in enumerate(pieces):
        room = MAX_LINE - (used if number == 0 else len(continuation))
        lines.extend(_split_long(piece, max(room, 40)))
    return ("\n" + continuation).join(lines)


_ATOM = re.compile(r"\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\.|.", re.S)


def _split_long(piece: str, room: int) -> list:
    """Cut a piece with no usable space using escaped line breaks (`\\` at the end: joined, no space).

    Cuts fall between escape sequences, never before a space (leading spaces of a line are dropped).
    """
    if len(piece) <= room:
        return [piece]
    parts, current = [], ""
    for atom in _ATOM.findall(piece):
        if len(current) + len(atom) > room - 1 and current and atom != " ":
            parts.append(current + "\\")
            current = ""
        current += atom
    parts.append(current)
    return parts


def _key(key: Any) -> str:
    if key.__class__ is str:
        rendered = _KEYS.get(key)
        if rendered is None:
            rendered = _render_key(key)
            if len(_KEYS) >= _CACHE_MAX:
                _KEYS.clear()
            _KEYS[key] = rendered
        return rendered
    return _render_key(key)


def _render_key(key: Any) -> str:
    text = str(key)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return _quote(text)


def _emit(value: Any, indent: str, out: list) -> None:
    """Append lines for a non-empty dict or list at `indent`."""
    append = out.append
    if isinstance(value, dict):
        inner = indent + INDENT
        for key, item in value.items():
            head = indent + _key(key) + ":"
            if item.__class__ in _TEXT_TYPES:
                append(head + " " + _text(item, indent, len(head) + 1))
            elif item and isinstance(item, (dict, list)):
                append(head)
                _emit(item, inner, out)
            else:
                append(head + " " + _inline(item, indent, len(head) + 1))
        return
    first_lead = indent + "- "
    next_lead = indent + INDENT
    inner = next_lead + INDENT
    for item in value:
        if item.__class__ in _TEXT_TYPES:
            append(first_lead + _text(item, indent, len(first_lead)))
        elif item and isinstance(item, dict):
            lead = first_lead
            for key, sub in item.items():
                head = lead + _key(key) + ":"
                lead = next_lead
                if sub.__class__ in _TEXT_TYPES:
                    append(head + " " + _text(sub, next_lead, len(head) + 1))
                elif sub and isinstance(sub, (dict, list)):
                    append(head)
                    _emit(sub, inner, out)
                else:
                    append(head + " " + _inline(sub, next_lead, len(head) + 1))
        elif item and isinstance(item, list):
            append(indent + "-")
            _emit(item, next_lead, out)
        else:
            append(first_lead + _inline(item, indent, len(first_lead)))


def _inline(value: Any, indent: str, column: int) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value, indent, column)


def dump(data: Any) -> str:
    out = ["---"]
    if isinstance(data, (dict, list)) and data:
        _emit(data, "", out)
    else:
        out.append(_inline(data, "", 0))
    return "\n".join(out) + "\n"
