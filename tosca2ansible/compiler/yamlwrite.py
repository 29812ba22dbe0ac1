"""A small, fast block-style YAML serializer for the compiled project, and the project's trust boundary.

PyYAML's pure-Python emitter is the slowest part of compiling 10 000 nodes, and libyaml cannot indent
block sequences the way yamllint (ansible-lint) wants. The data we write is only dicts, lists, str,
`Unsafe` str, `Expr` str, int, float, bool and None, so a serializer for exactly that is short:
strings are plain when unambiguous, otherwise JSON-escaped double-quoted scalars (valid YAML), folded
at single spaces to stay under the line-length limit. Tests round-trip every output through PyYAML.

Trust (the one rule, see docs/trust.md): only an `Expr` (a Jinja expression the compiler wrote) is
written as a template. Every other text is data and must reach Ansible as the same `str`, never rendered:
- data (`Unsafe`) and any text Ansible could take for a template get the `!unsafe` tag: ansible-core
  2.19 then loads an untrusted string, which templating returns as it is;
- except where 2.19's `!unsafe` would change the type: its constructor re-resolves the scalar as if it
  were plain (`!unsafe "0755"` loads as 493, `!unsafe ""` as None). Such text (a YAML 1.1 number, bool,
  null, timestamp, `=`, `<<`) cannot contain a template delimiter, so it is written as a quoted plain
  string: a `str`, and inert however trusted (templating returns text without delimiters unchanged).
"""

from __future__ import annotations

import math
from json.encoder import encode_basestring as _encode_json_string
import re
from typing import Any

from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from tosca2ansible.compiler.render import Expr, Unsafe

MAX_LINE = 150
INDENT = "  "
# Plain scalars we are sure every YAML 1.1/1.2 reader gives back as the same string.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")  # used with fullmatch: "$" would accept a final newline
# Escaped in quoted scalars: what YAML may not carry raw, and the YAML 1.1 line breaks NEL, LS, PS (a raw
# one inside a quoted scalar is folded into a space), and the BOM.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
                            "\U00010000-\U0010ffff]")
_RESERVED = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "none", "nan", "inf"}
# Text classes written as text (checked first: nearly every scalar is one of them)
_TEXT_TYPES = frozenset((str, Unsafe, Expr))
# Text -> its _form; text -> its quoted form; key -> its rendering. Pure functions of the text.
_TEXT_FORM: dict = {}
_KEYS: dict = {}
_QUOTED: dict = {}  # text -> its double-quoted form
_CACHE_MAX = 100_000
# ansible-core loads YAML with PyYAML's Resolver (ansible/_internal/_yaml/_loader.py); its `!unsafe`
# re-resolves the scalar as plain, `implicit=(True, False)` (_internal/_yaml/_constructor.py).
_RESOLVER = Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
_JINJA_OVERRIDE = "#jinja2:"  # a header that sets other delimiters (ansible/_internal/_templating/_jinja_bits.py)


def possibly_template(text: str) -> bool:
    """Could some Ansible take this text for a Jinja template? (Wider than Ansible's own test: any `{`.)"""
    return "{" in text or text.startswith(_JINJA_OVERRIDE)


def unsafe_keeps_str(text: str) -> bool:
    """Does `!unsafe <text>` load as a str under ansible-core 2.19 (not an int, bool, None, float, date)?"""
    return _RESOLVER.resolve(ScalarNode, text, (True, False)) == _STR_TAG


def _form(text: str) -> tuple:
    """(may it be written plain, may it carry !unsafe, does it get !unsafe when it is not data)."""
    form = _TEXT_FORM.get(text)
    if form is None:
        plain = bool(_PLAIN.fullmatch(text)) and text.lower() not in _RESERVED
        keeps_str = unsafe_keeps_str(text)
        form = (plain, keeps_str, keeps_str and possibly_template(text))
        if len(_TEXT_FORM) >= _CACHE_MAX:
            _TEXT_FORM.clear()
        _TEXT_FORM[text] = form
    return form


def _quoted(text: str) -> str:
    """`_quote(text)`, remembered: the same labels, names and messages recur in every project."""
    quoted = _QUOTED.get(text)
    if quoted is None:
        quoted = _quote(text)
        if len(_QUOTED) >= _CACHE_MAX:
            _QUOTED.clear()
        _QUOTED[text] = quoted
    return quoted


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
    plain, keeps_str, template_like = _form(text)
    cls = value.__class__
    prefix = "!unsafe " if (template_like or (keeps_str and cls is Unsafe)) and cls is not Expr else ""
    if plain and column + len(text) < MAX_LINE:
        return prefix + text
    return prefix + _fold(_quoted(text), indent + INDENT, column + len(prefix))


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
    if key.__class__ is not Expr and possibly_template(text):
        return "!unsafe " + _quote(text)  # keys are not rendered by 2.19; tagged for any other reader
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
