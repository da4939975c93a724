"""The HTTP mock transport: an ASGI app that checks input limits, journals every exchange and applies faults.

The same app runs over a socket under uvicorn or in-process through `httpx.ASGITransport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.contract.findings import Finding
from harness.contract.model import Contract
from mocks.transport.faults import Fault, FaultPlan, wait_at_least
from mocks.transport.journal import Exchange, Journal
from mocks.transport.limits import InputLimits, Refusal, read_body

NO_REPLY_CAP_S = 600.0
META_SCOPE_KEY = "hih.meta"
"""An ASGI scope key whose dict goes into the exchange's journal `meta` (a layer in front says who answered)."""


class SimulatedReset(ConnectionResetError):
    """Raised in-process (no socket to reset) where a `reset` fault fires."""


class SimulatedNoReply(TimeoutError):
    """Raised in-process (no client timeout to wait for) where a `no_reply` fault fires."""


@dataclass
class HttpRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    peer: str = ""
    depth_checked: int = 0
    """The JSON nesting depth the transport already held the body to (`InputLimits.check_body`); 0: none."""


@dataclass
class HttpReply:
    """A reply with what the handler knows of it: its parsed form and its contract findings."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json;charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    parsed: Any = None
    findings: list[Finding] = field(default_factory=list)


class HttpHandler(Protocol):
    """What a partner behaviour (insurance, blood centre ...) gives the HTTP transport."""

    interface: str
    contract: Contract

    def identify(self, request: HttpRequest) -> str | None:
        """The operation a request is for (cheap, no full parse): used to match faults and label the journal."""

    async def handle(self, request: HttpRequest, exchange: Exchange) -> HttpReply:
        """Process the request, filling `exchange.request` and `exchange.request_findings`."""

    def inspect(self, request: HttpRequest, exchange: Exchange) -> None:
        """Parse and validate without acting, for requests a fault drops before processing."""

    def error_reply(self, request: HttpRequest, operation: str | None, message: str) -> HttpReply:
        """The protocol's own error answer (insurance: infcode -1; SOAP: a Fault)."""

    def status_reply(self, request: HttpRequest, status: int, message: str) -> HttpReply:
        """What a failing gateway answers with an HTTP error status."""

    def refuse(self, request: HttpRequest, refusal: Refusal) -> HttpReply:
        """The protocol's answer to a request the input limits refuse before it is parsed (`refusal.status`)."""


class DirectHandler(HttpHandler, Protocol):
    """A handler that answers by a plain call (no await inside): the lean server's direct path can use it."""

    def handle_now(self, request: HttpRequest, exchange: Exchange) -> HttpReply | asyncio.Future[HttpReply]:
        """What `handle` answers, as a plain call: the reply, or a future of it when the answer must wait (the SOAP
        partners' commit window)."""


def _connection_of(receive: Any) -> asyncio.Transport | None:
    # uvicorn passes bound methods of its per-request cycle, which holds the connection's transport.
    owner = getattr(receive, "__self__", None)
    transport = getattr(owner, "transport", None)
    # uvloop's transports are not asyncio.BaseTransport subclasses: check the shape
    return transport if callable(getattr(transport, "abort", None)) and callable(getattr(transport, "get_extra_info", None)) else None


async def _reset(receive: Any) -> None:
    transport = _connection_of(receive)
    if transport is None:
        raise SimulatedReset("connection reset by the mock (fault)")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            # SO_LINGER 0 turns the close into a TCP RST, which is what a crashed peer or a firewall sends.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    for _ in range(3):  # let uvicorn see the connection is gone before the app returns
        await asyncio.sleep(0)


async def _hold(receive: Any, cap_s: float) -> None:
    """Say nothing until the client hangs up; when the hold time runs out, close the connection unanswered."""
    transport = _connection_of(receive)
    if transport is None:
        raise SimulatedNoReply("the mock did not reply (fault)")
    deadline = time.monotonic() + cap_s
    while time.monotonic() < deadline:
        try:
            message = await asyncio.wait_for(receive(), timeout=deadline - time.monotonic())
        except TimeoutError:
            break
        if message.get("type") == "http.disconnect":
            return
    transport.close()
    for _ in range(3):  # let uvicorn see the connection is gone before the app returns
        await asyncio.sleep(0)


def reply_headers(body: bytes, content_type: str, headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """A reply's raw header list, as the transport sends it (Content-Type, Content-Length, then its own)."""
    raw = [(b"content-type", content_type.encode("latin-1")), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return raw


async def _send(send: Any, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
    raw = reply_headers(body, content_type, headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class HttpTransport:
    """ASGI app: check the input limits, read the body, apply the armed fault, let the handler answer, journal the
    exchange. `limits` default to what the handler's contract sets."""

    def __init__(self, handler: HttpHandler, journal: Journal, faults: FaultPlan, limits: InputLimits | None = None) -> None:
        self.handler = handler
        self.journal = journal
        self.faults = faults
        self.limits = limits or InputLimits.of(handler.contract)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        # Raw ASGI messages on this path: it runs for every exchange under load, where request/response objects
        # cost a measurable share of the CPU. Starlette serves the admin API.
        refusal = self.limits.check_head(scope)
        body = b""
        if refusal is None:
            read = await read_body(receive, self.limits.max_body_bytes)
            if read is None:
                return
            if isinstance(read, Refusal):
                refusal = read
            else:
                body = read
                refusal = self.limits.check_body(body)
        client = scope.get("client")
        req = HttpRequest(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            body=body,
            peer=f"{client[0]}:{client[1]}" if client else "",
            depth_checked=self.limits.max_depth if refusal is None and self.limits.json_depth else 0,
        )
        if refusal is not None:
            await self._refuse(req, refusal, send)
            return
        started = time.perf_counter()
        exchange = Exchange(self.handler.interface, "http", self.handler.identify(req), req.body, peer=req.peer)
        exchange.meta = {"method": req.method, "path": req.path, **scope.get(META_SCOPE_KEY, {})}
        fault = self.faults.take(exchange.operation)
        recorded = False

        def record() -> None:
            # Recorded before the reply (or the fault) reaches the client, so whoever reacts to it finds it journaled.
            nonlocal recorded
            if not recorded:
                recorded = True
                exchange.duration_ms = (time.perf_counter() - started) * 1000
                self.journal.record(exchange)

        try:
            reply = await self._answer(req, exchange, fault, receive, record)
            if reply is None:
                return
            exchange.status = reply.status
            exchange.response_raw = reply.body
            exchange.response = reply.parsed
            exchange.response_findings = reply.findings
            record()
            await _send(send, reply.status, reply.body, reply.content_type, reply.headers)
        finally:
            record()

    def direct_accepts(self, method: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether the direct path may take a request with this head: the handler has one, and the input limits do
        not refuse the head (a refusal by the head is answered before the body comes, by the ASGI path)."""
        return hasattr(self.handler, "handle_now") and self.limits.check_head(
            {"headers": headers, "query_string": query, "method": method}) is None

    def direct(self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes,
               client: tuple[str, int] | None) -> HttpReply | asyncio.Future[HttpReply] | None:
        """The exchange as `__call__` makes it, by a plain call from the lean server with the whole body of a request
        whose head `direct_accepts` in hand; None (nothing done, nothing journaled) when it takes the ASGI path
        instead: a handler without `handle_now`, a fault armed, or a body the input limits refuse. No scope, receive or send, no task per request: under
        load that glue cost a tenth of a settlement's CPU. A handler's future of its reply is given back as it is, and
        the exchange journaled when it is done (before the lean server's own callback writes the reply)."""
        handle_now = getattr(self.handler, "handle_now", None)
        if handle_now is None or self.faults.busy() or len(body) > self.limits.max_body_bytes \
                or self.limits.check_body(body) is not None:
            return None
        req = HttpRequest(method, path, query.decode("latin-1"),
                          {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}, body,
                          f"{client[0]}:{client[1]}" if client else "", self.limits.max_depth if self.limits.json_depth else 0)
        started = time.perf_counter()
        exchange = Exchange(self.handler.interface, "http", self.handler.identify(req), body, peer=req.peer)
        exchange.meta = {"method": method, "path": path}
        try:
            reply = handle_now(req, exchange)
        except BaseException:
            self._journal(exchange, started, None)
            raise
        if isinstance(reply, asyncio.Future):
            reply.add_done_callback(lambda done: self._journal(exchange, started, done))
            return reply
        self._journal(exchange, started, reply)
        return reply

    def _journal(self, exchange: Exchange, started: float, reply: HttpReply | asyncio.Future[HttpReply] | None) -> None:
        """Journal a direct call's exchange with its reply (a failure without one), before the reply reaches the
        client, as `__call__` does."""
        if isinstance(reply, asyncio.Future):
            reply = reply.result() if not reply.cancelled() and reply.exception() is None else None
        if reply is not None:
            exchange.status = reply.status
            exchange.response_raw = reply.body
            exchange.response = reply.parsed
            exchange.response_findings = reply.findings
        exchange.duration_ms = (time.perf_counter() - started) * 1000
        self.journal.record(exchange)

    async def _refuse(self, req: HttpRequest, refusal: Refusal, send: Any) -> None:
        """Answer a request the limits refused, in the protocol's own words, and journal it with its finding."""
        exchange = Exchange(self.handler.interface, "http", None, req.body, peer=req.peer)
        exchange.meta = {"method": req.method, "path": req.path, "refused": refusal.finding.rule}
        exchange.request_findings = [refusal.finding]
        reply = self.handler.refuse(req, refusal)
        exchange.status = reply.status
        exchange.response_raw = reply.body
        exchange.response = reply.parsed
        exchange.response_findings = reply.findings
        self.journal.record(exchange)
        headers = {**reply.headers, "connection": "close"} if refusal.close else reply.headers
        await _send(send, reply.status, reply.body, reply.content_type, headers)

    async def _answer(self, req: HttpRequest, exchange: Exchange, fault: Fault | None, receive: Any,
                      record: Callable[[], None]) -> HttpReply | None:
        if fault is None:
            return await self.handler.handle(req, exchange)
        exchange.fault = fault.kind
        if fault.kind in ("latency", "late_ack"):
            await wait_at_least(fault.delay_s)
            return await self.handler.handle(req, exchange)
        if fault.phase == "after":
            reply = await self.handler.handle(req, exchange)
        else:
            reply = None
            self.handler.inspect(req, exchange)  # dropped unprocessed, but still checked against the contract
        if fault.kind == "no_reply":
            record()
            await _hold(receive, fault.delay_s or NO_REPLY_CAP_S)
            return None
        if fault.kind == "reset":
            record()
            await _reset(receive)
            return None
        if fault.kind == "http_status":
            return self.handler.status_reply(req, fault.status, fault.message or "gateway error (fault)")
        if fault.kind == "error_reply":
            return self.handler.error_reply(req, exchange.operation, fault.message or "系统繁忙，请稍后再试 (fault)")
        if fault.kind == "malformed":
            # phase before: the request is not processed and the cut reply is an error reply
            base = reply or self.handler.error_reply(req, exchange.operation, "malformed (fault)")
            return HttpReply(base.status, base.body[: max(1, len(base.body) // 2)], base.content_type, parsed=None)
        # MLLP-only kinds do not apply to HTTP: answer normally
        return reply or await self.handler.handle(req, exchange)
