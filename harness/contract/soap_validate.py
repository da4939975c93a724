"""Validate SOAP messages against a `soap` contract: envelope, operation, body and headers (lxml XMLSchema, strict),
auth header, result codes, and XML records carried as string payloads (each against its own XSD).

Findings are located by an XPath-like path of local names from the document root, with a 1-based index where an
element has same-named siblings: `/Envelope/Body/SubmitOrder/order/item[2]/aboGroup`. A finding inside a string
payload continues after `#` with the path inside the record: `/Envelope/Body/UploadRecord/payload[2]#/BirthNotice/sex`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from harness.contract import xmlsafe
from harness.contract.findings import Finding, Severity, clip
from harness.contract.http_json import Checked
from harness.contract.model import Contract
from harness.contract.soap import LockedSchema, SoapOperation, SoapSpec, spec_of
from harness.contract.soap_wsdl import SOAP11_ENV, SOAP12_ENV, clean_message, local_name

_ELEMENT_PREFIX = re.compile(r"^Element '[^']*'(?:, attribute '(?P<attr>[^']*)')?: ")
_MISSING_ONE = re.compile(r"Missing child element\(s\)\. Expected is \( (?:\{[^}]*\})?(?P<name>[\w.-]+) \)")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*?\?>", re.S)


@dataclass
class Payload:
    """One record found in a payload element: its type (None when it could not be told), where, its root."""

    location: str
    type: str | None
    root: etree._Element | None
    findings: list[Finding] = field(default_factory=list)
    text: str | None = None
    """The record as it came in a text payload (its XML declaration, if any, naming UTF-8), for a party that keeps it
    as received rather than serialising the parsed tree again; None for a base64 payload or a record on its own."""

    @property
    def valid(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)


@dataclass
class SoapChecked(Checked):
    """A checked SOAP message: kind request | response | fault | payload | unknown, plus what parsing found."""

    root: etree._Element | None = None
    content: etree._Element | None = None
    """The body's child (the operation element or the Fault)."""
    header: etree._Element | None = None
    payloads: list[Payload] = field(default_factory=list)
    fault_code: str | None = None
    fault_string: str | None = None


def location_of(element: etree._Element) -> str:
    """`/Envelope/Body/Op/item[2]/code`: local names from the root, indexed where same-named siblings exist."""
    steps = []
    node: etree._Element | None = element
    while node is not None:
        tag = node.tag
        name = local_name(tag)
        parent = node.getparent()
        if parent is not None:
            if isinstance(tag, str):  # same-named siblings counted by lxml's sibling iterators, matching in C
                before = sum(1 for _ in node.itersiblings(tag, preceding=True))
                if before or next(node.itersiblings(tag), None) is not None:
                    name = f"{name}[{before + 1}]"
            else:
                same = [c for c in parent if c.tag == tag]
                if len(same) > 1:
                    name = f"{name}[{same.index(node) + 1}]"
        steps.append(name)
        node = parent
    return "/" + "/".join(reversed(steps))


def xsd_findings(schema: LockedSchema, element: etree._Element, prefix: str = "") -> list[Finding]:
    """Strict XSD validation of `element` (a body child, a header, a payload root), located from its document root."""
    entries = schema.errors(element)
    if not entries:
        return []
    # lxml reports libxml2 node paths of a copy rooted at `element`; map them back onto the original nodes
    twin = copy.deepcopy(element)
    twin_tree = etree.ElementTree(twin)
    by_path = {twin_tree.getpath(t): o for t, o in zip(twin.iter(), element.iter(), strict=False) if isinstance(t.tag, str)}
    findings = []
    for entry in entries:
        node = by_path.get(entry.path or "")
        message = entry.message
        match = _ELEMENT_PREFIX.match(message)
        attr = match.group("attr") if match else None
        if match:
            message = message[match.end():]
        where = location_of(node) if node is not None else _plain_path(entry.path or "")
        missing = _MISSING_ONE.search(message)
        if attr:
            where = f"{where}/@{attr}"
        elif missing:
            where = f"{where}/{missing.group('name')}"
        findings.append(Finding(Severity.ERROR, prefix + where, clip(clean_message(message)), "xsd"))
    return findings


def _plain_path(path: str) -> str:
    return re.sub(r"(?<=/)[^/:\[]+:", "", path)


def _find(element: etree._Element, path: tuple[str, ...]) -> list[etree._Element]:
    """Elements at `path` (local names, any namespace or none) under `element`, every repeat included, in document
    order: lxml's child iterator matching each step's name in C (ElementPath's `findall` first builds its selectors
    in Python)."""
    nodes = [element]
    for step in path:
        wanted = "{*}" + step
        nodes = [child for node in nodes for child in node.iterchildren(wanted)]
    return nodes


def _payload_text(text: str) -> str:
    # The record came as characters: whatever encoding its declaration names, it is parsed from UTF-8 now.
    declaration = _XML_DECL.match(text)
    if declaration:
        fixed = re.sub(r"""encoding\s*=\s*(["'])[^"']*\1""", 'encoding="UTF-8"', declaration.group(0))
        text = fixed + text[declaration.end():]
    return text


class SoapValidator:
    """Validate envelopes, bare body elements and payload records against one SOAP contract."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.spec: SoapSpec = spec_of(contract)
        self.max_depth = contract.limits.max_depth or xmlsafe.DEFAULT_MAX_DEPTH
        env = self.spec.envelope_ns
        self._tags = (f"{{{env}}}Envelope", f"{{{env}}}Header", f"{{{env}}}Body")

    # -- parsing ----------------------------------------------------------------------------------------------
    def parse(self, raw: bytes) -> tuple[etree._Element | None, list[Finding]]:
        """The hardened parse; a refusal is one error finding (rule `xml`)."""
        try:
            return xmlsafe.parse(raw, self.spec.max_bytes, max_depth=self.max_depth), []
        except xmlsafe.XmlRefused as exc:
            where = f" (line {exc.line})" if exc.line else ""
            return None, [Finding(Severity.ERROR, "", f"{exc.message}{where}", f"xml-{exc.reason}")]

    def _envelope(self, root: etree._Element, checked: SoapChecked) -> bool:
        """Envelope shape: version, Header then Body, one element in the Body. False when it cannot go on."""
        return self._plain_envelope(root, checked) or self._any_envelope(root, checked)

    def _any_envelope(self, root: etree._Element, checked: SoapChecked) -> bool:
        """`_envelope` for any document: what is wrong with it, as findings."""
        spec = self.spec
        findings = checked.findings
        ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
        if local_name(root.tag) != "Envelope" or ns not in (SOAP11_ENV, SOAP12_ENV):
            findings.append(Finding(Severity.ERROR, location_of(root), f"not a SOAP envelope: root element {root.tag!r}", "envelope"))
            return False
        if ns != spec.envelope_ns:
            got = "1.2" if ns == SOAP12_ENV else "1.1"
            findings.append(Finding(Severity.ERROR, "/Envelope", f"SOAP {got} envelope, but the binding is SOAP {spec.version} "
                                                                 f"(namespace {spec.envelope_ns})", "version"))
            return False
        children = [c for c in root if isinstance(c.tag, str)]
        names = [c.tag for c in children]
        header_tag, body_tag = f"{{{ns}}}Header", f"{{{ns}}}Body"
        if names not in ([body_tag], [header_tag, body_tag]):
            shown = ", ".join(local_name(n) for n in names) or "nothing"
            findings.append(Finding(Severity.ERROR, "/Envelope", f"an envelope holds an optional Header then a Body; this one holds {shown}", "envelope"))
            if body_tag not in names:
                return False
        checked.header = next((c for c in children if c.tag == header_tag), None)
        body = next(c for c in children if c.tag == body_tag)
        content = [c for c in body if isinstance(c.tag, str)]
        if (body.text or "").strip() or any((c.tail or "").strip() for c in content):
            findings.append(Finding(Severity.ERROR, "/Envelope/Body", "text directly inside the Body", "envelope"))
        if len(content) != 1:
            findings.append(Finding(Severity.ERROR, "/Envelope/Body", f"the Body must hold exactly one element (document/literal), "
                                                                      f"not {len(content)}", "envelope"))
            return False
        checked.content = content[0]
        return True

    def _plain_envelope(self, root: etree._Element, checked: SoapChecked) -> bool:
        """The common envelope, told with few reads of lxml's properties (each builds a Python string): this SOAP
        version's Envelope holding a Header and a Body or a Body alone, and nothing else (no comment, no text), the Body
        one element with blanks around it at most. True: `checked` has the header and content, and nothing is wrong.
        False: the general check decides (and finds what is wrong, if anything)."""
        envelope_tag, header_tag, body_tag = self._tags
        if root.tag != envelope_tag:
            return False
        parts = list(root)
        if len(parts) == 2 and parts[0].tag == header_tag and parts[1].tag == body_tag:
            header, body = parts
        elif len(parts) == 1 and parts[0].tag == body_tag:
            header, body = None, parts[0]
        else:
            return False
        content = list(body)
        if len(content) != 1 or not isinstance(content[0].tag, str):
            return False
        before, after = body.text, content[0].tail
        if (before is not None and not before.isspace()) or (after is not None and not after.isspace()):
            return False
        checked.header = header
        checked.content = content[0]
        return True

    # -- requests ---------------------------------------------------------------------------------------------
    def identify(self, content_tag: str | None, soap_action: str | None) -> tuple[str | None, list[Finding]]:
        """The operation a request is for, by SOAPAction and by body element; disagreement is an error."""
        spec = self.spec
        findings: list[Finding] = []
        by_body = spec.by_input.get(content_tag or "", [])
        action = (soap_action or "").strip().strip('"')
        if action:
            named = spec.by_action.get(action)
            if named is None:
                findings.append(Finding(Severity.ERROR, "SOAPAction", f"SOAPAction {action!r} names no operation of {self.contract.ref}", "soap-action"))
            elif by_body and named not in by_body:
                findings.append(Finding(Severity.ERROR, "SOAPAction", f"SOAPAction {action!r} is {named}'s, but the body carries "
                                                                      f"{local_name(content_tag or '')} ({' or '.join(by_body)})", "soap-action"))
                return by_body[0], findings
            elif named is not None:
                return named, findings
        if by_body:
            return by_body[0], findings
        return None, findings

    def _operation_element(self, root: etree._Element, checked: SoapChecked, envelope: bool) -> etree._Element | None:
        """The operation element: the Body's child of an envelope (None when the envelope is unusable), or `root`."""
        if envelope:
            if not self._envelope(root, checked):
                return None
        else:
            checked.content = root
        return checked.content

    def check_request(self, root: etree._Element, soap_action: str | None = None, envelope: bool = True) -> SoapChecked:
        """Findings for a request envelope (or, with envelope=False, a bare operation element)."""
        checked = SoapChecked("request", None, root=root)
        content = self._operation_element(root, checked, envelope)
        if content is None:
            return checked
        operation, found = self.identify(content.tag, soap_action)
        checked.findings.extend(found)
        if operation is None:
            where = location_of(content)
            if content.tag in self.spec.by_output:
                message = f"{local_name(content.tag)} is a response element, not a request"
            else:
                known = ", ".join(local_name(q) for q in self.spec.by_input)
                message = f"{local_name(content.tag)} is not the request element of any operation (requests: {known})"
            checked.findings.append(Finding(Severity.ERROR, where, message, "operation"))
            return checked
        checked.operation = operation
        op = self.spec.operations[operation]
        if op.input is not None and content.tag != op.input:
            checked.findings.append(Finding(Severity.ERROR, location_of(content), f"{operation} carries {local_name(op.input)}, not "
                                                                   f"{local_name(content.tag)}", "operation"))
            return checked
        self._content(checked, content)
        if envelope:
            self._headers(checked, op)
        if op.payload is not None:
            self._payloads(checked, op, content)
        return checked

    def _content(self, checked: SoapChecked, content: etree._Element) -> None:
        schema = self.spec.validator_for(content.tag)
        if schema is None:
            checked.findings.append(Finding(Severity.ERROR, location_of(content), f"no schema declares {content.tag}", "xsd"))
            return
        checked.findings.extend(xsd_findings(schema, content))

    def _headers(self, checked: SoapChecked, op: SoapOperation) -> None:
        spec = self.spec
        header = checked.header
        entries = [h for h in header if isinstance(h.tag, str)] if header is not None else []
        env = spec.envelope_ns
        for entry in entries:
            known = entry.tag in op.headers or (spec.auth is not None and entry.tag == spec.auth.header)
            if known:
                schema = spec.validator_for(entry.tag)
                if schema is not None:
                    checked.findings.extend(xsd_findings(schema, entry))
            elif entry.get(f"{{{env}}}mustUnderstand") in ("1", "true"):
                checked.findings.append(Finding(Severity.ERROR, location_of(entry), f"header {local_name(entry.tag)} has "
                                                                                    "mustUnderstand but the operation does not declare it", "must-understand"))
        if op.auth and spec.auth is not None and not any(e.tag == spec.auth.header for e in entries):
            where = "/Envelope/Header" if header is not None else "/Envelope"
            fields = ", ".join(spec.auth.credentials)
            checked.findings.append(Finding(Severity.ERROR, where, f"the {local_name(spec.auth.header)} header ({fields}) is missing", "auth"))

    def credentials(self, checked: SoapChecked) -> dict[str, str] | None:
        """The auth header's credential values (None when there is no auth header in the message)."""
        spec = self.spec
        if spec.auth is None or checked.header is None:
            return None
        for entry in checked.header:
            if isinstance(entry.tag, str) and entry.tag == spec.auth.header:
                values = {local_name(c.tag): (c.text or "").strip() for c in entry if isinstance(c.tag, str)}
                return {name: values.get(name, "") for name in spec.auth.credentials}
        return None

    def _payloads(self, checked: SoapChecked, op: SoapOperation, content: etree._Element) -> None:
        spec = self.spec
        assert op.payload is not None
        chosen: str | None = None
        if op.payload.type_field:
            fields = _find(content, op.payload.type_field)
            if fields and (fields[0].text or "").strip():
                chosen = (fields[0].text or "").strip()
                allowed = op.payload.types or tuple(spec.payload_types)
                if chosen not in allowed:
                    checked.findings.append(Finding(Severity.ERROR, location_of(fields[0]), f"unknown record type {chosen!r} "
                                                                                            f"(known: {', '.join(allowed)})", "payload-type"))
                    return
        for element in _find(content, op.payload.element):
            payload = self.payload(element, chosen, op)
            checked.payloads.append(payload)
            checked.findings.extend(payload.findings)

    def payload(self, element: etree._Element, type_name: str | None, op: SoapOperation | None = None) -> Payload:
        """Parse and validate the record carried in `element`'s text."""
        where = location_of(element)
        text = element.text or ""
        encoding = op.payload.encoding if op is not None and op.payload is not None else "text"
        if not text.strip():
            return Payload(where, type_name, None, [Finding(Severity.ERROR, where, "empty payload: a record document was expected", "payload")])
        if encoding == "base64":
            try:
                raw = base64.b64decode("".join(text.split()), validate=True)
            except (binascii.Error, ValueError):
                return Payload(where, type_name, None, [Finding(Severity.ERROR, where, "payload is not valid base64", "payload")])
            return self.validate_record(raw, type_name, where, op)
        received = _payload_text(text)
        payload = self.validate_record(received.encode("utf-8"), type_name, where, op)
        payload.text = received
        return payload

    def validate_record(self, raw: bytes, type_name: str | None = None, where: str = "",
                        op: SoapOperation | None = None) -> Payload:
        """A record document on its own (a payload's content, or a file): parse, pick its type, validate."""
        spec = self.spec
        prefix = f"{where}#" if where else ""
        try:
            root = xmlsafe.parse(raw, spec.max_bytes, max_depth=self.max_depth)
        except xmlsafe.XmlRefused as exc:
            at = f" (line {exc.line} of the record)" if exc.line else ""
            return Payload(where, type_name, None, [Finding(Severity.ERROR, where or "/", f"payload: {exc.message}{at}", f"xml-{exc.reason}")])
        by_root = spec.payload_roots.get(root.tag)
        if type_name is None:
            type_name = by_root
            allowed = op.payload.types if op is not None and op.payload is not None and op.payload.types else tuple(spec.payload_types)
            if type_name is None or type_name not in allowed:
                roots = ", ".join(local_name(spec.payload_types[t].root) for t in allowed)
                message = f"record root {local_name(root.tag)!r} is not a record type of this operation (roots: {roots})"
                return Payload(where, None, root, [Finding(Severity.ERROR, f"{prefix}/{local_name(root.tag)}", message, "payload-type")])
        expected = spec.payload_types[type_name].root
        if root.tag != expected:
            message = f"record type {type_name} has root {local_name(expected)}, not {local_name(root.tag)}"
            if root.tag.split("}")[0] != expected.split("}")[0] and local_name(root.tag) == local_name(expected):
                message = f"record type {type_name} has root {expected}, not {root.tag} (namespace)"
            return Payload(where, type_name, root, [Finding(Severity.ERROR, f"{prefix}/{local_name(root.tag)}", message, "payload-type")])
        findings = xsd_findings(spec.payload_validators[type_name], root, prefix)
        return Payload(where, type_name, root, [Finding(f.severity, f.location, f.message, "payload") for f in findings])

    # -- responses --------------------------------------------------------------------------------------------
    def check_response(self, root: etree._Element, operation: str | None = None, envelope: bool = True) -> SoapChecked:
        checked = SoapChecked("response", operation, root=root)
        content = self._operation_element(root, checked, envelope)
        if content is None:
            return checked
        if content.tag == f"{{{self.spec.envelope_ns}}}Fault":
            checked.kind = "fault"
            self._fault(checked, content)
            return checked
        owners = self.spec.by_output.get(content.tag, [])
        if not owners:
            if content.tag in self.spec.by_input:
                message = f"{local_name(content.tag)} is a request element, not a response"
            else:
                message = f"{local_name(content.tag)} is not the response element of any operation"
            checked.findings.append(Finding(Severity.ERROR, location_of(content), message, "operation"))
            return checked
        if operation is not None and operation not in owners:
            checked.findings.append(Finding(Severity.ERROR, location_of(content), f"{local_name(content.tag)} answers "
                                                                                  f"{' or '.join(owners)}, not {operation}", "operation"))
        checked.operation = operation if operation in owners else owners[0]
        self._content(checked, content)
        self._result(checked, content)
        return checked

    def _result(self, checked: SoapChecked, content: etree._Element) -> None:
        results = self.spec.results
        if results is None:
            return
        # the first child of that local name, any namespace or none: matched by lxml's child iterator in C
        code_el = next(content.iterchildren("{*}" + results.code), None)
        if code_el is None:
            return  # the XSD says whether it is required
        code = (code_el.text or "").strip()
        if results.table:
            table = self.contract.code_tables[results.table]
            if code not in table.values:
                checked.findings.append(Finding(Severity.WARNING, location_of(code_el), f"result code {code!r} is not in code table "
                                                                                        f"{results.table!r}", "result-code"))
        if code not in results.success and results.message:
            message_el = next(content.iterchildren("{*}" + results.message), None)
            if message_el is None or not (message_el.text or "").strip():
                checked.findings.append(Finding(Severity.WARNING, location_of(message_el if message_el is not None else content),
                                                f"result code {code!r} is a failure: {results.message} should say why", "result-message"))

    def _fault(self, checked: SoapChecked, fault: etree._Element) -> None:
        where = location_of(fault)
        env = SOAP12_ENV
        # (path of the code, path of the reason, how the findings name them) per SOAP version
        code_path, reason_path, code_name, reason_name = (
            ("faultcode", "faultstring", "faultcode", "faultstring") if self.spec.version == "1.1"
            else (f"{{{env}}}Code/{{{env}}}Value", f"{{{env}}}Reason/{{{env}}}Text", "Code/Value", "Reason/Text"))
        code = fault.find(code_path)
        reason = fault.find(reason_path)
        if code is None or not (code.text or "").strip():
            checked.findings.append(Finding(Severity.ERROR, f"{where}/{code_name}",
                                            f"a SOAP {self.spec.version} Fault needs {code_name}", "fault"))
        else:
            checked.fault_code = (code.text or "").strip()
        if reason is None:
            checked.findings.append(Finding(Severity.ERROR, f"{where}/{reason_name}",
                                            f"a SOAP {self.spec.version} Fault needs {reason_name}", "fault"))
        else:
            checked.fault_string = reason.text or ""

    # -- bytes in ---------------------------------------------------------------------------------------------
    def validate_request(self, raw: bytes, soap_action: str | None = None) -> SoapChecked:
        root, findings = self.parse(raw)
        if root is None:
            return SoapChecked("request", None, findings)
        return self.check_request(root, soap_action)

    def validate_response(self, raw: bytes, operation: str | None = None) -> SoapChecked:
        root, findings = self.parse(raw)
        if root is None:
            return SoapChecked("response", operation, findings)
        return self.check_response(root, operation)

    def validate_capture(self, raw: bytes) -> SoapChecked:
        """A captured file: an envelope (request, response or fault), a bare operation element, or a payload record."""
        root, findings = self.parse(raw)
        if root is None:
            return SoapChecked("unknown", None, findings)
        spec = self.spec
        if local_name(root.tag) == "Envelope" and root.tag.split("}")[0][1:] in (SOAP11_ENV, SOAP12_ENV):
            probe = SoapChecked("unknown", None, root=root)
            if not self._envelope(root, probe) or probe.content is None:
                return probe
            tag = probe.content.tag
            if tag in spec.by_input:
                return self.check_request(root)
            return self.check_response(root)
        if root.tag in spec.by_input:
            return self.check_request(root, envelope=False)
        if root.tag in spec.by_output:
            return self.check_response(root, envelope=False)
        if root.tag in spec.payload_roots:
            payload = self.validate_record(raw)
            return SoapChecked("payload", payload.type, payload.findings, root=root, payloads=[payload])
        known = [local_name(q) for q in [*spec.by_input, *spec.by_output, *spec.payload_roots]]
        message = (f"{local_name(root.tag)} is neither a SOAP envelope, an operation's element nor a record of "
                   f"{self.contract.ref} (known: {', '.join(known)})")
        return SoapChecked("unknown", None, [Finding(Severity.ERROR, location_of(root), message, "operation")], root=root)


def payload_summary(payloads: list[Payload]) -> list[dict[str, Any]]:
    """A JSON-ready view of the records of a message, for the journal."""
    return [{"location": p.location, "type": p.type, "valid": p.valid} for p in payloads]
