"""Texts an XSD simple type is sure to accept, told without libxml2: what lets a reply copied from a template whose
shape was validated skip its schema validation, and still be a valid reply.

A reply rendered from a template (`mocks.transport.soap_encode`) has the elements of its shape, no attributes and
text in its simple-typed leaves only. When the schemas hold no identity constraint, fixed value, redefine or
override (`SoapSpec.value_free`), whether such a document is valid depends on two things apart: its structure
(which elements, in which order, how many) and each leaf's text against the leaf's own simple type. The structure
of a shape is proven once, by libxml2 validating a reply of that shape without an error; the texts of every later
reply are checked here, each by its leaf's type.

These checks are sound, not complete: a text they accept is valid for the type; a text they do not accept may still
be valid (it is then validated by libxml2 like any reply). So they only know a few kinds of types, and answer None
(no check: every reply of that shape is validated by libxml2) for the rest:

- `xs:string` (any text: lxml refuses characters XML cannot carry when the text is set); `xs:boolean`; the integer
  types, in their canonical form (what zeep's `xmlvalue` writes) within the type's range;
- a global simple type restricting one of those (or another such type) with enumerations, patterns and length
  facets when it is string-based, no facet when it is integer-based: the base's check and this step's facets
  (patterns of one step: any of them; of the steps: all of them, as XSD has it);
- patterns made only of ASCII letters and digits, `_` and `-`, character classes of those (ranges within one
  kind), `\\d` (checked as `[0-9]`, a part of XSD's `\\d`) and the quantifiers `?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}`:
  these mean the same in XSD and in Python's `re`, matched against the whole text as XSD matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lxml import etree

from harness.contract.soap_wsdl import XS, resolve_qname

TextCheck = Callable[[str], bool]
_MAX_DERIVATION = 16
_INTEGERS: dict[str, tuple[int | None, int | None]] = {
    "integer": (None, None), "nonNegativeInteger": (0, None), "positiveInteger": (1, None),
    "nonPositiveInteger": (None, 0), "negativeInteger": (None, -1),
    "long": (-2**63, 2**63 - 1), "int": (-2**31, 2**31 - 1), "short": (-2**15, 2**15 - 1), "byte": (-128, 127),
    "unsignedLong": (0, 2**64 - 1), "unsignedInt": (0, 2**32 - 1), "unsignedShort": (0, 2**16 - 1),
    "unsignedByte": (0, 255),
}
_CANONICAL_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_QUANTIFIER = re.compile(r"\{(\d+)(?:,(\d*))?\}")
_LENGTHS = ("length", "minLength", "maxLength")
_ANNOTATION = f"{{{XS}}}annotation"


def text_check(zeep_type: Any, simple_types: dict[str, etree._Element]) -> TextCheck | None:
    """A sound check of a leaf's text for zeep's type of the leaf (see the module), or None when there is none."""
    qname = getattr(getattr(zeep_type, "qname", None), "text", None)
    if not isinstance(qname, str):
        return None
    if qname.startswith(f"{{{XS}}}") and type(zeep_type).__module__ != "zeep.xsd.types.builtins":
        return None  # a type zeep made that carries a built-in's name: not the built-in
    found = _named(qname, simple_types, 0)
    return found[0] if found is not None else None


def _named(qname: str, simple_types: dict[str, etree._Element], depth: int) -> tuple[TextCheck, str] | None:
    """(check, kind) of a named type: kind "string" or "integer"; None when it cannot be checked here."""
    if depth > _MAX_DERIVATION:
        return None
    if qname.startswith(f"{{{XS}}}"):
        local = qname[len(XS) + 2:]
        if local == "string":
            return _any_text, "string"
        if local == "boolean":
            return frozenset({"true", "false"}).__contains__, "boolean"
        if local in _INTEGERS:
            return _integer(*_INTEGERS[local]), "integer"
        return None
    node = simple_types.get(qname)
    if node is None:
        return None
    parts = [c for c in node if isinstance(c.tag, str) and c.tag != _ANNOTATION]
    if len(parts) != 1 or parts[0].tag != f"{{{XS}}}restriction" or parts[0].get("base") is None:
        return None
    restriction = parts[0]
    base_name = resolve_qname(restriction, restriction.get("base"))
    base = _named(base_name, simple_types, depth + 1) if base_name else None
    if base is None:
        return None
    check, kind = base
    facets = [c for c in restriction if isinstance(c.tag, str) and c.tag != _ANNOTATION]
    if not facets:
        return check, kind
    if kind != "string":
        return None
    values: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    low, high = 0, None
    for facet in facets:
        name = facet.tag[len(XS) + 2:] if facet.tag.startswith(f"{{{XS}}}") else ""
        value = facet.get("value")
        if value is None:
            return None
        if name == "enumeration":
            values.add(value)
        elif name == "pattern":
            pattern = _translated(value)
            if pattern is None:
                return None
            patterns.append(pattern)
        elif name in _LENGTHS and value.isdigit():
            size = int(value)
            if name in ("length", "minLength"):
                low = max(low, size)
            if name in ("length", "maxLength"):
                high = size if high is None else min(high, size)
        else:
            return None
    return _restricted(check, frozenset(values), tuple(patterns), low, high), kind


def _any_text(text: str) -> bool:
    return True


def _integer(low: int | None, high: int | None) -> TextCheck:
    def check(text: str) -> bool:
        if _CANONICAL_INTEGER.fullmatch(text) is None:
            return False
        number = int(text)
        return (low is None or number >= low) and (high is None or number <= high)
    return check


def _restricted(base: TextCheck, values: frozenset[str], patterns: tuple[re.Pattern[str], ...], low: int,
                high: int | None) -> TextCheck:
    def check(text: str) -> bool:
        return (base(text) and (not values or text in values)
                and (not patterns or any(p.fullmatch(text) is not None for p in patterns))
                and low <= len(text) and (high is None or len(text) <= high))
    return check


def _plain(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def _same_kind(first: str, last: str) -> bool:
    return first <= last and any(a <= first and last <= b for a, b in (("0", "9"), ("A", "Z"), ("a", "z")))


def _translated(pattern: str) -> re.Pattern[str] | None:
    """An XSD pattern of the subset the module names as a Python pattern with the same meaning (matched whole), or
    None."""
    out: list[str] = []
    i, atom = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "[":
            end = pattern.find("]", i + 1)
            body = _class(pattern[i + 1:end]) if end > i else None
            if body is None:
                return None
            out.append(body)
            i, atom = end + 1, True
        elif pattern.startswith("\\d", i):
            out.append("[0-9]")
            i, atom = i + 2, True
        elif _plain(char) or char == "-":
            out.append(re.escape(char))
            i, atom = i + 1, True
        elif char in "?*+" and atom:
            out.append(char)
            i, atom = i + 1, False
        elif char == "{" and atom:
            match = _QUANTIFIER.match(pattern, i)
            if match is None or (match.group(2) not in (None, "") and int(match.group(2)) < int(match.group(1))):
                return None
            out.append(match.group(0))
            i, atom = match.end(), False
        else:
            return None
    return re.compile("".join(out))


def _class(body: str) -> str | None:
    """A character class's inside, of the subset, as Python's; None otherwise."""
    parts: list[str] = []
    k = 0
    while k < len(body):
        char = body[k]
        if body.startswith("\\d", k):
            parts.append("0-9")
            k += 2
        elif k + 2 < len(body) and body[k + 1] == "-" and _plain(char) and _plain(body[k + 2]):
            if not _same_kind(char, body[k + 2]):
                return None
            parts.append(f"{char}-{body[k + 2]}")
            k += 3
        elif _plain(char):
            parts.append(char)
            k += 1
        elif char == "-" and (k == 0 or k == len(body) - 1):
            parts.append("\\-")
            k += 1
        else:
            return None
    return f"[{''.join(parts)}]" if parts else None
