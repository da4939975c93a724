"""The codec of SOAP contracts (the blood centre, the maternal-child platform): see `harness.contract.codec`.

The transaction of a request is its operation, by SOAPAction (or the SOAP 1.2 action parameter) and by the body's
element. Messages are checked by `SoapValidator` with the hardened parser. Fields are element paths by local name;
a leaf whose text is itself an XML record (the platform's string payloads) is flattened too, under its element, so
a change inside a record is named by the record's own field.
"""

from __future__ import annotations

import itertools
import re

from lxml import etree

from harness.contract import xmlsafe
from harness.contract.codec import Seen, Wire
from harness.contract.model import Contract
from harness.contract.soap_validate import SoapValidator, location_of, payload_summary
from harness.contract.soap_wsdl import local_name

kind = "xml"
_ACTION_PARAM = re.compile(r"""action\s*=\s*"?([^";]*)"?""", re.I)
_BODY_START = re.compile(rb"<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([\w.-]+)")
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
MAX_PAYLOAD_DEPTH = 2
"""Records inside records are flattened this deep at most."""


def _validator(contract: Contract) -> SoapValidator:
    found = contract.extra.get("soap_validator")
    if not isinstance(found, SoapValidator):
        found = SoapValidator(contract)
        contract.extra["soap_validator"] = found
    return found


def text(raw: bytes, contract: Contract) -> tuple[str, str]:
    declared = _ENCODING.match(raw[:200])
    charset = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    try:
        return raw.decode(charset), charset
    except (LookupError, UnicodeDecodeError):
        return raw.decode("utf-8", errors="replace"), "utf-8"


def encode(text: str, charset: str) -> bytes:
    try:
        return text.encode(charset or "utf-8", errors="replace")
    except LookupError:
        return text.encode("utf-8", errors="replace")


def _flatten(element: etree._Element, out: dict[str, str], depth: int) -> None:
    for node in element.iter():
        if not isinstance(node.tag, str):
            continue
        where = location_of(node)
        for name, value in sorted(node.attrib.items()):
            if not name.startswith("{http://www.w3.org/2001/XMLSchema-instance}"):
                out[f"{where}/@{local_name(name)}"] = value
        if len(node) == 0:
            value = (node.text or "").strip()
            inner = _record(value) if depth < MAX_PAYLOAD_DEPTH else None
            if inner is not None:
                sub: dict[str, str] = {}
                _flatten(inner, sub, depth + 1)
                out.update({where + path: v for path, v in sub.items()})
            else:
                out[where] = value


def _record(value: str) -> etree._Element | None:
    """A leaf's text parsed as XML when it is a record (`<...>`); None otherwise."""
    if not value.startswith("<") or not value.endswith(">"):
        return None
    try:
        return xmlsafe.parse(re.sub(r"^<\?xml[^>]*\?>", "", value).encode("utf-8"), 4 * 2**20)
    except xmlsafe.XmlRefused:
        return None


def fields(text: str) -> dict[str, str]:
    """Leaves by element path. A message the hardened parser refuses (broken, or carrying a DTD) is read by a
    recovering parser that still loads no DTD and expands no entity, so that its fields can be compared too."""
    body = re.sub(r"^\s*<\?xml[^>]*\?>", "", text).encode("utf-8")
    try:
        root = xmlsafe.parse(body, 16 * 2**20)
    except xmlsafe.XmlRefused:
        root = _recovered(body)
        if root is None:
            return {"": text}
    out: dict[str, str] = {}
    _flatten(root, out, 0)
    return out


def _recovered(body: bytes) -> etree._Element | None:
    """The message's tree as a recovering parser reads it, from its first element that parses (text before the
    root, a DTD: hostile messages carry both)."""
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False)
    body = body[: 16 * 2**20]
    starts = [0, *(m.start() for m in itertools.islice(re.finditer(rb"<[A-Za-z_]", body), 8))]
    for start in starts:
        try:
            root = etree.fromstring(body[start:], parser)
        except etree.XMLSyntaxError:
            continue
        if root is not None:
            return root
    return None


def _action(wire: Wire) -> str | None:
    given = wire.header("soapaction")
    if given is not None:
        return given.strip().strip('"')
    match = _ACTION_PARAM.search(wire.header("content-type") or "")
    return match.group(1).strip() if match else None


def operation(contract: Contract, raw: bytes, wire: Wire) -> str | None:
    spec = _validator(contract).spec
    action = _action(wire)
    if action and action in spec.by_action:
        return spec.by_action[action]
    match = _BODY_START.search(raw[:4096])
    if match is None:
        return None
    name = match.group(1).decode("ascii", "replace")
    return next((op for tag, ops in spec.by_input.items() if local_name(tag) == name for op in ops), None)


def check_request(contract: Contract, raw: bytes, wire: Wire, direction: str) -> Seen:
    checked = _validator(contract).validate_request(raw, _action(wire))
    summary = {"operation": checked.operation, "payloads": payload_summary(checked.payloads)} if checked.payloads \
        else {"operation": checked.operation}
    return Seen(checked.operation, checked.findings, summary)


def check_reply(contract: Contract, raw: bytes, wire: Wire, operation: str | None, request: bytes,
                direction: str) -> Seen:
    if not raw.strip() and wire.status == 202:  # a one-way operation's empty answer
        return Seen(operation, [], {"operation": operation, "one_way": True})
    checked = _validator(contract).validate_response(raw, operation)
    summary: dict[str, object] = {"operation": operation}
    if checked.fault_code is not None:
        summary["fault"] = {"code": checked.fault_code, "string": checked.fault_string}
    return Seen(operation, checked.findings, summary)


def echo(contract: Contract, operation: str | None, request: str, reply: str) -> str:
    return reply  # a SOAP answer carries what the hospital sent as business data, the same in every replay
