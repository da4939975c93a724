"""uvicorn's HTTP protocol with a bound on the request head (request line and headers), for every mock listener.

uvicorn with httptools keeps reading a header line, or yet another header, for as long as a client sends one: a
200 MiB header took a mock from 31 MB to 233 MB before any app could look at it. The protocol here counts the bytes
of each request head as they arrive and the headers as they are parsed, and over either limit answers
`431 Request Header Fields Too Large` and closes the connection; the app never sees the request. Without httptools
(uvicorn falls back to h11) the h11 parser's own incomplete-event limit does the same job.

uvicorn also times out only a connection idle after a reply: one that connects and says nothing, sends half a
request line and goes silent, or announces a body and stops sending it, would hold its socket (and the app waiting
for the body) for ever. The protocol closes such a connection once nothing more has arrived for uvicorn's keep-alive
timeout (`timeout_keep_alive`), as the lean server does (`mocks.transport.lean_http`); a stalled body is first
answered `408 Request Timeout` when no reply has begun. A head or body still arriving, however slowly, is bounded by
its size (the head here, the body by the transport's limits).
"""

from __future__ import annotations

import asyncio
from typing import Any

from mocks.transport.limits import InputLimits


def _httptools_protocol() -> type[Any] | None:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is part of uvicorn[standard]; h11 then bounds the head itself
        return None
    return HttpToolsProtocol


def _answer_431(limits: InputLimits) -> bytes:
    text = (f"request head over the limit of {limits.max_headers} headers and {limits.max_header_bytes} bytes\n"
            ).encode()
    return (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(text)).encode() + b"\r\nconnection: close\r\n\r\n" + text)


def uvicorn_options(limits: InputLimits) -> dict[str, Any]:
    """The `uvicorn.Config` options that bound request heads to `limits`."""
    base = _httptools_protocol()
    if base is None:  # pragma: no cover
        return {"http": "h11", "h11_max_incomplete_event_size": limits.max_header_bytes}
    return {"http": bounded_protocol(limits, base)}


def _answer_408() -> bytes:
    text = b"request body stopped arriving before it was complete\n"
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(text)).encode() + b"\r\nconnection: close\r\n\r\n" + text)


ANSWER_408 = _answer_408()
"""What a client hears when the body it announced stops arriving (before the connection closes)."""


def bounded_protocol(limits: InputLimits, base: type[Any]) -> type[asyncio.Protocol]:
    """A subclass of uvicorn's httptools protocol (`base`) that refuses request heads over `limits` and closes a
    connection whose head or body stops arriving."""
    answer = _answer_431(limits)

    class BoundedHttpToolsProtocol(base):
        def connection_made(self, transport: Any) -> None:
            self._in_head = True
            self._in_body = False
            self._head_bytes = 0
            self._headers_seen = 0
            self._refused = False
            self._head_timer: asyncio.TimerHandle | None = None
            super().connection_made(transport)
            self._await_head()  # a connection that never sends a request is closed like an idle one

        def _await_head(self) -> None:
            """(Re)arm the close of a connection whose request head or body does not arrive in time."""
            if self._head_timer is not None:
                self._head_timer.cancel()
            self._head_timer = self.loop.call_later(self.timeout_keep_alive, self._head_timed_out)

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.transport.is_closing():
                return
            if self._in_body:
                cycle = self.cycle
                if cycle is not None and cycle.response_started and not cycle.response_complete:
                    self._await_head()  # the app answers while the body is still coming: let it finish
                    return
                if cycle is None or not cycle.response_started:
                    self.transport.write(ANSWER_408)
                self.transport.close()  # the app waiting for the body hears of the disconnect
                return
            if not self._still_in_head():
                return
            if self.cycle is not None and not self.cycle.response_complete:
                self._await_head()  # a reply is in progress (the next request was pipelined early): wait for it
                return
            self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            super().connection_lost(exc)

        def _still_in_head(self) -> bool:
            # a method, not the attribute, so that type checkers see it may have changed during the feed
            return bool(self._in_head)

        def _refuse(self) -> None:
            self._refused = True
            self.transport.write(answer)
            self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            if self._in_head:
                room = limits.max_header_bytes - self._head_bytes
                if len(data) > room:
                    # feed what the limit allows: if the head is still open after it, the head is too large
                    self._head_bytes += room
                    super().data_received(data[:room])
                    if self._refused or self.transport.is_closing():
                        return
                    if self._still_in_head():
                        self._refuse()
                        return
                    data = data[room:]
                else:
                    self._head_bytes += len(data)
            super().data_received(data)
            waiting = (self._still_in_head() and self._head_bytes) or self._in_body
            if waiting and not self._refused and not self.transport.is_closing():
                self._await_head()  # part of a head or body arrived: the rest must follow within the timeout

        def on_message_begin(self) -> None:
            if self._refused:
                return
            self._headers_seen = 0
            super().on_message_begin()

        def on_header(self, name: bytes, value: bytes) -> None:
            if self._refused:
                return
            self._headers_seen += 1
            if self._headers_seen > limits.max_headers:
                self._refuse()  # the parser finishes this buffer; every callback after this one returns at once
                return
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            if self._refused:
                return
            self._in_head = False
            self._in_body = True  # until on_message_complete, which comes in this feed when there is no body
            self._await_head()
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if not self._refused:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if self._refused:
                return
            super().on_message_complete()
            self._in_body = False
            if self._head_timer is not None:
                self._head_timer.cancel()  # the reply's keep-alive timer, then the next head's, take over
                self._head_timer = None
            self._in_head = True
            self._head_bytes = 0

    return BoundedHttpToolsProtocol
