"""Hypothesis strategies for hostile input to the mocks: JSON bodies derived from the contracts' schemas (valid, so
they reach the partner's business rules, with the widest values the schema allows) and mangled ones; SOAP envelopes
built from the WSDL and then broken at the tree and at the byte level; HL7 v2 messages broken field by field and
frame by frame. Every strategy draws bytes as a hospital's client, a broken one or an attacker could send them."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from lxml import etree

from harness.contract.json_schemas import CODES_FILE, codes_schema
from harness.contract.model import Contract
from tests.mocks.schema_strategies import from_schema

NASTY_TEXT = [
    "", " ", "null", "NaN", "-0", "1e999", "0x1F", "9" * 400, "١٢٣", "𠀀𠀁", "\u202e反转", "\ufeff", "'\"<>&;",
    "]]>", "<![CDATA[", "&lt;", "&#0;", "%00", "%s%n%x", "../../../../etc/passwd", "${jndi:ldap://x}", "\\", "\t\r\n",
    "A" * 5000, "张" * 2000, "DROP TABLE orders;--",
]
"""Values that broke or bent real systems: numbers as text, bidi controls, entities, escapes, long runs."""
RAW_INSERTS = [b"\x00", b"\x01", b"\x0b\x1c", b"\xff\xfe", b"\xed\xa0\x80", b"&#1;", b"&#xD800;", b"&e;", b"<!--",
               b"<![CDATA[", b"]]>", b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>", b"\xef\xbb\xbf",
               b"<?xml version='1.0' encoding='UTF-16'?>", b"</", b"<a" * 50, b"\r\n\r\n"]
"""Bytes that are not text, not XML characters, or start a construct the parser must refuse."""

hostile_text = st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=60),
                         st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=3000))


# -- JSON -----------------------------------------------------------------------------------------------------------
def inline_schema(contract: Contract, relpath: str) -> dict[str, Any]:
    """A contract's JSON Schema with every `$ref` (to other schema files and to the code tables) written in place,
    the form hypothesis-jsonschema takes."""
    documents: dict[str, Any] = dict(contract.schemas)
    documents[posixpath.join(posixpath.dirname(relpath), CODES_FILE)] = codes_schema(contract.code_tables)

    def resolve(node: Any, base: str) -> Any:
        if isinstance(node, list):
            return [resolve(item, base) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target, _, pointer = node["$ref"].partition("#")
            where = posixpath.normpath(posixpath.join(posixpath.dirname(base), target)) if target else base
            found = documents[where]
            for part in [p for p in pointer.split("/") if p]:
                found = found[part.replace("~1", "/").replace("~0", "~")]
            rest = {k: v for k, v in node.items() if k not in ("$ref", "description", "title")}
            resolved = resolve(found, where)
            return {"allOf": [resolved, resolve(rest, base)]} if rest else resolved
        return {k: resolve(v, base) for k, v in node.items() if k not in ("$schema", "$id", "$defs", "description", "title")}

    return dict(resolve(documents[relpath], relpath))


def json_inputs(contract: Contract, operation: str) -> st.SearchStrategy[Any]:
    """Inputs of `operation` that its schema accepts, as widely as it allows (hypothesis-jsonschema, each sub-schema's
    strategy built once: tests/mocks/schema_strategies.py)."""
    relpath = contract.operations[operation].input_schema
    assert relpath is not None
    return from_schema(inline_schema(contract, relpath))


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(hostile_text, children, max_size=5),
    max_leaves=30,
)


@st.composite
def mangled_json(draw: st.DrawFn, valid: bytes) -> bytes:
    """A valid body broken: a field's value swapped for any JSON, cut short, bytes inserted, nested deep, replaced by
    JSON that is not an object."""
    how = draw(st.sampled_from(["swap", "cut", "insert", "deep", "any", "not-object", "not-object", "bytes"]))
    if how == "swap":
        body = json.loads(valid)
        path = draw(st.sampled_from(sorted(_paths(body))))
        _set(body, path, draw(JSON_VALUES))
        return json.dumps(body, ensure_ascii=draw(st.booleans())).encode()
    if how == "cut":
        return valid[: draw(st.integers(0, len(valid) - 1))]
    if how == "insert":
        at = draw(st.integers(0, len(valid)))
        return valid[:at] + draw(st.sampled_from(RAW_INSERTS) | st.binary(max_size=20)) + valid[at:]
    if how == "deep":
        depth = draw(st.sampled_from([63, 64, 65, 500, 20_000]))
        return b'{"infno":"9001","input":' + b"[" * depth + b"]" * depth + b"}"
    if how == "any":
        return json.dumps(draw(JSON_VALUES)).encode()
    if how == "not-object":  # JSON, but what a reader of fields cannot `.get` from
        return json.dumps(draw(st.lists(JSON_VALUES, max_size=3) | JSON_LEAVES)).encode()
    return draw(st.binary(max_size=200))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> set[tuple[Any, ...]]:
    found = {prefix} if prefix else set()
    if isinstance(value, dict):
        for key, item in value.items():
            found |= _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found |= _paths(item, (*prefix, index))
    return found


def _set(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for key in path[:-1]:
        value = value[key]
    value[path[-1]] = new


# -- XML and SOAP ---------------------------------------------------------------------------------------------------
@st.composite
def broken_envelope(draw: st.DrawFn, valid: etree._Element) -> bytes:
    """A valid envelope broken in the tree (a value, a missing or repeated element, an unknown one, deep nesting) or
    in its bytes (cut, bytes inserted, a DOCTYPE, another encoding)."""
    root = etree.fromstring(etree.tostring(valid))
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    leaves = [e for e in elements if len(e) == 0]
    how = draw(st.sampled_from(["text", "raw-text", "drop", "repeat", "unknown", "deep", "bytes", "cut"]))
    placeholder = "HIHPLACEHOLDER"
    raw_value = b""
    if how in ("text", "raw-text") and leaves:
        leaf = draw(st.sampled_from(leaves))
        value = draw(hostile_text)
        if how == "raw-text":
            raw_value = draw(st.sampled_from(RAW_INSERTS)) + value.encode("utf-8", "surrogatepass")
            leaf.text = placeholder
        else:
            try:
                leaf.text = value
            except ValueError:  # a character XML cannot hold: send it anyway, as raw bytes
                raw_value, leaf.text = value.encode("utf-8", "surrogatepass"), placeholder
    elif how == "drop" and len(elements) > 1:
        victim = draw(st.sampled_from(elements[1:]))
        parent = victim.getparent()
        if parent is not None:
            parent.remove(victim)
    elif how == "repeat" and len(elements) > 2:
        victim = draw(st.sampled_from(elements[2:]))
        parent = victim.getparent()
        if parent is not None:
            for _ in range(draw(st.sampled_from([2, 51, 201, 2000]))):
                parent.append(etree.fromstring(etree.tostring(victim)))
    elif how == "unknown":
        parent = draw(st.sampled_from(elements))
        etree.SubElement(parent, draw(st.sampled_from(["extra", "{urn:other}x", "{urn:hih:blood-center:service}item"]))).text = "x"
    elif how == "deep":
        parent = draw(st.sampled_from(elements))
        node = parent
        for _ in range(draw(st.sampled_from([30, 70, 250]))):
            node = etree.SubElement(node, "n")
    raw = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    if raw_value:
        raw = raw.replace(placeholder.encode(), raw_value, 1)
    if how == "bytes":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(RAW_INSERTS) | st.binary(max_size=30)) + raw[at:]
    elif how == "cut":
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    return raw


# -- HL7 v2 ---------------------------------------------------------------------------------------------------------
HL7_VALUES = st.one_of(st.sampled_from(["", '""', "~", "^^^", "\\", "\\X0A\\", "\\E\\", "\\.br\\", "&&&", "|" * 30,
                                        "MSH|^~\\&", "\x0b", "\x1c\r", "9" * 2000, "第一行\\.br\\第二行"]),
                       hostile_text.map(lambda text: text.replace("\r", " ")))


@st.composite
def broken_hl7(draw: st.DrawFn, valid: str, charset: Callable[[str], bytes]) -> bytes:
    """A valid ER7 message broken: a field's value replaced (delimiters, escapes, any text), a segment dropped or
    repeated, the header's delimiters or version or charset changed, or its bytes cut or salted."""
    segments = [s for s in valid.split("\r") if s]
    how = draw(st.sampled_from(["field", "drop", "repeat", "header", "bytes", "cut"]))
    if how == "field":
        index = draw(st.integers(0, len(segments) - 1))
        fields = segments[index].split("|")
        position = draw(st.integers(1 if index else 2, max(2, len(fields) + 2)))
        fields += [""] * (position + 1 - len(fields))
        fields[position] = draw(HL7_VALUES)
        segments[index] = "|".join(fields)
    elif how == "drop" and len(segments) > 1:
        del segments[draw(st.integers(1, len(segments) - 1))]
    elif how == "repeat":
        index = draw(st.integers(1, len(segments) - 1)) if len(segments) > 1 else 0
        segments[index + 1:index + 1] = [segments[index]] * draw(st.sampled_from([1, 50, 1000]))
    elif how == "header":
        fields = segments[0].split("|")
        position = draw(st.sampled_from([1, 2, 8, 9, 11, 17]))
        fields += [""] * (position + 1 - len(fields))
        fields[position] = draw(st.sampled_from(["", "^~\\&", "#", "ADT^A01^ADT_A01^X^Y", "2.9", "1.0", "GB 18030-2000",
                                                 "UNICODE UTF-8", "ISO IR87", "BIG5", "nonsense", "P~T"]))
        segments[0] = "|".join(fields)
    raw = charset("\r".join(segments) + "\r")
    if how == "bytes":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\x0b", b"\x1c", b"\x1c\r", b"\xff", b"\x00", b"\r\r\r"]) | st.binary(max_size=20)) + raw[at:]
    elif how == "cut":
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    return raw
