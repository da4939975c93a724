"""Every HTTP port of the mocks, on the lean server (the insurance and SOAP mocks, the blood-centre console beside
them) or on uvicorn (the admin API, a mock served by uvicorn instead of the lean server), closes a connection whose
request head or body stops arriving, after the keep-alive timeout, as it closes an idle one (a stalled body is
answered 408 first); a head or body that keeps arriving in time is answered. Over real sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.contract.loader import ContractStore
from mocks.blood_center import BloodCenterMock
from mocks.insurance import InsuranceMock
from mocks.mch_platform import MchPlatformMock
from mocks.transport import lean_http
from mocks.transport import runtime as runtime_module
from mocks.transport.admin import admin_app
from mocks.transport.runtime import Runtime
from tests.conftest import CONTRACTS

TIMEOUT_S = 0.3


def _blood_center(runtime: Runtime) -> int:
    mock = BloodCenterMock(ContractStore(CONTRACTS).load("blood-center"))
    return mock.start(runtime).port


def _mch(runtime: Runtime) -> int:
    mock = MchPlatformMock(ContractStore(CONTRACTS).load("mch-platform"))
    return mock.start(runtime).port


def _admin(runtime: Runtime) -> int:
    mock = MchPlatformMock(ContractStore(CONTRACTS).load("mch-platform"))
    return runtime.serve_http(admin_app({"mch-platform": mock}), "127.0.0.1", 0).port


def _insurance(runtime: Runtime) -> int:
    return InsuranceMock(ContractStore(CONTRACTS).load("insurance")).start(runtime).port


def _insurance_on_uvicorn(runtime: Runtime) -> int:
    mock = InsuranceMock(ContractStore(CONTRACTS).load("insurance"))
    mock.lean_http = False  # what HIH_MOCK_HTTP=uvicorn gives
    return mock.start(runtime).port


def _blood_center_on_uvicorn(runtime: Runtime) -> int:
    mock = BloodCenterMock(ContractStore(CONTRACTS).load("blood-center"))
    mock.lean_http = False  # what HIH_MOCK_HTTP=uvicorn gives
    return mock.start(runtime).port


# (what listens, a request that port answers with 200 .. 499, the path its head names)
PORTS: dict[str, tuple[Callable[[Runtime], int], str]] = {
    "blood-center SOAP": (_blood_center, "/BloodCenterService?wsdl"),
    "blood-center console": (_blood_center, "/console/"),
    "mch-platform SOAP": (_mch, "/MchPlatformService?wsdl"),
    "admin API": (_admin, "/__hih/"),
    "insurance on uvicorn": (_insurance_on_uvicorn, "/fsi/api/nothing"),
    "insurance (lean server)": (_insurance, "/fsi/api/nothing"),
    "blood-center on uvicorn": (_blood_center_on_uvicorn, "/BloodCenterService?wsdl"),
}


@pytest.fixture
def served(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, str]]:
    monkeypatch.setattr(runtime_module, "KEEP_ALIVE_S", TIMEOUT_S)
    monkeypatch.setattr(lean_http, "KEEP_ALIVE_S", TIMEOUT_S)
    start, path = PORTS[request.param]
    runtime = Runtime().start()
    try:
        yield start(runtime), path
    finally:
        runtime.stop()


def _closed_within(sock: socket.socket, limit_s: float) -> float:
    """Seconds until the server closed the connection (fails when it answered or kept it past `limit_s`)."""
    started = time.monotonic()
    sock.settimeout(limit_s)
    try:
        data = sock.recv(100)
    except TimeoutError:
        pytest.fail(f"the connection was still open after {limit_s} s")
    assert data == b"", f"expected the connection closed unanswered, got {data!r}"
    return time.monotonic() - started


def _head(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


@pytest.mark.parametrize("served", list(PORTS), indirect=True)
def test_half_a_request_line_is_closed_after_the_timeout(served: tuple[int, str]) -> None:
    port, path = served
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_head(path)[:9])  # "GET /xxxx" and then silence
        waited = _closed_within(sock, 5)
    assert TIMEOUT_S * 0.8 <= waited < 3


@pytest.mark.parametrize("served", list(PORTS), indirect=True)
def test_headers_left_unfinished_after_a_reply_are_closed(served: tuple[int, str]) -> None:
    """The keep-alive timer uvicorn arms after a reply is cancelled by the next request's first bytes: the head's own
    timer takes over."""
    port, path = served
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_head(path))
        assert _status(sock) < 500
        sock.sendall(_head(path)[:-4])  # every header, never the blank line
        _closed_within(sock, 5)


@pytest.mark.parametrize("served", ["blood-center SOAP", "admin API"], indirect=True)
def test_a_connection_that_never_speaks_is_closed(served: tuple[int, str]) -> None:
    port, _ = served
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        _closed_within(sock, 5)


@pytest.mark.parametrize("served", ["blood-center SOAP", "mch-platform SOAP"], indirect=True)
def test_a_head_arriving_slowly_but_in_time_is_answered(served: tuple[int, str]) -> None:
    """Each piece comes within the timeout, the whole head takes longer than it: answered, not cut off."""
    port, path = served
    head = _head(path)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        pieces = [head[i:i + 8] for i in range(0, len(head), 8)]
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(TIMEOUT_S / 3)
        assert len(pieces) * TIMEOUT_S / 3 > TIMEOUT_S
        assert _status(sock) == 200


def _status(sock: socket.socket) -> int:
    """The status of one reply read off `sock` (its body read by content-length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a reply: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields: dict[str, Any] = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    length = int(fields.get("content-length", 0))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(lines[0].split()[1])


# what listens: the path and content type of a request whose body the app reads before it answers
BODY_PORTS: dict[str, tuple[str, str]] = {
    "blood-center SOAP": ("/BloodCenterService", "text/xml; charset=utf-8"),
    "blood-center on uvicorn": ("/BloodCenterService", "text/xml; charset=utf-8"),
    "mch-platform SOAP": ("/MchPlatformService", "text/xml; charset=utf-8"),
    "admin API": ("/__hih/mch-platform/faults", "application/json"),
    "insurance on uvicorn": ("/fsi/api/outpatientSettleService/saveSettletmentV2", "application/json"),
    "insurance (lean server)": ("/fsi/api/outpatientSettleService/saveSettletmentV2", "application/json"),
}


def _post_head(name: str, length: int) -> bytes:
    path, kind = BODY_PORTS[name]
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


@pytest.mark.parametrize("served", list(BODY_PORTS), indirect=True)
def test_a_body_that_stops_arriving_is_answered_408_and_closed(served: tuple[int, str],
                                                                request: pytest.FixtureRequest) -> None:
    """A client that announces a body and stops sending it does not hold the connection, nor the app waiting for
    the body: after the timeout a 408 names what happened and the connection closes."""
    port, _ = served
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_post_head(request.node.callspec.params["served"], 100) + b"<" * 10)
        started = time.monotonic()
        assert _status(sock) == 408
        waited = time.monotonic() - started
        _closed_within(sock, 5)
    assert TIMEOUT_S * 0.8 <= waited < 3


@pytest.mark.parametrize("served", ["blood-center SOAP", "insurance on uvicorn", "insurance (lean server)"],
                         indirect=True)
def test_a_body_arriving_slowly_but_in_time_is_answered(served: tuple[int, str],
                                                        request: pytest.FixtureRequest) -> None:
    """Each piece of the body comes within the timeout, the whole body takes longer than it: answered (whatever
    the app makes of the body), not cut off."""
    port, _ = served
    body = b'{"a": "' + b"x" * 40 + b'"}'
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_post_head(request.node.callspec.params["served"], len(body)))
        pieces = [body[i:i + 12] for i in range(0, len(body), 12)]
        for piece in pieces:
            time.sleep(TIMEOUT_S / 3)
            sock.sendall(piece)
        assert len(pieces) * TIMEOUT_S / 3 > TIMEOUT_S
        assert _status(sock) != 408  # a SOAP fault (500) or a JSON refusal: the app read the whole body
