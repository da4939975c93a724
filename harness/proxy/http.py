"""The HTTP proxy (JSON over HTTP and SOAP): the mocks' HTTP transport in front, aiohttp's client to the upstream.

The proxy is an `HttpHandler` of `mocks.transport.http.HttpTransport`, so input limits, faults and the journal work
on it as on a mock. The upstream is reached over kept-alive connections with aiohttp's client, which adds about a
tenth of what httpx's async client adds to an exchange (a proxy's budget is 1 ms: bench/proxy_cost.py). Each
request goes to the upstream as it came (method, path under the upstream's prefix, query, body, headers less the
hop-by-hop ones and Host; the client adds none of its own); the upstream's answer comes back as it came (status,
body undecoded, headers less hop-by-hop, Date and Server, which the proxy's server writes). One exception: a WSDL or
XSD fetched through the proxy names the proxy where it named the upstream, so a SOAP client that reads it keeps
talking through the proxy.

Without `--strict`, the request is forwarded first and checked (with its reply) once the reply is on its way
back, so checking costs the hospital no time; the journal entry gets its findings then. With `--strict`, a request
that breaks the contract is refused in the protocol's words (insurance: infcode -1; SOAP: a Client fault) and never
reaches the upstream, and an upstream reply that breaks it becomes an HTTP 502 error in the same words. Only POSTs
(the transactions) are checked and recorded. Waiting for the upstream is bounded by `--timeout` (connecting by
`--connect-timeout`), a reply by `MAX_REPLY_BYTES`: past either the hospital gets a 504 or 502, and the journal and
the recording say so.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

import aiohttp
from yarl import URL

from harness.contract.codec import Seen, Wire
from harness.contract.findings import Finding, Severity
from harness.contract.model import Contract
from harness.proxy.core import Proxy, ProxyOptions, http_upstream, unreachable
from harness.proxy.record import Recorder, Side
from mocks.base import Endpoint
from mocks.transport.http import HttpReply, HttpRequest, HttpTransport
from mocks.transport.journal import MAX_FINDINGS, Exchange
from mocks.transport.limits import InputLimits, Refusal, content_type_problem, parse_content_type
from mocks.transport.runtime import Runtime
from mocks.transport.words import protocol_error

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "trailers", "transfer-encoding", "upgrade", "host", "content-length"})
SERVER_WRITES = frozenset({"content-type", "date", "server"})
"""Reply headers the proxy's own server writes: forwarding the upstream's would send them twice."""
_HOST = re.compile(r"[A-Za-z0-9.-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
MAX_CONNECTIONS = 100
MAX_REPLY_BYTES = 64 * 2**20
"""The largest upstream reply the proxy passes on (a bounded buffer); a larger one is a 502."""


class HttpProxy(Proxy):
    """A proxy for an HTTP interface, an `HttpHandler` of the mocks' HTTP transport."""

    transport = "http"

    def __init__(self, contract: Contract, options: ProxyOptions, recorder: Recorder | None = None) -> None:
        super().__init__(contract, options, recorder)
        self.base = http_upstream(options.upstream)
        self._session: aiohttp.ClientSession | None = None
        full = InputLimits.of(contract)
        self.accepted = full.content_types
        self.charset = full.charset
        # without --strict a wrong Content-Type is forwarded and reported, not refused; sizes stay bounded
        self.limits = full if options.strict else replace(full, content_types=())

    # -- serving ----------------------------------------------------------------------------------------------------
    def asgi_app(self) -> HttpTransport:
        return HttpTransport(self, self.journal, self.faults, self.limits)

    def start(self, runtime: Runtime, host: str = "127.0.0.1", port: int = 0) -> Endpoint:
        endpoint = super().start(runtime, host, port)
        assert self._listener is not None
        stop_listening = self._listener.stop

        async def stop() -> None:
            await stop_listening()
            if self._session is not None:
                await self._session.close()
                self._session = None

        self._listener.stop = stop
        return endpoint

    def session(self) -> aiohttp.ClientSession:
        """The upstream client, made on the serving loop at first use: no header of its own added, bodies as sent."""
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.options.timeout_s, connect=self.options.connect_timeout_s)
            self._session = aiohttp.ClientSession(
                timeout=timeout, auto_decompress=False, trust_env=False, cookie_jar=aiohttp.DummyCookieJar(),
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"))
        return self._session

    # -- HttpHandler ------------------------------------------------------------------------------------------------
    def identify(self, request: HttpRequest) -> str | None:
        if request.method != "POST":
            return None
        return self.codec.operation(self.contract, request.body, _wire(request))

    def inspect(self, request: HttpRequest, exchange: Exchange) -> None:
        if request.method == "POST":
            seen = self._check_request(request)
            exchange.request, exchange.request_findings = seen.summary, _capped(seen.findings)

    async def handle(self, request: HttpRequest, exchange: Exchange) -> HttpReply:
        exchange.meta["upstream"] = self.base
        if request.method != "POST":
            return self._rewritten(request, await self._forward(request, exchange))
        side = Side(request.body, _wire(request))
        seen: Seen | None = None
        if self.options.strict:
            seen = self._check_request(request)
            exchange.request, exchange.request_findings = seen.summary, _capped(seen.findings)
            side.findings = seen.findings
            if seen.errors:
                exchange.meta["refused"] = "strict"
                self._record(exchange.operation, side, None)
                first = seen.errors[0]
                return self.protocol_error(200, f"hih proxy (--strict): 请求不符合接口合同，未转发：{first.location} "
                                                f"{first.message}", client=True)
        reply = await self._forward(request, exchange)
        if "unreachable" in exchange.meta:
            if seen is None:
                seen = self._check_request(request)
                exchange.request, exchange.request_findings = seen.summary, _capped(seen.findings)
                side.findings = seen.findings
            self._record(exchange.operation, side, None)
            return reply
        back = Side(reply.body, Wire(status=reply.status, headers=(("content-type", reply.content_type),
                                                                  *reply.headers.items())))
        if not self.options.strict:
            asyncio.get_running_loop().call_soon(self._settle, request, exchange, side, back)
            return reply
        answer = self._check_reply(request, reply, exchange.operation)
        exchange.response, exchange.response_findings = answer.summary, _capped(answer.findings)
        back.findings = answer.findings
        self._record(exchange.operation, side, back)
        if answer.errors:
            exchange.meta["refused"] = "strict"
            first = answer.errors[0]
            return replace(self.protocol_error(502, f"hih proxy (--strict): 上游应答不符合接口合同，未转交："
                                                    f"{first.location} {first.message}"),
                           findings=exchange.response_findings)
        return replace(reply, findings=exchange.response_findings)

    def error_reply(self, request: HttpRequest, operation: str | None, message: str) -> HttpReply:
        return self.protocol_error(200, message)

    def status_reply(self, request: HttpRequest, status: int, message: str) -> HttpReply:
        return self.protocol_error(status, message)

    def refuse(self, request: HttpRequest, refusal: Refusal) -> HttpReply:
        return self.protocol_error(refusal.status, f"hih proxy: 请求被拒绝：{refusal.zh}（{refusal.message}）",
                                   client=True)

    # -- the protocol's words ----------------------------------------------------------------------------------------
    def protocol_error(self, status: int, message: str, client: bool = False) -> HttpReply:
        """An answer the proxy makes itself, as the partner would word it (`mocks.transport.words`)."""
        return protocol_error(self.contract, status, message, client)

    # -- forwarding ---------------------------------------------------------------------------------------------------
    async def _forward(self, request: HttpRequest, exchange: Exchange) -> HttpReply:
        url = URL(self.base + request.path + (f"?{request.query}" if request.query else ""), encoded=True)
        headers = [(k, v) for k, v in request.headers.items() if k not in HOP_BY_HOP]
        try:
            async with self.session().request(request.method, url, data=request.body or None, headers=headers,
                                              allow_redirects=False) as response:
                body = await response.content.read(MAX_REPLY_BYTES + 1)
                if len(body) > MAX_REPLY_BYTES or not response.content.at_eof():
                    return self._unreachable(exchange, 502, ValueError(f"a reply over {MAX_REPLY_BYTES} bytes"),
                                             f"上游应答超过 {MAX_REPLY_BYTES} 字节，未转交")
                kept = {k.lower(): v for k, v in response.headers.items()
                        if k.lower() not in HOP_BY_HOP and k.lower() not in SERVER_WRITES}
                return HttpReply(response.status, body, response.headers.get("content-type", ""), kept)
        except TimeoutError as exc:
            return self._unreachable(exchange, 504, exc, f"上游在 {self.options.timeout_s:g} 秒内未应答（{self.base}）")
        except aiohttp.ClientError as exc:
            return self._unreachable(exchange, 502, exc, f"无法连接上游 {self.base}：{type(exc).__name__}")

    def _unreachable(self, exchange: Exchange, status: int, exc: BaseException, zh: str) -> HttpReply:
        finding = unreachable(self.base, exc)
        exchange.meta["unreachable"] = finding.message
        # the transport journals the reply's findings as the response's
        return replace(self.protocol_error(status, f"hih proxy: {zh}"), findings=[finding])

    def _rewritten(self, request: HttpRequest, reply: HttpReply) -> HttpReply:
        """A WSDL or XSD that names the upstream names the proxy instead (as the hospital addressed it)."""
        query = request.query.lower()
        host = request.headers.get("host", "")
        if reply.status != 200 or not ("wsdl" in query or "xsd=" in query) or not _HOST.fullmatch(host):
            return reply
        upstream = URL(self.base)
        names = {self.base, f"{upstream.scheme}://{upstream.raw_authority}"}
        body = reply.body
        for name in sorted(names, key=len, reverse=True):
            body = body.replace(name.encode("utf-8"), f"http://{host}".encode())
        return replace(reply, body=body)

    # -- checking and recording ----------------------------------------------------------------------------------------
    def _check_request(self, request: HttpRequest) -> Seen:
        seen = self.codec.check_request(self.contract, request.body, _wire(request), self.direction)
        if self.accepted:
            problem = content_type_problem(request.headers.get("content-type"), self.accepted, self.charset)
            if problem is not None:
                seen.findings.insert(0, Finding(Severity.ERROR, "Content-Type", problem, "content-type"))
        return seen

    def _check_reply(self, request: HttpRequest, reply: HttpReply, operation: str | None) -> Seen:
        wire = Wire(status=reply.status, headers=(("content-type", reply.content_type),))
        seen = self.codec.check_reply(self.contract, reply.body, wire, operation, request.body, self.direction)
        media = parse_content_type(reply.content_type)[0]
        if self.accepted and reply.body and media not in self.accepted and reply.status < 300:
            seen.findings.insert(0, Finding(Severity.WARNING, "Content-Type", f"the reply is sent as "
                                            f"{reply.content_type or '(none)'}, not {' or '.join(self.accepted)}",
                                            "content-type"))
        return seen

    def _settle(self, request: HttpRequest, exchange: Exchange, side: Side, back: Side) -> None:
        """After the reply went back (no --strict): check both messages, complete the journal entry, record."""
        seen = self._check_request(request)
        exchange.request, exchange.request_findings = seen.summary, _capped(seen.findings)
        if exchange.operation is None:
            exchange.operation = seen.operation
        answer = self._check_reply(request, HttpReply(back.wire.status or 0, back.raw,
                                                      back.wire.header("content-type") or ""), exchange.operation)
        exchange.response, exchange.response_findings = answer.summary, _capped(answer.findings)
        side.findings, back.findings = seen.findings, answer.findings
        self._record(exchange.operation, side, back)

    def _record(self, operation: str | None, side: Side, back: Side | None) -> None:
        if self.recorder is not None:
            self.recorder.record(operation, side, back, self.senders)


def _wire(request: HttpRequest) -> Wire:
    return Wire(request.method, request.path, request.query, tuple(request.headers.items()))


def _capped(findings: list[Finding]) -> list[Finding]:
    return findings[:MAX_FINDINGS]

