"""OpenNebula template documents: parse the two wire forms clients send, render the XML ONE returns.

Clients send a template either in OpenNebula's attribute syntax (``KEY = "value"`` lines and
``NIC = [ NETWORK_ID = "0", ... ]`` vectors; pyone sends this for flat dicts) or as XML
(``<TEMPLATE><CPU><![CDATA[1]]></CPU>...</TEMPLATE>``; pyone sends this for nested dicts).
Internally a template is a list of ``[KEY, value]`` pairs where value is a string or, for a vector
attribute, a list of ``[KEY, string]`` pairs. Keys repeat (several NIC/DISK) and are upper-cased,
as OpenNebula does.
"""

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape


class TemplateSyntaxError(ValueError):
    pass


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<comment>\#[^\n]*)
      | (?P<quoted>"(?:[^"\\]|\\.)*")
      | (?P<punct>[=\[\],])
      | (?P<word>[^\s=\[\],"#]+)
    )""",
    re.VERBOSE | re.DOTALL,
)


def _tokens(text):
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            return
        match = _TOKEN.match(text, pos)
        if not match:
            raise TemplateSyntaxError("syntax error near %r" % text[pos:pos + 20])
        pos = match.end()
        if match.group("comment"):
            continue
        if match.group("quoted") is not None:
            raw = match.group("quoted")[1:-1]
            yield "value", re.sub(r"\\(.)", r"\1", raw)
        elif match.group("punct"):
            yield match.group("punct"), match.group("punct")
        else:
            yield "value", match.group("word")


def parse_attribute_syntax(text):
    """Parse ``KEY = value`` / ``KEY = [ A = b, C = d ]`` text."""
    tokens = list(_tokens(text))
    result, i = [], 0

    def expect(kind):
        nonlocal i
        if i >= len(tokens) or tokens[i][0] != kind:
            found = tokens[i][1] if i < len(tokens) else "end of template"
            raise TemplateSyntaxError("syntax error, expected %r, found %r" % (kind, found))
        i += 1
        return tokens[i - 1][1]

    while i < len(tokens):
        key = expect("value").upper()
        expect("=")
        if i < len(tokens) and tokens[i][0] == "[":
            i += 1
            vector = []
            while i < len(tokens) and tokens[i][0] != "]":
                sub_key = expect("value").upper()
                expect("=")
                vector.append([sub_key, expect("value")])
                if i < len(tokens) and tokens[i][0] == ",":
                    i += 1
            expect("]")
            result.append([key, vector])
        else:
            result.append([key, expect("value")])
    return result


def parse_xml(text):
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise TemplateSyntaxError("cannot parse template XML: %s" % exc)
    result = []
    for child in root:
        if len(child):
            result.append([child.tag.upper(), [[sub.tag.upper(), sub.text or ""] for sub in child]])
        else:
            result.append([child.tag.upper(), child.text or ""])
    return result


def parse(text):
    text = text or ""
    if text.lstrip().startswith("<"):
        return parse_xml(text)
    return parse_attribute_syntax(text)


def get(template, key, default=None):
    for name, value in template:
        if name == key:
            return value
    return default


def get_all(template, key):
    return [value for name, value in template if name == key]


def vector_get(vector, key, default=None):
    return get(vector, key, default)


def vector_set(vector, key, value):
    for pair in vector:
        if pair[0] == key:
            pair[1] = value
            return
    vector.append([key, value])


def merge(template, update):
    """OpenNebula's merge: attributes in ``update`` replace every attribute of that name."""
    names = {name for name, _ in update}
    kept = [pair for pair in template if pair[0] not in names]
    return kept + [[name, value] for name, value in update]


def _cdata(value):
    # CDATA cannot hold "]]>": split it the way every XML writer does.
    return "<![CDATA[%s]]>" % str(value).replace("]]>", "]]]]><![CDATA[>")


def to_xml(tag, template):
    parts = ["<%s>" % tag]
    for name, value in template:
        if isinstance(value, list):
            inner = "".join("<%s>%s</%s>" % (k, _cdata(v), k) for k, v in value)
            parts.append("<%s>%s</%s>" % (name, inner, name))
        else:
            parts.append("<%s>%s</%s>" % (name, _cdata(value), name))
    parts.append("</%s>" % tag)
    return "".join(parts)


def element(tag, value):
    """One plain XML element with escaped text (for the non-template fields of a document)."""
    return "<%s>%s</%s>" % (tag, escape(str(value)), tag)
