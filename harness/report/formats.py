"""What kind of message a text is (JSON, XML, HL7 v2 or plain text), and how each kind is shown to a reader.

Masking and the HTML report both dispatch on `sniff`; a new message kind plugs in with `register`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lxml import etree

MLLP_FRAME = "\x0b\x1c"
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>\s*")
_HL7_START = re.compile(r"^(?:MSH|FHS|BHS)\|")
TRANSPORT_KINDS = {"mllp": "hl7", "hl7": "hl7", "soap": "xml"}
"""The kind of a transport's messages when their content does not tell (a fragment, an empty body)."""


def sniff(text: str, transport: str | None = None) -> str:
    """`json`, `xml`, `hl7` or `text`: by the content when it says, else by the transport."""
    head = text.lstrip(" \t\r\n\ufeff" + MLLP_FRAME)[:64]
    if _HL7_START.match(head):
        return "hl7"
    if head.startswith("<"):
        return "xml"
    if head[:1] in "{[":
        return "json"
    return TRANSPORT_KINDS.get((transport or "").lower(), "text")


def _etree() -> Any:
    """lxml's etree, imported with the first XML text: a run whose messages are all JSON or HL7 (its pytest
    processes mask each scenario's messages) never imports it, ≈ 20 ms of each process's start-up."""
    from lxml import etree

    return etree


def hardened_parser() -> etree.XMLParser:
    """lxml parser for untrusted XML: no DTD, no entity expansion, no network, no huge trees."""
    return _etree().XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_blank_text=False)


def parse_xml(text: str) -> tuple[str, etree._Element]:
    """(the XML declaration as written, the root) of an XML text; raises etree.XMLSyntaxError when malformed."""
    match = _XML_DECLARATION.match(text)
    declaration = match.group(0).strip() if match else ""
    body = text[match.end():] if match else text.lstrip("\ufeff")
    # a str with an encoding declaration is refused by lxml: the text is already decoded, so parse it without one
    return declaration, _etree().fromstring(body.encode("utf-8"), hardened_parser())


def pretty_json(text: str) -> str:
    from harness.report.json_text import indented

    return indented(json.loads(text))


def pretty_xml(text: str) -> str:
    declaration, root = parse_xml(text)
    for element in root.iter():  # re-indent from scratch: whitespace-only text between elements is layout
        if len(element) and element.text is not None and not element.text.strip():
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None
    body = _etree().tostring(root, encoding="unicode", pretty_print=True).rstrip("\n")
    return f"{declaration}\n{body}" if declaration else body


def pretty_hl7(text: str) -> str:
    """One segment a line, MLLP framing characters dropped."""
    stripped = text.strip(MLLP_FRAME + "\r\n")
    return "\n".join(segment for segment in re.split(r"\r\n|\r|\n", stripped) if segment.strip(MLLP_FRAME))


def _as_is(text: str) -> str:
    return text


FORMATTERS: dict[str, Callable[[str], str]] = {"json": pretty_json, "xml": pretty_xml, "hl7": pretty_hl7, "text": _as_is}


def register(kind: str, formatter: Callable[[str], str]) -> None:
    """Show messages of `kind` with `formatter` (text in, text out; raise ValueError when it cannot)."""
    FORMATTERS[kind] = formatter
    _PREPARED.clear()


PREPARED_CHARS = 16_000_000
"""Characters of messages (and their forms for a reader) `prepare` keeps, at most."""
_PREPARED: dict[tuple[str, str | None], tuple[str, str, bool]] = {}
_prepared_chars = [0]


def prepare(text: str, transport: str | None = None) -> None:
    """Work out `pretty(text, transport)` now, for a later call to answer at once: `hih run` prepares each exchange
    as its scenario's result arrives, while the pytest process runs the next one, rather than after the last."""
    if (text, transport) in _PREPARED or _prepared_chars[0] + 2 * len(text) > PREPARED_CHARS:
        return
    shown = _pretty(text, transport)
    _PREPARED[(text, transport)] = shown
    _prepared_chars[0] += len(text) + len(shown[1])


def pretty(text: str, transport: str | None = None) -> tuple[str, str, bool]:
    """(kind, text for a reader, whether it parsed): a message that does not parse as its kind is shown as it came."""
    known = _PREPARED.get((text, transport))
    return known if known is not None else _pretty(text, transport)


def _pretty(text: str, transport: str | None) -> tuple[str, str, bool]:
    kind = sniff(text, transport)
    try:
        return kind, FORMATTERS.get(kind, _as_is)(text), True
    except (ValueError, SyntaxError):  # lxml's XMLSyntaxError is a SyntaxError (the JSON error a ValueError)
        return kind, text, False
