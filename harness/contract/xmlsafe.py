"""Hardened XML parsing for everything hih reads from outside: SOAP envelopes, payload records, contract files.

One rule for all of them: no DTD at all (a DOCTYPE is refused before the parser sees the document), no entity
expansion, no network, no huge-tree mode (libxml2 keeps its limits on depth and text size), a size limit checked
before parsing and a nesting limit checked after (64 levels by default, a contract may set its own). A refusal is an
`XmlRefused` with a short reason and, where the parser knows it, a line.
"""

from __future__ import annotations

import contextlib
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


# Character data between a `>` and the next `<` holding many escaped characters (a record carried as text in a SOAP
# envelope: a hundred `&lt;`/`&gt;` in a small one), each a separate reference for libxml2 to resolve and a separate
# piece of text to append: a twentieth of such a call's instructions. Written as one CDATA section instead, it is
# the same text, read in one go.
_ESCAPED_RUN = re.compile(rb">([^<>]*?&(?:lt|gt);[^<>]*)(?=<)")
_NAMED_REFS = (b"&lt;", b"&gt;", b"&amp;", b"&quot;", b"&apos;")
_MIN_REFS = 16
"""References a run needs before it is worth rewriting (fewer cost libxml2 less than the rewrite)."""
_UTF8_DECLARATION = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']utf-?8[\"']", re.I)


def _as_cdata(raw: bytes) -> bytes | None:
    """`raw` with each run of escaped character data written as a CDATA section, or None when there is none to
    rewrite or the rewrite cannot be sure to keep the document's meaning.

    Sure means: a UTF-8 document starting with `<` with no comment, CDATA, DOCTYPE or processing instruction (but
    its XML declaration), so that every byte between a `>` and the next `<` with no other `>` between them is
    character data (an attribute value cannot hold `<`: a run inside one would leave a `<` in it, which no parser
    takes); and a run only of the five named references (no character reference: `&#13;` is a CR that line-end
    normalisation would take from a CDATA section), no `]]&gt;` (it would end the section). With the parser's
    `strip_cdata` (lxml's default) the section becomes the same one text node the references give. A document the
    rewritten form makes the parser refuse is parsed again as it came, so a refusal says what it always said."""
    if b"&lt;" not in raw or b"<!" in raw or not raw.startswith(b"<"):
        return None
    if raw.startswith(b"<?"):
        end = raw.find(b"?>")
        if end < 0 or b"<?" in raw[2:] or (b"encoding" in raw[:end] and not _UTF8_DECLARATION.match(raw, 0, end + 2)):
            return None
    pieces: list[bytes] = []
    done = 0
    for match in _ESCAPED_RUN.finditer(raw):
        run = match.group(1)
        refs = sum(run.count(ref) for ref in _NAMED_REFS)
        if refs < _MIN_REFS or run.count(b"&") != refs or b"]]&gt;" in run:
            continue
        text = run.replace(b"&lt;", b"<").replace(b"&gt;", b">").replace(b"&quot;", b'"').replace(
            b"&apos;", b"'").replace(b"&amp;", b"&")
        pieces += (raw[done:match.start(1)], b"<![CDATA[", text, b"]]>")
        done = match.end(1)
    if not pieces:
        return None
    pieces.append(raw[done:])
    return b"".join(pieces)


def parse(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES, base_url: str | None = None,
          max_depth: int = DEFAULT_MAX_DEPTH) -> etree._Element:
    """Parse a whole document with the hardened parser; the root element, or XmlRefused."""
    check_bytes(raw, max_bytes)
    quicker = _as_cdata(raw)
    root: etree._Element | None = None
    if quicker is not None:
        with contextlib.suppress(etree.XMLSyntaxError, ValueError):
            root = etree.fromstring(quicker, parser(), base_url=base_url)
    try:
        if root is None:
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
