"""The lean server's direct path (`HttpTransport.direct`: the handler called with the whole request, no ASGI glue)
against the ASGI path it replaces, over real sockets: the same reply bytes (but the date) and the same journal."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.contract.findings import Finding, Severity
from mocks.transport.faults import Fault, FaultPlan
from mocks.transport.http import HttpReply, HttpRequest, HttpTransport
from mocks.transport.journal import Exchange, Journal
from mocks.transport.limits import InputLimits, Refusal
from mocks.transport.runtime import Runtime
from tests.mocks.rawhttp import raw_exchange, whole_reply

LIMITS = InputLimits(max_body_bytes=4096, content_types=("application/json",), json_depth=True, max_depth=8)
_DATE = re.compile(rb"date: [^\r]*\r\n")


class Partner:
    """A deterministic partner: what it answers depends on the path only, so two servers' bytes can be compared."""

    interface = "echo"
    contract: Any = None

    def __init__(self) -> None:
        self.calls: list[str] = []

    def identify(self, request: HttpRequest) -> str | None:
        return request.path.strip("/") or None

    def handle_now(self, request: HttpRequest, exchange: Exchange) -> HttpReply | asyncio.Future[HttpReply]:
        self.calls.append(request.path)
        exchange.request = {"size": len(request.body), "type": request.headers.get("content-type")}
        exchange.request_findings = [Finding(Severity.WARNING, "/x", "a note", "note")] if b"note" in request.body else []
        if request.path == "/fail":
            raise RuntimeError("the partner failed")
        body = b'{"echo":%d,"query":"%s"}' % (len(request.body), request.query.encode())
        headers = {"/headers": {"X-Trace": "t-1"}, "/close": {"Connection": "close"}}.get(request.path, {})
        status = 503 if request.path == "/busy" else 200
        return HttpReply(status, body, "application/json;charset=utf-8", headers, parsed={"echo": len(request.body)})

    async def handle(self, request: HttpRequest, exchange: Exchange) -> HttpReply:
        reply = self.handle_now(request, exchange)
        return await reply if isinstance(reply, asyncio.Future) else reply

    def inspect(self, request: HttpRequest, exchange: Exchange) -> None:
        exchange.request = {"inspected": True}

    def error_reply(self, request: HttpRequest, operation: str | None, message: str) -> HttpReply:
        return HttpReply(200, b'{"error":"%s"}' % message.encode())

    def status_reply(self, request: HttpRequest, status: int, message: str) -> HttpReply:
        return HttpReply(status, message.encode(), "text/plain")

    def refuse(self, request: HttpRequest, refusal: Refusal) -> HttpReply:
        return HttpReply(refusal.status, refusal.message.encode(), "text/plain")


class Served:
    """One partner behind the lean server, with or without the direct path."""

    def __init__(self, runtime: Runtime, direct: bool) -> None:
        self.partner = Partner()
        self.journal = Journal()
        self.faults = FaultPlan()
        self.transport = HttpTransport(self.partner, self.journal, self.faults, LIMITS)
        transport = self.transport

        async def asgi_only(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await transport(scope, receive, send)  # no `direct` attribute: the ASGI path

        self.port = runtime.serve_http(transport if direct else asgi_only, limits=LIMITS, lean=True).port

    def entries(self) -> list[tuple[Any, ...]]:
        return [(e.operation, e.status, e.request_raw, e.request, e.request_findings, e.response_raw, e.response,
                 e.response_findings, e.meta, e.fault, e.peer.split(":")[0]) for e in self.journal.entries()]


@pytest.fixture
def pair() -> Iterator[tuple[Served, Served]]:
    runtime = Runtime().start()
    yield Served(runtime, direct=True), Served(runtime, direct=False)
    runtime.stop()


def _post(path: str, body: bytes, extra: str = "", version: str = "1.1",
          content_type: str = "application/json") -> bytes:
    return (f"POST {path} HTTP/{version}\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


CASES: dict[str, list[bytes]] = {
    "pipelined, ending with a reply that closes": [
        _post("/ok?a=1", b'{"n":1}') + _post("/headers", b'{"note":2}') + _post("/busy", b"{}")
        + _post("/close", b'{"n":3}') + _post("/ok", b'{"never":"answered"}')],
    "a body in pieces": [_post("/ok", b'{"n":"0123456789"}')[:-12], b'0123456789"}'],
    "HTTP/1.0 closes": [_post("/ok", b'{"n":1}', version="1.0")],
    "the partner fails": [_post("/fail", b'{"n":1}') + _post("/ok", b"{}")],
    "refused by its Content-Type": [_post("/ok", b"{}", content_type="text/plain")],
    "refused by its Content-Length": [_post("/ok", b"{}")[:-2].replace(b"Content-Length: 2", b"Content-Length: 9999")],
    "refused by its depth": [_post("/ok", b"[" * 20 + b"]" * 20) + _post("/ok", b"{}")],
    "100-continue": [_post("/ok", b'{"n":1}', extra="Expect: 100-continue\r\n")[:-7], b'{"n":1}'],
}


def _exchange(port: int, pieces: list[bytes]) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(0.05)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return _DATE.sub(b"date: -\r\n", received)


def asgi_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests that go through the ASGI app (`HttpTransport.__call__`) from now on."""
    calls: list[str] = []
    original = HttpTransport.__call__

    async def counted(self: HttpTransport, scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(HttpTransport, "__call__", counted)
    return calls


@pytest.mark.parametrize("case", list(CASES))
def test_the_direct_path_answers_and_journals_as_the_asgi_path(pair: tuple[Served, Served], case: str) -> None:
    direct, asgi = pair
    got, expected = _exchange(direct.port, CASES[case]), _exchange(asgi.port, CASES[case])
    assert expected.startswith(b"HTTP/1.1 ")  # the oracle answered at all
    assert got == expected
    assert direct.entries() == asgi.entries()
    assert direct.partner.calls == asgi.partner.calls


def test_the_direct_path_is_taken_when_the_request_allows(pair: tuple[Served, Served],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    direct, _ = pair
    calls = asgi_calls(monkeypatch)
    assert _exchange(direct.port, [_post("/ok", b"{}") + _post("/ok", b"{}", content_type="text/plain")]).count(
        b"HTTP/1.1 ") == 2
    assert calls == ["/ok"]  # only the refused one went through the ASGI app
    direct.faults.add(Fault(kind="http_status", status=502, operation="ok"))
    answer = _exchange(direct.port, [_post("/ok", b"{}")])
    assert answer.startswith(b"HTTP/1.1 502 ") and calls == ["/ok", "/ok"]  # an armed fault: the ASGI path applies it
    assert [e.fault for e in direct.journal.entries()][-1] == "http_status"


def test_a_body_over_the_limit_goes_to_the_asgi_path_and_is_refused(pair: tuple[Served, Served]) -> None:
    direct, asgi = pair
    head = _post("/ok", b"")[:-2].replace(b"Content-Length: 0", b"Content-Length: 4000") + b"\r\n"
    # the declared 4,000 bytes in two writes, nested past the contract's depth limit: both refuse the same way. The
    # body was read whole, so both keep the connection open for the next request (HTTP/1.1); the exchange stops
    # reading at the end of the reply (its Content-Length) instead of waiting for a close that does not come
    got = raw_exchange(direct.port, head, [b"[" * 3000, b"]" * 1000], timeout=5, one_reply=True)
    expected = raw_exchange(asgi.port, head, [b"[" * 3000, b"]" * 1000], timeout=5, one_reply=True)
    assert whole_reply(got) and whole_reply(expected)
    assert _DATE.sub(b"", got) == _DATE.sub(b"", expected) and expected.startswith(b"HTTP/1.1 400 ")
