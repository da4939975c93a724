"""The MLLP proxy over real sockets: in front of a real `hih mock serve --interface lis` process and in front of the
`hl7` PyPI package's asyncio MLLP server; the LIS reference connector's traffic recorded without findings and
masked, --strict answering AR itself, an upstream that is down or silent ending the connection within the time
allowed, never a hang."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import hl7
import hl7.mllp
import pytest

from harness.contract import recording
from harness.proxy.core import Proxy
from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Peer
from tests.proxy.conftest import lis_flow, mock_serve, recorded

pytestmark = pytest.mark.slow


def port_of(proxy: Proxy) -> int:
    assert proxy.endpoint is not None
    return proxy.endpoint.port


@contextmanager
def hl7_server(answer: Callable[[hl7.Message], hl7.Message | None]) -> Iterator[tuple[int, list[hl7.Message]]]:
    """The `hl7` package's asyncio MLLP server on its own loop and thread: each message received is kept and answered
    with `answer(message)` (None: never answered). Yields its port and the messages received."""
    received: list[hl7.Message] = []
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, asyncio.Server] = {}

    async def on_connection(reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter) -> None:
        try:
            while not writer.is_closing():
                message = await reader.readmessage()
                received.append(message)
                reply = answer(message)
                if reply is not None:
                    writer.writemessage(reply)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def begin() -> None:
        holder["server"] = await hl7.mllp.start_hl7_server(on_connection, "127.0.0.1", 0, encoding="utf-8")
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(begin(), loop)
    assert ready.wait(5), "the hl7 package's server did not start"
    server = holder["server"]
    try:
        yield server.sockets[0].getsockname()[1], received
    finally:
        async def end() -> None:
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(end(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def lab_ack(message: hl7.Message) -> hl7.Message:
    """What a laboratory system answers: AA to the message's MSH-10, as the lis contract's ACK."""
    control = str(message.segment("MSH")[10])
    trigger = str(message.segment("MSH")[9][0][1])
    return hl7.parse(m.ack(acked=control, trigger=trigger, control=f"LAB{control[-8:]}"))


def test_the_lis_reference_connector_through_the_proxy_records_without_findings(
        tmp_path: Path, proxy_on: Callable[..., Proxy]) -> None:
    with mock_serve("lis", tmp_path) as upstream:
        proxy = proxy_on("lis", upstream.where, record=tmp_path / "rec")
        result = lis_flow("127.0.0.1", port_of(proxy))
        upstream_saw = [e["operation"] for e in upstream.journal("lis")]
    proxy.recorder.close()  # type: ignore[union-attr]

    assert (result["adt"], result["order"]) == ("AA", "AA") and result["order_control"] == "OK"
    exchanges = recorded(tmp_path / "rec")
    assert exchanges and [e.transaction for e in exchanges] == upstream_saw
    assert all(e.reply is not None for e in exchanges)
    assert [(e.transaction, str(f)) for e in exchanges for x in (e.request, e.reply) if x for f in x.findings] == []
    text = (tmp_path / "rec" / recording.LINES).read_text(encoding="utf-8")
    assert "110101199003077777" not in text and "张三" not in text, "identifiers are masked in the recording"
    assert all(e.request.sender == "hospital" and e.reply and e.reply.sender == "partner" for e in exchanges)
    entries = proxy.journal.entries()
    assert [e.operation for e in entries] == upstream_saw
    assert all(not e.request_findings and not e.response_findings for e in entries)


def test_in_front_of_the_hl7_packages_asyncio_server_messages_pass_unchanged(
        tmp_path: Path, proxy_on: Callable[..., Proxy]) -> None:
    with hl7_server(lab_ack) as (port, received):
        proxy = proxy_on("lis", f"127.0.0.1:{port}", record=tmp_path / "rec")
        result = lis_flow("127.0.0.1", port_of(proxy))
        sent = m.lis_adt(control="HIS9001")
        peer = Peer(port_of(proxy))
        peer.message(sent)
        answered = peer.ack(timeout=5)
        peer.close()
    proxy.recorder.close()  # type: ignore[union-attr]

    assert result["adt"] == "AA"
    assert str(received[-1]).replace("\n", "\r").rstrip("\r") == sent.rstrip("\r"), "forwarded as sent"
    assert str(received[0].segment("PID")[5]) == "张三", "the partner gets the real name; only the recording masks"
    assert answered.get("MSA-1") == "AA" and answered.get("MSA-2") == "HIS9001"
    exchanges = recorded(tmp_path / "rec")
    assert len(exchanges) == len(received) >= 3
    assert [str(f) for e in exchanges if e.transaction and e.transaction.startswith("ADT")
            for x in (e.request, e.reply) if x for f in x.findings] == []


def test_strict_answers_ar_itself_and_never_forwards_the_invalid_message(
        tmp_path: Path, proxy_on: Callable[..., Proxy]) -> None:
    broken = "\r".join(s for s in m.lis_adt(control="HIS9002").split("\r") if not s.startswith("PID")) + "\r"
    with hl7_server(lab_ack) as (port, received):
        proxy = proxy_on("lis", f"127.0.0.1:{port}", strict=True, record=tmp_path / "rec")
        peer = Peer(port_of(proxy))
        peer.message(broken)
        answered = peer.ack(timeout=5)
        peer.message(m.lis_adt(control="HIS9003"))
        accepted = peer.ack(timeout=5)
        peer.close()
    proxy.recorder.close()  # type: ignore[union-attr]

    assert answered.get("MSA-1") == "AR" and answered.get("MSA-2") == "HIS9002"
    assert "PID" in answered.to_er7(), "the AR names what is missing"
    assert accepted.get("MSA-1") == "AA" and accepted.get("MSA-2") == "HIS9003"
    assert [str(x.segment("MSH")[10]) for x in received] == ["HIS9003"], "the partner never saw the invalid one"
    refused = proxy.journal.entries()[0]
    assert refused.meta["refused"] == "strict" and refused.request_findings
    first = recorded(tmp_path / "rec")[0]
    assert first.reply is None and first.request.findings


def test_an_upstream_that_is_down_closes_the_connection_at_once_and_journals_why(
        proxy_on: Callable[..., Proxy]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proxy = proxy_on("lis", f"127.0.0.1:{port}", connect_timeout_s=1)
    peer = Peer(port_of(proxy))
    started = time.monotonic()
    peer.message(m.lis_adt(control="HIS9004"))

    closed = peer.closed_within(5)
    waited = time.monotonic() - started
    nothing = peer.read(1, timeout=0.1)
    peer.close()

    assert closed and waited < 5 and nothing == []
    [entry] = proxy.journal.entries()
    assert "ConnectionRefusedError" in entry.request_findings[0].message
    assert entry.request_findings[0].rule == "upstream"


def test_an_upstream_that_never_answers_ends_both_connections_after_the_timeout(
        tmp_path: Path, proxy_on: Callable[..., Proxy]) -> None:
    with hl7_server(lambda message: None) as (port, received):
        proxy = proxy_on("lis", f"127.0.0.1:{port}", timeout_s=0.5, record=tmp_path / "rec")
        peer = Peer(port_of(proxy))
        started = time.monotonic()
        peer.message(m.lis_adt(control="HIS9005"))
        closed = peer.closed_within(5)
        waited = time.monotonic() - started
        peer.close()
    proxy.recorder.close()  # type: ignore[union-attr]

    assert closed and 0.5 <= waited < 3
    assert [str(x.segment("MSH")[10]) for x in received] == ["HIS9005"]
    [entry] = proxy.journal.entries()
    assert entry.response_raw is None
    assert any("did not reply within 0.5 s" in f.message for f in entry.response_findings)
    [exchange] = recorded(tmp_path / "rec")
    assert exchange.reply is None and exchange.transaction == entry.operation
