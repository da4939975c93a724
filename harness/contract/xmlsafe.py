"""Hardened XML parsing for everything hih reads from outside: SOAP envelopes, payload records, contract files.

One rule for all of them: no DTD at all (a DOCTYPE is refused before the parser sees the document), no entity
expansion, no network, no huge-tree mode (libxml2 keeps its limits on depth and text size), a size limit checked
before parsing and a nesting limit checked after (64 levels by default, a contract may set its own). A refusal is an
`XmlRefused` with a short reason and, where the parser knows it, a line.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree

from harness.contract.refused import InputRefused

DEFAULT_MAX_BYTES = 2 * 2**20
DEFAULT_MAX_DEPTH = 64

# What may come before the root element: a BOM, the XML declaration, comments, processing instructions, blanks.
_PROLOG_ITEM = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.S)
_UTF8_BOM = b"\xef\xbb\xbf"
_STARTS_WITH_LT = (b"<", _UTF8_BOM + b"<")
_POSITION = re.compile(r"(, line \d+)?, line \d+, column \d+$")


class XmlRefused(InputRefused):
    """A document hih will not parse, or cannot: `reason` is one of size, doctype, entity, syntax, empty, depth."""

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.message}"


@dataclass(frozen=True)
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES


_local = threading.local()


def parser() -> etree.XMLParser:
    """This thread's hardened parser (lxml parsers must not be shared between threads)."""
    found: etree.XMLParser | None = getattr(_local, "parser", None)
    if found is None:
        found = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
            remove_comments=False, collect_ids=False,
        )
        _local.parser = found
    return found


def _doctype_offset(raw: bytes) -> int:
    """Offset of a `<!DOCTYPE` in the prolog (before the root element), or -1. Cheap: reads only the prolog."""
    if b"<!" not in raw:  # no comment, CDATA or declaration at all (most requests): one search in C
        return -1
    pos = len(_UTF8_BOM) if raw.startswith(_UTF8_BOM) else 0
    end = len(raw)
    while pos < end:
        match = _PROLOG_ITEM.match(raw, pos)
        if match is None:
            break
        pos = match.end()
    return pos if raw.startswith(b"<!DOCTYPE", pos) or raw.startswith(b"<!doctype", pos) else -1


def check_bytes(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse what must not reach the parser: too large, empty, or declaring a DTD."""
    if len(raw) > max_bytes:
        raise XmlRefused("size", f"document of {len(raw)} bytes is over the limit of {max_bytes} bytes")
    if not raw or raw.isspace():  # what strip() would leave empty, without copying the document
        raise XmlRefused("empty", "empty document")
    offset = _doctype_offset(raw)
    if offset >= 0:
        line = raw.count(b"\n", 0, offset) + 1
        raise XmlRefused("doctype", "a DOCTYPE (DTD) is not allowed", line)


@cache
def _deeper_than(levels: int) -> etree.XPath:
    # libxml2 walks the tree in C: cheaper than any walk in Python, and the parser has already capped the depth at 256
    return etree.XPath(f"boolean({'/*' * (levels + 1)})")


def _may_be_deeper(raw: bytes, levels: int) -> bool:
    """False when a well-formed `raw` cannot nest elements more than `levels` deep, by counting its `<` bytes.

    Nesting deeper than `levels` takes `levels + 1` start tags and an end tag for each of the outer `levels` (an
    element holding a child cannot be self-closing): `2 * levels + 1` markup `<` at least, each a `<` byte. Counted
    only in a document that starts with `<` (after a UTF-8 BOM): one in another encoding (UTF-16 with its BOM,
    EBCDIC) gets the tree walk."""
    if not raw.startswith(_STARTS_WITH_LT):
        return True
    return raw.count(b"<") > 2 * levels


def parse(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES, base_url: str | None = None,
          max_depth: int = DEFAULT_MAX_DEPTH) -> etree._Element:
    """Parse a whole document with the hardened parser; the root element, or XmlRefused."""
    check_bytes(raw, max_bytes)
    try:
        root = etree.fromstring(raw, parser(), base_url=base_url)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno or 0, 0)
        message = _POSITION.sub("", (exc.msg or str(exc)).strip())
        reason = "entity" if "entit" in message.lower() else "depth" if "excessive depth" in message.lower() else "syntax"
        raise XmlRefused(reason, f"not well-formed XML: {message}", line or 0, column) from None
    except ValueError as exc:  # e.g. an encoding declaration lxml cannot honour
        raise XmlRefused("syntax", f"not well-formed XML: {exc}") from None
    _check_tree(root)
    if _may_be_deeper(raw, max_depth) and _deeper_than(max_depth)(root):
        raise XmlRefused("depth", f"elements nested more than {max_depth} levels deep")
    return root


def _check_tree(root: etree._Element) -> None:
    """Backstop for what the byte scan cannot see (e.g. a UTF-16 document): a DTD. Without one, an entity other
    than the five predefined ones is a well-formedness error, so no entity node can be left in the tree."""
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise XmlRefused("doctype", "a DOCTYPE (DTD) is not allowed", 1)


def parse_file(path: Path, max_bytes: int = 16 * 2**20) -> etree._ElementTree:
    """A contract file (WSDL, XSD) parsed with the same rules; its URL is set so relative imports resolve."""
    return parse(path.read_bytes(), max_bytes, base_url=str(path)).getroottree()
