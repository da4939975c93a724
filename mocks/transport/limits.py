"""The input limits of the mocks' HTTP transports: body size, nesting depth, headers and Content-Type.

One `InputLimits` per served app, taken from the contract (`limits:` in contract.yaml) with safe defaults. The
HTTP server refuses oversized request heads before any app runs (`bounded_http`); the transport then checks, in
this order: the head again (for apps served in-process, without a server), the declared Content-Length, the
Content-Type a contract names, the body while it streams in, and the nesting depth of a JSON body. Each refusal is a
`Refusal`: an HTTP status, a journal finding in English and the reason in Chinese for the partner's own error answer.
The console and the admin API, small Starlette apps, get the same checks from `guard` (a smaller body limit).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import chain
from typing import Any

from harness.contract import jsonsafe
from harness.contract.findings import Finding, Severity
from harness.contract.model import Contract

DEFAULT_BODY_BYTES = 8 * 2**20
DEFAULT_HEADERS = 100
DEFAULT_HEADER_BYTES = 32 * 1024
FORM_BODY_BYTES = 64 * 1024
"""The console's forms and the admin API's calls: small by nature."""
BODY_METHODS = ("POST",)
"""Methods whose Content-Type is checked; other methods get the behaviour's own 405."""

ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused before its behaviour sees it."""

    status: int
    finding: Finding
    zh: str
    """The reason in Chinese business words, for the answer a partner's client shows its user."""
    close: bool = False
    """Close the connection after answering (the body was not read to its end)."""

    @property
    def message(self) -> str:
        return self.finding.message


@dataclass(frozen=True)
class InputLimits:
    """What one served app accepts. `content_types` are media types (empty: any); `charset`, when set, is the only
    charset parameter a Content-Type may name; `json_depth` checks JSON bodies here (XML depth is checked by the
    hardened parser, whose limit `max_depth` also sets)."""

    max_body_bytes: int = DEFAULT_BODY_BYTES
    max_depth: int = jsonsafe.DEFAULT_MAX_DEPTH
    max_headers: int = DEFAULT_HEADERS
    max_header_bytes: int = DEFAULT_HEADER_BYTES
    content_types: tuple[str, ...] = ()
    charset: str | None = None
    json_depth: bool = False

    @classmethod
    def of(cls, contract: Contract) -> InputLimits:
        """The limits a contract sets, its transport's defaults for the rest."""
        base = cls()
        if contract.transport == "http-json" and contract.http is not None:
            media, charset = parse_content_type(contract.http.content_type)
            base = replace(base, content_types=(media,), charset=charset or "utf-8", json_depth=True)
        elif contract.transport == "soap":
            from harness.contract import xmlsafe  # lxml: imported by SOAP runs only
            from harness.contract.soap import spec_of

            spec = spec_of(contract)
            base = replace(base, max_body_bytes=spec.max_bytes, max_depth=xmlsafe.DEFAULT_MAX_DEPTH,
                           content_types=(parse_content_type(spec.content_type)[0],))
        given = contract.limits
        return replace(base, max_body_bytes=given.max_body_bytes or base.max_body_bytes,
                       max_depth=given.max_depth or base.max_depth, max_headers=given.max_headers or base.max_headers,
                       max_header_bytes=given.max_header_bytes or base.max_header_bytes)

    # -- the checks -----------------------------------------------------------------------------------------------
    def check_head(self, scope: Mapping[str, Any]) -> Refusal | None:
        """Headers (count and bytes), Content-Length and Content-Type, before any of the body is read."""
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        # the server refuses oversized heads before the app runs; this is the backstop for apps served in-process
        if len(headers) > self.max_headers:
            return head_refusal(len(headers), -1, self)
        size = len(b"".join(chain.from_iterable(headers))) + 4 * len(headers) + len(scope.get("query_string", b""))
        if size > self.max_header_bytes:
            return head_refusal(len(headers), size, self)
        length = given = None
        for name, value in headers:  # ASGI servers give header names in lower case
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                given = value
        if length is not None:
            if not length.isdigit() or len(length) > 18:
                shown = length[:40].decode("latin-1")
                return Refusal(400, Finding(Severity.ERROR, "Content-Length", f"Content-Length {shown!r} is not a "
                                            "number of bytes", "content-length"), "Content-Length 不是字节数", close=True)
            if int(length) > self.max_body_bytes:
                return body_refusal(int(length), self.max_body_bytes)
        if self.content_types and scope.get("method") in BODY_METHODS:
            text = given.decode("latin-1").strip() if given is not None else None
            problem = content_type_problem(text, self.content_types, self.charset)
            if problem is not None:
                wanted = self.content_types[0] + (f"; charset={self.charset}" if self.charset else "")
                return Refusal(415, Finding(Severity.ERROR, "Content-Type", problem, "content-type"),
                               f"Content-Type 应为 {wanted}，收到的是 {text or '（无）'}")
        return None

    def check_body(self, body: bytes) -> Refusal | None:
        """The nesting depth of a JSON body (before anything parses it: Python's parser recurses per level)."""
        if not self.json_depth:
            return None
        try:
            jsonsafe.check_depth(body, self.max_depth)
        except jsonsafe.JsonRefused as refused:
            return Refusal(400, Finding(Severity.ERROR, "", refused.message, "json-depth"),
                           f"报文嵌套超过 {self.max_depth} 层")
        return None


def head_refusal(count: int, size: int, limits: InputLimits) -> Refusal:
    said = f"{count} headers" + (f" and {size} bytes" if size >= 0 else "")
    message = (f"request head of {said} is over the limit of {limits.max_headers} headers "
               f"and {limits.max_header_bytes} bytes")
    return Refusal(431, Finding(Severity.ERROR, "", message, "header-size"), "请求头过大", close=True)


def body_refusal(size: int, limit: int, read: bool = False) -> Refusal:
    said = f"over {size - 1}" if read else str(size)
    message = f"request body of {said} bytes is over the limit of {limit} bytes"
    return Refusal(413, Finding(Severity.ERROR, "", message, "body-size"),
                   f"请求报文过大（上限 {limit} 字节）", close=True)


def parse_content_type(value: str) -> tuple[str, str | None]:
    """The media type (lower case) and the charset parameter (lower case, unquoted) of a Content-Type value."""
    media, *params = value.split(";")
    charset = None
    for param in params:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip('"').lower() or None
    return media.strip().lower(), charset


@lru_cache(maxsize=256)
def content_type_problem(given: str | None, accepted: tuple[str, ...], charset: str | None = None) -> str | None:
    """Why a request's Content-Type is not one the contract accepts, or None (cached: clients repeat theirs)."""
    wanted = " or ".join(accepted) + (f"; charset={charset}" if charset else "")
    if not given:
        return f"no Content-Type: the contract's requests are sent as {wanted}"
    media, given_charset = parse_content_type(given)
    if media not in accepted:
        return f"the contract's requests are sent as {wanted}, not {given[:80]!r}"
    if charset and given_charset and given_charset.replace("_", "-") != charset:
        return f"the contract's requests are sent as {wanted}, not in charset {given_charset[:40]!r}"
    return None


async def read_body(receive: Callable[[], Awaitable[Any]], limit: int) -> bytes | Refusal | None:
    """The request body, or a refusal as soon as more than `limit` bytes came (the rest is never read); None when
    the client hung up first."""
    body = bytearray()
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body.extend(message.get("body", b""))
        more = message.get("more_body", False)
        if len(body) > limit:
            return body_refusal(len(body), limit, read=True)
    return bytes(body)


async def send_plain(send: Callable[[Any], Awaitable[None]], status: int, text: str, close: bool = False,
                     content_type: str = "text/plain; charset=utf-8") -> None:
    """A short answer from the limits layer itself (no behaviour to word it)."""
    body = text.encode("utf-8")
    headers = [(b"content-type", content_type.encode("latin-1")), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def receive_again(body: bytes, more: bool, receive: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
    """An ASGI `receive` that gives the body already read first, then goes on reading the connection."""
    given = False

    async def again() -> Any:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return again


def guard(app: ASGIApp, limits: InputLimits) -> ASGIApp:
    """Wrap a small Starlette app (console, admin API): head and body limits checked before it runs, the body read
    here, within its limit, and handed on whole, so the app never reads more than the limit."""

    async def guarded(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        refusal = limits.check_head(scope)
        if refusal is None:
            read = await read_body(receive, limits.max_body_bytes)
            if read is None:
                return
            if isinstance(read, Refusal):
                refusal = read
            else:
                refusal = limits.check_body(read)
                body = read
        if refusal is not None:
            await send_plain(send, refusal.status, f"{refusal.zh}: {refusal.message}\n", refusal.close)
            return
        await app(scope, receive_again(body, False, receive), send)

    return guarded
