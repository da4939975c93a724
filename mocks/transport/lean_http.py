"""A lean HTTP/1.1 server for the HTTP mocks' ports (insurance, SOAP): httptools on an asyncio protocol, serving the
same ASGI app.

Under load uvicorn's per-request machinery (its cycle object, flow control, proxy-header middleware, the message
dictionaries it checks) cost as much CPU as the insurance mock's own settlement. This server does what the mocks
need and no more: keep-alive HTTP/1.1 (HTTP/1.0 closes), pipelined requests answered in order, a request head
bounded by bytes and header count (`431` and close, the app never sees it), bodies handed to the app as they come
(reading pauses while one waits unread), `Expect: 100-continue`, an idle connection closed after 30 s, a `400` for
what does not parse, a `500` when the app fails before answering. The ASGI surface the mocks' layers rely on is
kept: `receive` is a bound method of an object with the connection's `transport` (the `reset` and `no_reply`
faults reach the socket through it, `mocks.transport.http`), and it answers `http.disconnect` once the client is
gone. An app with a plain-call path (`HttpTransport.direct`) is handed a whole request by that call instead, no
task per request, when nothing needs the ASGI surface (no fault armed, no refusal, no `Expect` or `HEAD`). Only the
mocks' own ports use it (`Runtime.serve_http(lean=True)`: the blood centre's console, on its port, too); the admin
APIs stay on uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import httptools

from mocks.transport.bounded_http import ANSWER_408, _answer_431
from mocks.transport.http import HttpReply, reply_headers
from mocks.transport.limits import InputLimits

ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
DirectCall = Callable[[str, str, bytes, list[tuple[bytes, bytes]], bytes, tuple[str, int] | None],
                      "HttpReply | asyncio.Future[HttpReply] | None"]
KEEP_ALIVE_S = 30.0
MAX_PIPELINED = 16
"""Requests parsed ahead of the one being answered before reading pauses."""
HIGH_WATER = 1 << 20
"""Body bytes waiting unread by the app before reading pauses."""
_ASGI = {"version": "3.0", "spec_version": "2.3"}
_REASONS = {s.value: s.phrase.encode("latin-1") for s in HTTPStatus}
_BAD_REQUEST = (b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 24\r\n"
                b"connection: close\r\n\r\nInvalid HTTP request.\r\n\r\n")
_SERVER_ERROR = (b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
                 b"content-length: 21\r\nconnection: close\r\n\r\nInternal Server Error")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
log = logging.getLogger("hih.mocks.http")


class _Clock:
    """The `date` header, formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._line = b""

    def line(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._line = b"date: " + formatdate(now, usegmt=True).encode("latin-1") + b"\r\n"
        return self._line


class Cycle:
    """One request: its scope, its body as it arrives, and the reply the app sends (ASGI `receive` and `send`)."""

    __slots__ = ("conn", "transport", "scope", "chunks", "buffered", "complete", "waiter", "started", "finished",
                 "status", "headers", "chunked", "close", "expect_continue", "head_only", "given", "discard", "direct")

    def __init__(self, conn: LeanHttpProtocol, scope: dict[str, Any], close: bool, expect_continue: bool) -> None:
        self.conn = conn
        self.transport = conn.transport
        self.scope = scope
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.waiter: asyncio.Future[None] | None = None
        self.started = False
        self.finished = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunked = False
        self.close = close
        self.expect_continue = expect_continue
        self.head_only = scope["method"] == "HEAD"
        self.given = False
        """The whole body went to the app."""
        self.discard = False
        """Answered before its body was read: what is left of the body is dropped as it comes."""
        self.direct = False
        """Running, to be answered by the app's direct call once the whole body is in (no task meanwhile)."""

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def receive(self) -> dict[str, Any]:
        if not self.given:
            while not self.chunks and not self.complete and not self.conn.lost:
                if self.expect_continue:
                    self.expect_continue = False
                    self.transport.write(_CONTINUE)
                await self._wait()
            if not self.conn.lost or self.complete:
                body = self.chunks.popleft() if len(self.chunks) == 1 else b"".join(self.chunks)
                self.chunks.clear()
                self.buffered = 0
                self.conn.body_drained()
                self.given = self.complete
                return {"type": "http.request", "body": body, "more_body": not self.complete}
        # the whole body was read: wait, as ASGI says, until the client goes away (or the reply is sent)
        while not self.conn.lost and not self.finished:
            await self._wait()
        return {"type": "http.disconnect"}

    async def _wait(self) -> None:
        self.waiter = self.conn.loop.create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self.conn.lost or self.finished:
            return
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("http.response.start sent twice")
            self.started = True
            self.status = int(message["status"])
            self.headers = list(message.get("headers", ()))
            return
        if kind != "http.response.body":
            return
        if not self.started:
            raise RuntimeError("http.response.body before http.response.start")
        body: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        if self.head_only:
            body = b""
        if self.status:  # the head goes with the first body message
            self.conn.transport.write(self._head(body, more) + (self._chunk(body) if self.chunked else body))
            self.status = 0
        elif body:
            self.conn.transport.write(self._chunk(body) if self.chunked else body)
        if not more:
            if self.chunked:
                self.conn.transport.write(b"0\r\n\r\n")
            self.finished = True
            self._wake()

    @staticmethod
    def _chunk(body: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(body), body) if body else b""

    def _head(self, body: bytes, more: bool) -> bytes:
        reason = _REASONS.get(self.status, b"")
        lines = [b"HTTP/1.1 %d %s\r\n" % (self.status, reason)]
        length = False
        for name, value in self.headers:
            low = name.lower()
            if low == b"content-length":
                length = True
            elif low == b"connection" and value.lower() == b"close":
                self.close = True
                continue
            elif low == b"transfer-encoding":
                continue  # this server decides how the body is framed
            lines.append(b"%s: %s\r\n" % (name, value))
        if not length:
            if more:
                self.chunked = True
                lines.append(b"transfer-encoding: chunked\r\n")
            else:
                lines.append(b"content-length: %d\r\n" % len(body))
        lines.append(self.conn.clock.line())
        if self.close:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)


class LeanHttpProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(self, server: LeanServer) -> None:
        self.server = server
        self.app = server.app
        self.limits = server.limits
        self.clock = server.clock
        self.loop = server.loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set by connection_made
        self.lost = False
        self.refused = False
        self.in_head = True
        self.head_bytes = 0
        self.headers_seen = 0
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.parsing: Cycle | None = None
        self.running: Cycle | None = None
        self.queue: deque[Cycle] = deque()
        self.paused = False
        self.idle_since: float | None = None
        """When the connection last fell idle (no request in progress or begun); None while busy."""
        self.heard = 0.0
        """When bytes last arrived: a head begun and then left unfinished is closed like an idle connection."""
        self.client: tuple[str, int] | None = None
        self.local: tuple[str, int] | None = None

    # -- connection ------------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        self.local = (str(sock[0]), int(sock[1])) if isinstance(sock, tuple) else None
        self.idle_since = self.loop.time()
        self.server.watch_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.server.connections.discard(self)
        for cycle in (self.running, self.parsing, *self.queue):
            if cycle is not None:
                cycle._wake()

    def close_if_idle(self, before: float) -> None:
        """Close the connection when it has been idle since before `before` (the keep-alive timeout), or has begun a
        request head or body and sent nothing more since then (a client that stalls mid-request must not hold it,
        nor an app waiting for the body, for ever)."""
        since = self.idle_since
        quiet = since < before if since is not None else self.heard < before  # idle, or a head left unfinished
        if quiet and self.in_head and self.running is None and not self.queue and not self.lost:
            self.transport.close()
            return
        body = self.parsing
        # not while reading is paused (the app is behind, not the client) or a 100-continue is still owed
        if body is not None and self.heard < before and not self.paused and not body.expect_continue \
                and not self.lost:
            if self.running is body and not body.started:
                self.transport.write(ANSWER_408)
            self.transport.close()  # the app waiting for the body hears of the disconnect

    def _refuse(self, answer: bytes) -> None:
        self.refused = True
        if self.running is None:
            self.transport.write(answer)
            self.transport.close()
        else:  # answered after the reply in progress, then the connection closes
            self.server.loop.create_task(self._refuse_after(answer))

    async def _refuse_after(self, answer: bytes) -> None:
        while self.running is not None and not self.lost:
            await asyncio.sleep(0.01)
        if not self.lost:
            self.transport.write(answer)
            self.transport.close()

    # -- reading ---------------------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        self.heard = self.loop.time()
        if self.refused:
            return
        if self.in_head:
            room = self.limits.max_header_bytes - self.head_bytes
            if len(data) > room:
                # feed what the limit allows: if the head is still open after it, the head is too large
                self.head_bytes += room
                self._feed(data[:room])
                if self.refused or self.lost:
                    return
                if self._still_in_head():
                    self._refuse(self.server.answer_431)
                    return
                data = data[room:]
            else:
                self.head_bytes += len(data)
        self._feed(data)

    def _still_in_head(self) -> bool:
        # a method, not the attribute, so that type checkers see it may have changed during the feed
        return self.in_head

    def _feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(_BAD_REQUEST)
        except httptools.HttpParserError:
            self._refuse(_BAD_REQUEST)

    def on_message_begin(self) -> None:
        self.idle_since = None
        self.url = b""
        self.headers = []
        self.headers_seen = 0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.refused:
            return
        self.headers_seen += 1
        if self.headers_seen > self.limits.max_headers:
            self._refuse(self.server.answer_431)
            return
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        if self.refused:
            return
        self.in_head = False
        parsed = httptools.parse_url(self.url)
        raw_path = parsed.path
        path = raw_path.decode("ascii", "replace")
        if "%" in path:
            path = unquote(path)
        version = self.parser.get_http_version()
        keep = self.parser.should_keep_alive()
        expect = any(n == b"expect" and v.lower() == b"100-continue" for n, v in self.headers)
        scope = {
            "type": "http", "asgi": _ASGI, "http_version": version, "server": self.local, "client": self.client,
            "scheme": "http", "method": self.parser.get_method().decode("ascii"), "root_path": "", "path": path,
            "raw_path": raw_path, "query_string": parsed.query or b"", "headers": self.headers,
        }
        cycle = Cycle(self, scope, not keep, expect)
        self.parsing = cycle
        if self.running is None:
            self._begin(cycle)
        else:
            self.queue.append(cycle)
            if len(self.queue) >= MAX_PIPELINED:
                self._pause()

    def on_body(self, body: bytes) -> None:
        cycle = self.parsing
        if cycle is None or self.refused or cycle.discard:
            return
        cycle.chunks.append(body)
        cycle.buffered += len(body)
        if cycle.buffered > HIGH_WATER:
            if cycle.direct:  # too much to hold for the direct call: the app reads it as it comes (and may refuse it)
                self._start(cycle)
            self._pause()
        cycle._wake()

    def on_message_complete(self) -> None:
        if self.refused:
            return
        cycle = self.parsing
        self.parsing = None
        self.in_head = True
        self.head_bytes = 0
        if cycle is not None:
            cycle.complete = True
            cycle._wake()
            if cycle.direct:
                self._direct(cycle)

    def _pause(self) -> None:
        if not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def body_drained(self) -> None:
        if self.paused and len(self.queue) < MAX_PIPELINED:
            self.paused = False
            self.transport.resume_reading()

    # -- answering -------------------------------------------------------------------------------------------
    def _begin(self, cycle: Cycle) -> None:
        """Answer `cycle` next: by the app's direct call when it has one and the request allows (its body is then
        awaited here, not by a task), through the ASGI app otherwise."""
        if self.lost or self.transport.is_closing():
            return  # pipelined behind a reply that closed the connection: never answered, as on the ASGI path
        accepts = self.server.direct_accepts
        scope = cycle.scope
        if accepts is None or cycle.expect_continue or cycle.head_only or cycle.buffered > HIGH_WATER \
                or not accepts(scope["method"], scope["query_string"], scope["headers"]):
            self._start(cycle)
            return
        self.running = cycle
        cycle.direct = True
        if cycle.complete:
            self._direct(cycle)

    def _direct(self, cycle: Cycle) -> None:
        """The app's direct call for a whole request; the ASGI app when the call declines (None)."""
        assert self.server.direct is not None
        cycle.direct = False
        scope = cycle.scope
        body = cycle.chunks[0] if len(cycle.chunks) == 1 else b"".join(cycle.chunks)  # kept for the ASGI app
        try:
            reply = self.server.direct(scope["method"], scope["path"], scope["query_string"], scope["headers"], body,
                                       self.client)
        except Exception:
            self._failed(cycle)
            return
        if reply is None:
            self._start(cycle)
            return
        cycle.chunks.clear()
        cycle.buffered = 0
        if isinstance(reply, asyncio.Future):
            # the answer waits (a commit window): the connection stays on this request until it is in
            self.server.tasks.add(reply)
            reply.add_done_callback(lambda done: self._deferred(cycle, done))
            return
        self._write(cycle, reply)

    def _deferred(self, cycle: Cycle, done: asyncio.Future[HttpReply]) -> None:
        self.server.tasks.discard(done)
        if done.cancelled():  # the server is shutting down: its connections are cut
            cycle.started = cycle.close = True
            self._done(cycle)
        elif done.exception() is not None:
            self._failed(cycle, done.exception())
        else:
            self._write(cycle, done.result())

    def _write(self, cycle: Cycle, reply: HttpReply) -> None:
        cycle.given = cycle.started = cycle.finished = True
        if not self.lost:
            self.transport.write(self._reply_head(cycle, reply) + reply.body)
        self._done(cycle)

    def _failed(self, cycle: Cycle, error: BaseException | None = None) -> None:
        """The app failed on a direct call: a `500`, and the connection closed."""
        scope = cycle.scope
        log.error("the mock's app failed on %s %s", scope["method"], scope["path"],
                  exc_info=error if error is not None else True)
        if not self.lost and not self.transport.is_closing():
            self.transport.write(_SERVER_ERROR)
        cycle.started = cycle.close = True
        self._done(cycle)

    def _reply_head(self, cycle: Cycle, reply: HttpReply) -> bytes:
        """The head `Cycle.send` writes for this reply after the transport's `_send`, byte for byte: a prefix per
        status and content type, made once, when the reply brings no headers of its own."""
        if reply.headers:
            cycle.status = reply.status
            cycle.headers = reply_headers(reply.body, reply.content_type, reply.headers)
            return cycle._head(reply.body, False)
        key = (reply.status, reply.content_type)
        prefix = self.server.heads.get(key)
        if prefix is None:
            prefix = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: " % (
                reply.status, _REASONS.get(reply.status, b""), reply.content_type.encode("latin-1"))
            if len(self.server.heads) < 64:
                self.server.heads[key] = prefix
        close = b"connection: close\r\n\r\n" if cycle.close else b"\r\n"
        return b"%s%d\r\n%s%s" % (prefix, len(reply.body), self.clock.line(), close)

    def _start(self, cycle: Cycle) -> None:
        cycle.direct = False
        self.running = cycle
        task = self.loop.create_task(self._run(cycle))
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def _run(self, cycle: Cycle) -> None:
        failed = False
        try:
            await self.app(cycle.scope, cycle.receive, cycle.send)
        except Exception:
            log.exception("the mock's app failed on %s %s", cycle.scope["method"], cycle.scope["path"])
            failed = cycle.close = True
        if not cycle.started and not self.lost and not self.transport.is_closing():
            if not failed:
                log.error("the mock's app answered nothing to %s %s", cycle.scope["method"], cycle.scope["path"])
            self.transport.write(_SERVER_ERROR)
            cycle.started = True
        if not cycle.finished:
            cycle.close = True  # a reply cut short: the client cannot tell where the next one starts
        self._done(cycle)

    def _done(self, cycle: Cycle) -> None:
        """After a reply: close the connection, or go on with the next request."""
        self.running = None
        if self.lost:
            return
        if cycle.close or self.server.closing:
            self.transport.close()
            return
        if not cycle.complete:
            # answered before the whole body came (a refusal by its head): the rest is read and dropped, and the
            # connection stays open, as uvicorn does; closing with unread data would reset it under the reply
            cycle.discard = True
            cycle.chunks.clear()
            self.body_drained()
        if self.queue:
            self._begin(self.queue.popleft())
            self.body_drained()
        else:
            self.idle_since = self.loop.time()


class LeanServer:
    """The protocol factory for one listening socket, and what its connections share."""

    def __init__(self, app: ASGIApp, limits: InputLimits, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.limits = limits
        self.loop = loop
        self.clock = _Clock()
        self.answer_431 = _answer_431(limits)
        self.direct: DirectCall | None = getattr(app, "direct", None)
        """The app's plain-call path (`HttpTransport.direct`), when it has one."""
        self.direct_accepts: Callable[[str, bytes, list[tuple[bytes, bytes]]], bool] | None = \
            getattr(app, "direct_accepts", None) if self.direct is not None else None
        self.heads: dict[tuple[int, str], bytes] = {}
        self.connections: set[LeanHttpProtocol] = set()
        self.tasks: set[asyncio.Future[Any]] = set()
        """Requests being answered: ASGI tasks, and direct calls' replies still to come."""
        self.closing = False
        self._sweeping: asyncio.TimerHandle | None = None

    def watch_idle(self) -> None:
        """Look for idle connections every tenth of the keep-alive timeout while there are any connections (one
        timer per server, not one per request)."""
        if self._sweeping is None and not self.closing:
            self._sweeping = self.loop.call_later(KEEP_ALIVE_S / 10, self._sweep)

    def _sweep(self) -> None:
        self._sweeping = None
        before = self.loop.time() - KEEP_ALIVE_S
        for conn in list(self.connections):
            conn.close_if_idle(before)
        if self.connections:
            self.watch_idle()

    def __call__(self) -> LeanHttpProtocol:
        return LeanHttpProtocol(self)

    async def shutdown(self, server: asyncio.AbstractServer, grace_s: float = 1.0) -> None:
        """Stop accepting, close idle connections, let replies in progress finish for `grace_s`, then cut the rest."""
        self.closing = True
        if self._sweeping is not None:
            self._sweeping.cancel()
        server.close()
        for conn in list(self.connections):
            if conn.running is None:
                conn.transport.close()
        deadline = self.loop.time() + grace_s
        while self.tasks and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self.connections):
            conn.transport.abort()
        for task in list(self.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1.0)
