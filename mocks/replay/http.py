"""Replay over HTTP (JSON and SOAP): a layer in front of the mock's app answers the transactions it has a recorded
answer for.

POSTs are read (within the contract's body limit), their transaction told by the codec, and answered from the
recording by a transport of their own (`HttpTransport`: limits, faults and the journal as for the mock): the
recorded status, Content-Type and body, with what the partner echoes from the request taken from this one (the
insurance platform's medins_setl_id is the request's msgid). The request is checked against the contract as the mock
checks it; the reply carries the findings the proxy made of it when recording. A POST without a recorded answer goes
to the mock itself (`--unrecorded contract`, journaled with `answered_by: contract`) or gets an error in the
protocol's words (`--unrecorded error`). Everything else (a WSDL, the blood centre's console) is the mock's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from harness.contract.codec import Wire
from mocks.base import MockService
from mocks.replay.answers import Answers, describe_unrecorded, no_answer_text
from mocks.transport.http import META_SCOPE_KEY, HttpReply, HttpRequest, HttpTransport
from mocks.transport.journal import Exchange
from mocks.transport.limits import InputLimits, Refusal, receive_again
from mocks.transport.words import protocol_error

ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def _wire(request: HttpRequest) -> Wire:
    return Wire(request.method, request.path, request.query, tuple(request.headers.items()))


class ReplayHandler:
    """The `HttpHandler` that answers from the recording."""

    def __init__(self, mock: MockService, answers: Answers, unrecorded: str) -> None:
        self.mock = mock
        self.contract = mock.contract
        self.interface = mock.interface
        self.answers = answers
        self.unrecorded = unrecorded
        self.codec = answers.codec

    def identify(self, request: HttpRequest) -> str | None:
        return self.codec.operation(self.contract, request.body, _wire(request))

    def inspect(self, request: HttpRequest, exchange: Exchange) -> None:
        seen = self.codec.check_request(self.contract, request.body, _wire(request), "from_hospital")
        exchange.request, exchange.request_findings = seen.summary, seen.findings

    async def handle(self, request: HttpRequest, exchange: Exchange) -> HttpReply:
        self.inspect(request, exchange)
        match = self.answers.find(exchange.operation, request.body)
        if match is None:
            exchange.meta["replay"] = describe_unrecorded(self.answers.folder, exchange.operation, "error")
            return protocol_error(self.contract, 200, no_answer_text(self.answers.folder, exchange.operation))
        reply = match.reply
        exchange.meta["replay"] = match.describe(self.answers.folder)
        body = self.codec.encode(self.answers.echoed(match, request.body), reply.charset)
        content_type = next((v for k, v in reply.headers if k == "content-type"), "")
        parsed: Any = {"replayed": True}
        return HttpReply(reply.status or 200, body, content_type, parsed=parsed, findings=list(reply.findings))

    def error_reply(self, request: HttpRequest, operation: str | None, message: str) -> HttpReply:
        return protocol_error(self.contract, 200, message)

    def status_reply(self, request: HttpRequest, status: int, message: str) -> HttpReply:
        return protocol_error(self.contract, status, message)

    def refuse(self, request: HttpRequest, refusal: Refusal) -> HttpReply:
        return protocol_error(self.contract, refusal.status, f"请求被拒绝：{refusal.zh}（{refusal.message}）", client=True)


class ReplayApp:
    """The ASGI layer: recorded answers first, the mock's app for the rest."""

    def __init__(self, inner: ASGIApp, mock: MockService, answers: Answers, unrecorded: str) -> None:
        self.inner = inner
        self.answers = answers
        self.unrecorded = unrecorded
        self.limits = InputLimits.of(mock.contract)
        self.transport = HttpTransport(ReplayHandler(mock, answers, unrecorded), mock.journal, mock.faults,
                                       self.limits)

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.inner(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more and len(body) <= self.limits.max_body_bytes:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body.extend(message.get("body", b""))
            more = bool(message.get("more_body", False))
        again = receive_again(bytes(body), more, receive)
        if not more and self.unrecorded == "contract":
            headers = tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope.get("headers", []))
            wire = Wire("POST", scope.get("path", ""), scope.get("query_string", b"").decode("latin-1"), headers)
            transaction = self.answers.codec.operation(self.answers.contract, bytes(body), wire)
            if self.answers.find(transaction, bytes(body), consume=False) is None:
                marked = {**scope, META_SCOPE_KEY: {"replay": describe_unrecorded(self.answers.folder, transaction,
                                                                                  "contract")}}
                await self.inner(marked, again, send)
                return
        await self.transport(scope, again, send)


def install(mock: MockService, answers: Answers, unrecorded: str) -> None:
    """Put the recording in front of an HTTP mock (before it starts)."""
    mock.front = lambda app: ReplayApp(app, mock, answers, unrecorded)
