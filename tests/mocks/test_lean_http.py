"""The mocks' lean HTTP server over real sockets: keep-alive, pipelining, bounded heads, bodies in pieces,
100-continue, chunked replies, disconnects seen by the app, failures answered 500, idle connections closed."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mocks.transport import lean_http
from mocks.transport.limits import InputLimits
from mocks.transport.runtime import Listener, Runtime
from tests.mocks.rawhttp import raw_exchange

seen: list[dict[str, Any]] = []
disconnects: list[str] = []


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echoes the body; `/stream` answers in three chunks, `/fail` raises, `/hold` waits for the client to go,
    `/early` answers without reading the body (as a refusal by the head does), `/late` reads it only after a second."""
    if scope["path"] == "/late":
        await asyncio.sleep(1.0)
    if scope["path"] == "/early":
        await send({"type": "http.response.start", "status": 415, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"early"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    seen.append({"path": scope["path"], "query": scope["query_string"], "body": body, "client": scope["client"],
                 "headers": dict(scope["headers"]), "transport": getattr(receive.__self__, "transport", None)})
    if scope["path"] == "/fail":
        raise RuntimeError("the app failed")
    if scope["path"] == "/silent":
        return
    if scope["path"] == "/hold":
        message = await receive()
        disconnects.append(message["type"])
        return
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    reply = b"echo:" + body
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(reply)).encode())]})
    await send({"type": "http.response.body", "body": reply})


@pytest.fixture
def lean() -> Iterator[Listener]:
    runtime = Runtime().start()
    seen.clear()
    disconnects.clear()
    listener = runtime.serve_http(app, limits=InputLimits(max_headers=20, max_header_bytes=2048), lean=True)
    yield listener
    runtime.stop()


def _read_replies(sock: socket.socket, count: int, timeout: float = 5) -> list[bytes]:
    sock.settimeout(timeout)
    data = b""
    replies: list[bytes] = []
    while len(replies) < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        while b"\r\n\r\n" in data:
            head, rest = data.split(b"\r\n\r\n", 1)
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
            if len(rest) < length:
                break
            replies.append(head + b"\r\n\r\n" + rest[:length])
            data = rest[length:]
    return replies


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
            + extra + b"\r\n" + body)


def test_keep_alive_and_pipelined_requests_answered_in_order(lean: Listener) -> None:
    with socket.create_connection(("127.0.0.1", lean.port)) as sock:
        sock.sendall(post("/a?x=1", b"first") + post("/b%20c", b"second") + post("/c", b""))
        replies = _read_replies(sock, 3)
        sock.sendall(post("/d", b"again"))  # the same connection, after the pipelined three
        replies += _read_replies(sock, 1)
    assert [r.split(b"\r\n\r\n")[1] for r in replies] == [b"echo:first", b"echo:second", b"echo:", b"echo:again"]
    assert all(r.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\ndate: " in r for r in replies)
    assert [s["path"] for s in seen] == ["/a", "/b c", "/c", "/d"]
    assert seen[0]["query"] == b"x=1"
    assert seen[0]["client"][0] == "127.0.0.1"
    assert seen[0]["headers"][b"host"] == b"x"  # names in lower case, as ASGI says
    assert callable(getattr(seen[0]["transport"], "abort", None))  # what the reset fault reaches the socket through


def test_a_reply_before_the_body_is_read_keeps_the_connection(lean: Listener) -> None:
    with socket.create_connection(("127.0.0.1", lean.port)) as sock:
        sock.sendall(post("/early", b"y" * 200_000))
        first = _read_replies(sock, 1)
        sock.sendall(post("/after", b"next"))  # the rest of the first body was dropped, not taken as a request
        second = _read_replies(sock, 1)
    assert first[0].startswith(b"HTTP/1.1 415 ") and first[0].endswith(b"early")
    assert second[0].endswith(b"echo:next")
    assert [s["path"] for s in seen] == ["/after"]


def test_a_body_in_pieces_is_read_whole(lean: Listener) -> None:
    body = b"x" * 300_000
    head = b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    answer = raw_exchange(lean.port, head, [body[i:i + 7000] for i in range(0, len(body), 7000)])
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert seen[0]["body"] == body


def test_a_head_over_the_limit_is_refused_431_before_the_app(lean: Listener) -> None:
    too_many = b"".join(b"X-H%d: v\r\n" % i for i in range(25))
    answer = raw_exchange(lean.port, post("/h", b"body", too_many))
    assert answer.startswith(b"HTTP/1.1 431 ")
    too_long = b"X-Long: " + b"a" * 5000 + b"\r\n"
    answer = raw_exchange(lean.port, b"POST /h HTTP/1.1\r\nHost: x\r\n" + too_long)  # the head never ends
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"connection: close" in answer.lower()
    assert seen == []


def test_what_does_not_parse_is_answered_400_and_closed(lean: Listener) -> None:
    answer = raw_exchange(lean.port, b"NOT HTTP AT ALL\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert seen == []


def test_expect_100_continue_gets_its_interim_answer(lean: Listener) -> None:
    with socket.create_connection(("127.0.0.1", lean.port), timeout=5) as sock:
        sock.sendall(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"data")
        assert _read_replies(sock, 1)[0].endswith(b"echo:data")


def test_a_reply_without_length_goes_chunked(lean: Listener) -> None:
    answer = raw_exchange(lean.port, post("/stream", b"", b"Connection: close\r\n"))
    head, body = answer.split(b"\r\n\r\n", 1)
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == b"4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n"


def test_a_failing_or_silent_app_is_answered_500(lean: Listener) -> None:
    for path in ("/fail", "/silent"):
        answer = raw_exchange(lean.port, post(path, b""))
        assert answer.startswith(b"HTTP/1.1 500 "), path


def test_the_app_hears_the_client_hang_up(lean: Listener) -> None:
    with socket.create_connection(("127.0.0.1", lean.port)) as sock:
        sock.sendall(post("/hold", b"x"))
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
    deadline = time.monotonic() + 5
    while not disconnects and time.monotonic() < deadline:
        time.sleep(0.01)
    assert disconnects == ["http.disconnect"]


def test_an_idle_connection_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lean_http, "KEEP_ALIVE_S", 0.2)
    runtime = Runtime().start()
    try:
        listener = runtime.serve_http(app, lean=True)
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
            sock.sendall(post("/i", b"1"))
            assert _read_replies(sock, 1)
            started = time.monotonic()
            assert sock.recv(10) == b""  # closed by the server
            assert time.monotonic() - started < 3
    finally:
        runtime.stop()


def test_a_head_left_unfinished_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that starts a request head and then sends nothing more is closed after the keep-alive timeout."""
    monkeypatch.setattr(lean_http, "KEEP_ALIVE_S", 0.2)
    runtime = Runtime().start()
    try:
        listener = runtime.serve_http(app, lean=True)
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
            sock.sendall(b"POST /i HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-")
            started = time.monotonic()
            assert sock.recv(10) == b""  # closed by the server, not held open
            assert time.monotonic() - started < 3
    finally:
        runtime.stop()


def test_a_body_held_back_by_a_slow_app_is_not_taken_for_a_stalled_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past HIGH_WATER the server stops reading until the app takes the body: the client's bytes wait in the kernel,
    none arrive, and that is not the client stalling. An app that reads a second late still gets the whole body."""
    monkeypatch.setattr(lean_http, "KEEP_ALIVE_S", 0.2)
    body = b"x" * (3 * lean_http.HIGH_WATER)
    runtime = Runtime().start()
    try:
        listener = runtime.serve_http(app, lean=True)
        with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as sock:
            sending = threading.Thread(target=sock.sendall, args=(post("/late", body),), daemon=True)
            sending.start()
            reply = _read_replies(sock, 1, timeout=10)[0]
            sending.join(10)
        assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"echo:" + body)
    finally:
        runtime.stop()


def test_stopping_lets_a_reply_in_progress_finish() -> None:
    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await asyncio.sleep(0.3)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        await send({"type": "http.response.body", "body": b"done"})

    runtime = Runtime().start()
    listener = runtime.serve_http(slow, lean=True)
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
        sock.sendall(post("/s", b""))
        time.sleep(0.1)
        runtime.stop()
        assert _read_replies(sock, 1)[0].endswith(b"done")
