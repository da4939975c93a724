"""The SOAP mock transport: a `SoapHandler` for the HTTP transport, driven by a `soap` contract.

`HttpTransport(SoapHandler(contract, handlers), journal, faults)` is a SOAP server: journal and faults come from the
HTTP transport. For each POST the handler parses the envelope with the hardened parser, validates it strictly
(lxml XMLSchema), checks the auth header, decodes the body with zeep into a typed request, calls the behaviour's
handler for the operation, and encodes its answer with zeep (`op.output.serialize(**data)`), validating that too.
Common request and reply shapes skip zeep's generic machinery with the same result (mocks.transport.soap_decode,
mocks.transport.soap_reply for flat replies, mocks.transport.soap_encode for nested ones).
Requests that break the contract get a SOAP Fault `Client` (auth problems `Client.Auth`) with the findings in its
detail; injected faults and handler crashes get `Server`. `GET ?wsdl` serves the WSDL with the address pointing
at the mock, `GET ?xsd=<path>` the schemas it imports.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from lxml import etree
from zeep.xsd.context import XmlParserContext
from zeep.xsd.valueobjects import CompoundValue

from harness.contract.findings import Finding, Severity
from harness.contract.model import Contract
from harness.contract.soap import SoapSpec, spec_of
from harness.contract.soap_validate import Payload, SoapChecked, SoapValidator, payload_summary
from harness.contract.soap_wsdl import BASE_MARK, local_name
from mocks.transport.faults import FaultPlan
from mocks.transport.http import HttpReply, HttpRequest, HttpTransport
from mocks.transport.journal import Exchange, Journal
from mocks.transport.limits import Refusal, content_type_problem
from mocks.transport.soap_decode import UNSUPPORTED, RequestDecoder
from mocks.transport.soap_encode import ReplyEncoder
from mocks.transport.soap_reply import ReplyTemplates

FAULT_NS = "urn:hih:soap:fault"
"""Namespace of the findings hih puts in a Fault's detail."""
MAX_DETAIL_FINDINGS = 50
_HOST = re.compile(r"[A-Za-z0-9.-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
_BODY_START = re.compile(rb"<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([\w.-]+)")
_ACTION_PARAM = re.compile(r"""action\s*=\s*"?([^";]*)"?""", re.I)
_SECRET = re.compile(r"token|password|passwd|secret|key|pwd", re.I)


class SoapFault(Exception):
    """Raise from a behaviour to answer with a SOAP Fault.

    `code` is SOAP 1.1 style, dotted: `Client`, `Client.Auth`, `Server`, `Server.Busy` (mapped to Sender/Receiver
    with a subcode on SOAP 1.2). `findings` go into the detail; `detail` is an extra element appended to it.
    """

    def __init__(self, code: str, message: str, findings: list[Finding] | None = None,
                 detail: etree._Element | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.findings = findings or []
        self.detail = detail


@dataclass
class _Pending:
    """A behaviour called: its operation and what it gave (the answer, or an awaitable of it)."""

    operation: str
    result: Any


@dataclass
class SoapContext:
    """What a behaviour's handler gets besides the typed request."""

    operation: str
    request: HttpRequest
    exchange: Exchange
    envelope: etree._Element
    content: etree._Element
    """The body's element, as parsed (lxml), for what the typed request does not show."""
    credentials: dict[str, str] | None = None
    payloads: list[Payload] = field(default_factory=list)
    """The records carried as string payloads, parsed, each with its own findings (invalid ones too)."""
    findings: list[Finding] = field(default_factory=list)
    body: Any = None
    """The typed request as the journal keeps it (JSON-ready: `plain`), for a behaviour that wants plain data. The
    journal's own object: read it, do not change it."""


Behaviour = Callable[[Any, SoapContext], "dict[str, Any] | etree._Element | Awaitable[dict[str, Any] | etree._Element]"]
"""A handler for one operation: the typed request (zeep) and the context in, the response's fields out (or, on a
hot path, the response element already built with lxml: it is validated like any answer, without zeep's encoder)."""
Authenticator = Callable[[dict[str, str], SoapContext], "str | None"]
"""Checks the auth header's credentials; returns why they are refused, or None."""


_AS_IS = frozenset({type(None), str, bool, int, float})
_LEAVES: dict[type, Callable[[Any], Any]] = {Decimal: str, datetime: datetime.isoformat, date: date.isoformat,
                                             time: time.isoformat}
_values_of = object.__getattribute__  # zeep's value objects answer attribute reads in Python: the slot directly


def plain(value: Any) -> Any:
    """zeep values as JSON-ready data for the journal: objects to dicts, decimals and dates to strings."""
    kind = type(value)
    if kind in _AS_IS:  # the common case first, without isinstance's walk of the class hierarchy
        return value
    if isinstance(value, CompoundValue):
        # a request's fields are mostly strings and numbers: kept without a call each
        return {k: v if type(v) in _AS_IS else plain(v) for k, v in _values_of(value, "__values__").items()}
    if kind is dict:  # a behaviour's answer: string keys, mostly plain values, kept without a call each
        return {k if type(k) is str else str(k): v if type(v) in _AS_IS else plain(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _AS_IS else plain(v) for v in value]
    leaf = _LEAVES.get(kind)
    if leaf is not None:
        return leaf(value)
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    values = getattr(value, "__values__", None)
    if isinstance(values, dict):
        return {k: plain(v) for k, v in values.items()}
    if isinstance(value, etree._Element):
        return etree.tostring(value, encoding="unicode")
    return str(value)


def _fault_code_parts(code: str, version: str) -> tuple[str, list[str]]:
    head, *subcodes = code.split(".")
    if version == "1.2":
        head = {"Client": "Sender", "Server": "Receiver"}.get(head, head)
    else:
        head = {"Sender": "Client", "Receiver": "Server"}.get(head, head)
    return head, subcodes


def build_fault(spec: SoapSpec, code: str, message: str, findings: list[Finding] | None = None,
                detail: etree._Element | None = None) -> tuple[int, bytes]:
    """A SOAP Fault envelope for the contract's SOAP version, and its HTTP status (1.1: 500; 1.2: 400 Sender, 500 Receiver)."""
    env = spec.envelope_ns
    nsmap = {"soap-env": env, "hih": FAULT_NS}
    envelope = etree.Element(f"{{{env}}}Envelope", nsmap=nsmap)
    body = etree.SubElement(envelope, f"{{{env}}}Body")
    fault = etree.SubElement(body, f"{{{env}}}Fault")
    head, subcodes = _fault_code_parts(code, spec.version)
    shown = (findings or [])[:MAX_DETAIL_FINDINGS]
    if spec.version == "1.1":
        etree.SubElement(fault, "faultcode").text = "soap-env:" + ".".join([head, *subcodes])
        etree.SubElement(fault, "faultstring").text = message
        detail_parent = etree.SubElement(fault, "detail") if shown or detail is not None else None
        status = 500
    else:
        code_el = etree.SubElement(fault, f"{{{env}}}Code")
        etree.SubElement(code_el, f"{{{env}}}Value").text = f"soap-env:{head}"
        parent = code_el
        for sub in subcodes:
            parent = etree.SubElement(parent, f"{{{env}}}Subcode")
            etree.SubElement(parent, f"{{{env}}}Value").text = f"hih:{sub}"
        reason = etree.SubElement(fault, f"{{{env}}}Reason")
        text = etree.SubElement(reason, f"{{{env}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "zh")
        text.text = message
        detail_parent = etree.SubElement(fault, f"{{{env}}}Detail") if shown or detail is not None else None
        status = 400 if head == "Sender" else 500
    if detail_parent is not None:
        if shown:
            holder = etree.SubElement(detail_parent, f"{{{FAULT_NS}}}findings")
            for finding in shown:
                item = etree.SubElement(holder, f"{{{FAULT_NS}}}finding", severity=finding.severity.value,
                                        location=finding.location, rule=finding.rule)
                item.text = finding.message
            if findings and len(findings) > len(shown):
                holder.set("more", str(len(findings) - len(shown)))
        if detail is not None:
            detail_parent.append(detail)
    return status, etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


class SoapHandler:
    """An `HttpHandler` that plays a SOAP service from its contract; the behaviour gives one handler per operation.

    `authenticate(credentials, context)` checks the auth header's values (None: any present header passes).
    `payload_errors`: "handler" lets the behaviour answer invalid string-carried records itself (per-record
    results, partial success), "fault" answers them with a Client fault like any other invalid request.
    `faults`: the mock's fault plan, read for the `code` of an injected `error_reply` (default `Server`).
    `plain_requests`: operations whose handler is given the request as the journal keeps it (`plain` data, also
    `context.body`) instead of zeep's typed values: decoded straight into that form, without value objects.
    """

    def __init__(self, contract: Contract, handlers: dict[str, Behaviour], *, interface: str | None = None,
                 authenticate: Authenticator | None = None, payload_errors: str = "handler",
                 faults: FaultPlan | None = None, plain_requests: frozenset[str] = frozenset()) -> None:
        if payload_errors not in ("handler", "fault"):
            raise ValueError("payload_errors is 'handler' or 'fault'")
        self.contract = contract
        self.spec = spec_of(contract)
        self.validator = SoapValidator(contract)
        self.handlers = dict(handlers)
        unknown = sorted(set(self.handlers) - set(self.spec.operations))
        if unknown:
            raise ValueError(f"handlers for operations {contract.ref} does not have: {', '.join(unknown)}")
        self.interface = interface or contract.interface
        self.authenticate = authenticate
        self.payload_errors = payload_errors
        self.faults = faults
        self.plain_requests = plain_requests
        self._by_local: dict[str, str] = {}
        for name, op in self.spec.operations.items():
            if op.input:
                self._by_local.setdefault(local_name(op.input), name)
        self._settings = self.spec.document.settings
        self._replies: dict[str, ReplyTemplates] = {}
        self._decoders: dict[str, RequestDecoder] = {}
        self._encoders: dict[str, ReplyEncoder] = {}

    def _context(self) -> XmlParserContext:
        # What XmlParserContext(settings) builds, without its `settings or Settings()`: zeep's Settings answers
        # truth tests through a thread-local lookup that costs more than the rest of the context
        context: XmlParserContext = XmlParserContext.__new__(XmlParserContext)
        context.schemas = []
        context.settings = self._settings
        return context

    # -- HttpHandler ----------------------------------------------------------------------------------------
    def identify(self, request: HttpRequest) -> str | None:
        """SOAPAction (or the SOAP 1.2 action parameter), else the body's first element by local name."""
        action = self._action(request)
        if action and action in self.spec.by_action:
            return self.spec.by_action[action]
        if request.method != "POST":
            return None
        match = _BODY_START.search(request.body[:4096])
        return self._by_local.get(match.group(1).decode("ascii", "replace")) if match else None

    def _action(self, request: HttpRequest) -> str | None:
        if "soapaction" in request.headers:
            return request.headers["soapaction"].strip().strip('"')
        match = _ACTION_PARAM.search(request.headers.get("content-type", ""))
        return match.group(1).strip() if match else None

    def inspect(self, request: HttpRequest, exchange: Exchange) -> None:
        if request.method == "POST":
            self._check(request, exchange)

    async def handle(self, request: HttpRequest, exchange: Exchange) -> HttpReply:
        if request.method != "POST":
            return self._not_posted(request)
        checked = self._check(request, exchange)
        if isinstance(checked, HttpReply):
            return checked
        return await self._call(exchange, *checked)

    def handle_now(self, request: HttpRequest, exchange: Exchange) -> HttpReply | asyncio.Future[HttpReply]:
        """What `handle` answers, by a plain call (the lean server's direct path: no ASGI scope, receive or send):
        the reply, or a future of it when the behaviour waits (a commit window), run as one task from the behaviour
        down rather than from the ASGI app down."""
        if request.method != "POST":
            return self._not_posted(request)
        checked = self._check(request, exchange)
        if isinstance(checked, HttpReply):
            return checked
        started = self._start_call(exchange, *checked)
        if not isinstance(started, _Pending):
            return started
        result = started.result
        if isinstance(result, asyncio.Future):  # a behaviour's future (a commit window's): the reply chained to it
            if result.done() and not result.cancelled():
                return self._settled(exchange, started.operation, result)
            reply: asyncio.Future[HttpReply] = result.get_loop().create_future()
            result.add_done_callback(lambda done: self._chained(exchange, started.operation, done, reply))
            return reply
        if not inspect.isawaitable(result):
            return self._answer(exchange, started.operation, result)
        return asyncio.ensure_future(self._finish(exchange, started.operation, result))

    def _settled(self, exchange: Exchange, operation: str, done: asyncio.Future[Any]) -> HttpReply:
        """The reply for a behaviour's settled future, as `_finish` gives it for an awaited answer."""
        error = done.exception()
        if error is None:
            return self._answer(exchange, operation, done.result())
        if not isinstance(error, Exception):
            raise error
        return self._failed(exchange, operation, error)

    def _chained(self, exchange: Exchange, operation: str, done: asyncio.Future[Any],
                 reply: asyncio.Future[HttpReply]) -> None:
        """A behaviour's future settled: its reply into `reply` (cancelled with it; nothing when `reply` was
        cancelled meanwhile: the server is shutting down)."""
        if reply.done():
            return
        if done.cancelled():
            reply.cancel()
            return
        try:
            reply.set_result(self._settled(exchange, operation, done))
        except BaseException as exc:  # noqa: BLE001 - as a task would: the waiting server answers for it
            reply.set_exception(exc)

    def _not_posted(self, request: HttpRequest) -> HttpReply:
        if request.method in ("GET", "HEAD"):
            return self._get(request)
        reply = self._fault("Client", f"method {request.method} not allowed: POST a SOAP envelope", status=405)
        reply.headers["allow"] = "GET, POST"
        return reply

    def error_reply(self, request: HttpRequest, operation: str | None, message: str) -> HttpReply:
        """An injected SOAP Fault: `Server` unless the armed fault names a `code` (e.g. `Server.Busy`, `Client`)."""
        code = "Server"
        if self.faults is not None:
            fired = [f for f in self.faults.fired if f.kind == "error_reply" and f.operation in (None, operation)]
            if fired and fired[-1].code:
                code = fired[-1].code
        return self._fault(code, message)

    def status_reply(self, request: HttpRequest, status: int, message: str) -> HttpReply:
        """What a failing web server or gateway in front of the service answers: an HTML error page."""
        # shaped like nginx's error page: HTML, not XML (the <hr> is never closed), so clients cannot take it for SOAP
        body = (f"<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>HTTP {status}</h1></center>\r\n"
                f"<p>{_html(message)}</p>\r\n<hr><center>hih mock</center>\r\n</body>\r\n</html>\r\n")
        return HttpReply(status, body.encode("utf-8"), "text/html; charset=utf-8", parsed={"http_status": status, "message": message})

    def refuse(self, request: HttpRequest, refusal: Refusal) -> HttpReply:
        """A Client fault carrying the limit's finding, with the refusal's HTTP status (413, 415, 431, 400)."""
        return self._fault("Client", f"request refused: {refusal.message}", [refusal.finding], status=refusal.status)

    # -- serving the WSDL -----------------------------------------------------------------------------------
    def base_url(self, request: HttpRequest) -> str:
        host = request.headers.get("host", "")
        if not _HOST.fullmatch(host):
            host = "127.0.0.1"
        return f"http://{host}{self.spec.path}"

    def _get(self, request: HttpRequest) -> HttpReply:
        query = {k.lower(): v for k, v in parse_qs(request.query, keep_blank_values=True).items()}
        if request.path.rstrip("/") != self.spec.path.rstrip("/"):
            return HttpReply(404, f"no service at {request.path}; the WSDL is at {self.spec.path}?wsdl\n".encode(),
                             "text/plain; charset=utf-8")
        if "wsdl" in query or request.query.lower() == "wsdl":
            text = self.spec.served[self.spec.wsdl]
        elif "xsd" in query and query["xsd"] and query["xsd"][0] in self.spec.served:
            text = self.spec.served[query["xsd"][0]]
        else:
            return HttpReply(404, f"ask {self.spec.path}?wsdl for the WSDL\n".encode(), "text/plain; charset=utf-8")
        body = text.replace(BASE_MARK.encode(), self.base_url(request).encode())
        return HttpReply(200, body, "text/xml; charset=utf-8", parsed={"served": request.query})

    # -- requests -------------------------------------------------------------------------------------------
    def _fault(self, code: str, message: str, findings: list[Finding] | None = None, status: int | None = None,
               detail: etree._Element | None = None) -> HttpReply:
        fault_status, body = build_fault(self.spec, code, message, findings, detail)
        fault: dict[str, Any] = {"code": code, "string": message}
        if findings:
            fault["findings"] = [f.to_dict() for f in findings[:MAX_DETAIL_FINDINGS]]
        parsed = {"fault": fault}
        return HttpReply(status or fault_status, body, self.spec.content_type, parsed=parsed)

    def _check(self, request: HttpRequest, exchange: Exchange) -> HttpReply | tuple[SoapChecked, SoapContext]:
        """Content type, hardened parse, envelope, operation, auth (before the schema, so that an unknown caller
        learns nothing about it) and XSD; a fault reply, or the checked request and the handler's context."""
        spec = self.spec
        if request.path.rstrip("/") != spec.path.rstrip("/"):
            finding = Finding(Severity.ERROR, "", f"no SOAP service at {request.path} (it is at {spec.path})", "path")
            exchange.request_findings = [finding]
            return self._fault("Client", finding.message, [finding], status=404)
        wanted = "text/xml" if spec.version == "1.1" else "application/soap+xml"
        problem = content_type_problem(request.headers.get("content-type"), (wanted,))
        if problem is not None:
            finding = Finding(Severity.ERROR, "Content-Type", f"SOAP {spec.version}: {problem}", "content-type")
            exchange.request_findings = [finding]
            return self._fault("Client", finding.message, [finding], status=415)
        findings: list[Finding] = []
        if spec.version == "1.1" and "soapaction" not in request.headers:
            findings.append(Finding(Severity.WARNING, "SOAPAction", "SOAP 1.1 requests carry a SOAPAction HTTP header (WS-I BP R1109)", "soap-action"))
        root, refused = self.validator.parse(request.body)
        if root is None:
            exchange.request_findings = findings + refused
            return self._fault("Client", f"request refused: {refused[0].message}", refused)
        checked = self.validator.check_request(root, self._action(request))
        checked.findings[:0] = findings
        exchange.request_findings = checked.findings
        exchange.operation = checked.operation or exchange.operation
        exchange.request = {"operation": checked.operation, "payloads": payload_summary(checked.payloads)}
        errors = [f for f in checked.findings if f.severity is Severity.ERROR]
        auth_errors = [f for f in errors if f.rule == "auth"]
        assert spec.auth is not None or not auth_errors
        if checked.operation is None or any(f.rule in ("envelope", "version", "operation", "soap-action") for f in errors):
            first = next(f for f in errors if f.rule in ("envelope", "version", "operation", "soap-action"))
            if first.rule == "version":
                return self._fault("VersionMismatch", first.message, errors)
            return self._fault("Client", first.message, errors)
        if auth_errors:
            return self._fault(spec.auth.fault_code if spec.auth else "Client.Auth", auth_errors[0].message, auth_errors)
        assert checked.root is not None and checked.content is not None
        context = SoapContext(checked.operation, request, exchange, checked.root, checked.content,
                              self.validator.credentials(checked), checked.payloads, checked.findings)
        if spec.operations[checked.operation].auth and self.authenticate is not None:
            refusal = self.authenticate(context.credentials or {}, context)
            if refusal:
                finding = Finding(Severity.ERROR, "/Envelope/Header", refusal, "auth")
                exchange.request_findings = [*checked.findings, finding]
                return self._fault(spec.auth.fault_code if spec.auth else "Client.Auth", refusal, [finding])
        in_payloads = {id(f) for p in checked.payloads for f in p.findings}
        contract_errors = [f for f in errors if self.payload_errors == "fault"
                           or not (id(f) in in_payloads or f.rule.startswith("payload"))]
        if contract_errors:
            more = f" (and {len(contract_errors) - 1} more)" if len(contract_errors) > 1 else ""
            first = contract_errors[0]
            return self._fault("Client", f"{first.location}: {first.message}{more}", contract_errors)
        return checked, context

    async def _call(self, exchange: Exchange, checked: SoapChecked, context: SoapContext) -> HttpReply:
        started = self._start_call(exchange, checked, context)
        if not isinstance(started, _Pending):
            return started
        if inspect.isawaitable(started.result):
            return await self._finish(exchange, started.operation, started.result)
        return self._answer(exchange, started.operation, started.result)

    def _start_call(self, exchange: Exchange, checked: SoapChecked, context: SoapContext) -> HttpReply | _Pending:
        """Decode the body, journal the request and call the behaviour: a fault reply, or what the behaviour gave
        (its answer, or an awaitable of it)."""
        spec = self.spec
        operation = context.operation
        zeep_op = spec.zeep_operation(operation)
        decoder = self._decoders.get(operation)
        if decoder is None:
            decoder = self._decoders[operation] = RequestDecoder(zeep_op.input.body)
        try:
            journaled = decoder.decode_plain(checked.content) if operation in self.plain_requests else UNSUPPORTED
            if journaled is not UNSUPPORTED:
                typed = journaled
            else:
                typed = decoder.decode(checked.content)
                if typed is UNSUPPORTED:
                    typed = zeep_op.input.body.parse(checked.content, zeep_op.input.wsdl.types, context=self._context())
                journaled = plain(typed)
                if operation in self.plain_requests:
                    typed = journaled
        except Exception as exc:  # noqa: BLE001 - zeep's decoding errors have many types; all are the request's fault
            finding = Finding(Severity.ERROR, "/Envelope/Body", f"cannot decode the body: {exc}", "decode")
            exchange.request_findings = [*checked.findings, finding]
            return self._fault("Client", finding.message, [finding])
        context.body = journaled
        exchange.request = {"operation": operation, "auth": _masked(context.credentials), "body": context.body,
                            "payloads": exchange.request["payloads"]}
        handler = self.handlers.get(operation)
        if handler is None:
            return self._fault("Server", f"operation {operation} is not implemented by this mock")
        try:
            return _Pending(operation, handler(typed, context))
        except Exception as exc:  # noqa: BLE001 - a behaviour's refusal or crash: answered as `_failed` says
            return self._failed(exchange, operation, exc)

    async def _finish(self, exchange: Exchange, operation: str, result: Awaitable[Any]) -> HttpReply:
        """The reply once the behaviour's awaitable answer is in."""
        try:
            data = await result
        except Exception as exc:  # noqa: BLE001 - a behaviour's refusal or crash: answered as `_failed` says
            return self._failed(exchange, operation, exc)
        return self._answer(exchange, operation, data)

    def _answer(self, exchange: Exchange, operation: str, data: Any) -> HttpReply:
        return self.encode(operation, data if isinstance(data, etree._Element) else data or {})

    def _failed(self, exchange: Exchange, operation: str, exc: Exception) -> HttpReply:
        """A `SoapFault` raised by the behaviour as its Fault; any other error as a Server fault, its trace kept."""
        if isinstance(exc, SoapFault):
            return self._fault(exc.code, exc.message, exc.findings, detail=exc.detail)
        exchange.meta["error"] = "".join(traceback.format_exception(exc, limit=8))
        return self._fault("Server", f"internal error in the mock's {operation}: {type(exc).__name__}: {exc}")

    def encode(self, operation: str, data: dict[str, Any] | etree._Element) -> HttpReply:
        """The response envelope for `data` (zeep, or the template zeep's first answer left: mocks.transport.soap_reply),
        validated strictly like a request; encoding errors are Server faults.

        `data` may be the response element built with lxml (a behaviour's hot path): it goes in the Body as it is.
        """
        zeep_op = self.spec.zeep_operation(operation)
        if self.spec.operations[operation].output is None:
            return HttpReply(202, b"", self.spec.content_type, parsed={"operation": operation, "one_way": True})
        if isinstance(data, etree._Element):
            return self._encode_element(operation, data)
        templates = self._replies.get(operation)
        if templates is None:
            templates = self._replies[operation] = ReplyTemplates(zeep_op.output)
        envelope = templates.build(data)
        if envelope is None and templates.elements:
            pass  # flat: zeep's first answer of each set of fields becomes the template
        elif envelope is None:
            encoder = self._encoders.get(operation)
            if encoder is None:
                encoder = self._encoders[operation] = ReplyEncoder(zeep_op.output, self.spec.envelope_ns)
            envelope = encoder.build(data)
        if envelope is None:
            try:
                message = zeep_op.output.serialize(**data)
            except Exception as exc:  # noqa: BLE001 - zeep raises TypeError, ValidationError ...: the mock's own bug
                finding = Finding(Severity.ERROR, "/Envelope/Body", f"the mock's answer does not fit the WSDL: {exc}", "encode")
                reply = self._fault("Server", finding.message, [finding])
                reply.findings = [finding]
                return reply
            envelope = message.content
            templates.learn(data, envelope)
        body = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        checked = self.validator.check_response(envelope, operation)
        return HttpReply(200, body, self.spec.content_type, parsed={"operation": operation, "body": plain(data)},
                         findings=checked.findings)


    def _encode_element(self, operation: str, element: etree._Element) -> HttpReply:
        env = self.spec.envelope_ns
        body = element.getparent()
        envelope = body.getparent() if body is not None else None
        # an answer copied from a template already inside its envelope (this SOAP version's Envelope, as the root,
        # holding only a Body holding only the answer) goes as it is: no envelope made and the answer moved into it
        if envelope is None or body is None or envelope.getparent() is not None \
                or envelope.tag != f"{{{env}}}Envelope" or body.tag != f"{{{env}}}Body" or len(envelope) != 1 \
                or len(body) != 1 or envelope.text or body.text or element.tail or body.tail \
                or dict(envelope.nsmap) != {"soap-env": env} or envelope.attrib or body.attrib:
            envelope = etree.Element(f"{{{env}}}Envelope", nsmap={"soap-env": env})
            etree.SubElement(envelope, f"{{{env}}}Body").append(element)
        body = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        checked = self.validator.check_response(envelope, operation)
        # the journal keeps the top-level fields (ResultCode, ResultMessage ...); the raw reply has the rest
        summary = {child.tag.rpartition("}")[2]: child.text for child in element
                   if len(child) == 0 and isinstance(child.tag, str)}
        return HttpReply(200, body, self.spec.content_type, parsed={"operation": operation, "body": summary},
                         findings=checked.findings)


def _masked(credentials: dict[str, str] | None) -> dict[str, str] | None:
    if credentials is None:
        return None
    return {k: ("***" if _SECRET.search(k) and v else v) for k, v in credentials.items()}


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def soap_app(contract: Contract, handlers: dict[str, Behaviour], journal: Journal, faults: FaultPlan,
             **options: Any) -> HttpTransport:
    """The ASGI app of a SOAP mock: `HttpTransport` around a `SoapHandler` (options as SoapHandler's)."""
    return HttpTransport(SoapHandler(contract, handlers, faults=faults, **options), journal, faults)
