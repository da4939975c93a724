"""MLLP framing on a real socket: persistent connections, split and merged frames, garbage, oversized frames,
timeouts."""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.contract.findings import Severity
from harness.contract.hl7.ack_mode import AckMode
from harness.contract.hl7.mllp import frame
from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Served, decoded


def test_one_connection_carries_a_hundred_messages(serve: Callable[..., Served]) -> None:
    served = serve()
    client = served.client()

    acks = [client.send(m.lis_oru(control=f"P{i:03d}", obx_count=20)) for i in range(100)]

    assert [a.code for a in acks] == ["AA"] * 100
    assert [a.message.get("MSA-2") for a in acks if a.message] == [f"P{i:03d}" for i in range(100)]
    assert client.client.connects == 1
    exchanges = served.wait_exchanges(100)
    assert {e.meta["connection"] for e in exchanges} == {1}
    assert [e.meta["frame"] for e in exchanges] == list(range(1, 101))
    assert served.handler.handled == 100


def test_a_frame_split_across_many_writes(serve: Callable[..., Served]) -> None:
    served = serve()
    peer = served.peer()
    data = frame(m.lis_oru(control="SPLIT1").encode())
    # after the start block, mid-MSH, mid-message, between 0x1C and 0x0D
    pieces = [data[:1], data[1:2], data[2:40], data[40:-2], data[-2:-1], data[-1:]]
    for piece in pieces:
        peer.send(piece)
        time.sleep(0.01)

    ack = peer.ack()

    assert ack.get("MSA-1") == "AA" and ack.get("MSA-2") == "SPLIT1"
    assert served.wait_exchanges(1)[0].request_findings == []


def test_merged_frames_in_one_write_get_one_ack_each(serve: Callable[..., Served]) -> None:
    served = serve()
    peer = served.peer()

    peer.send(b"".join(frame(m.lis_oru(control=f"MERGE{i}").encode()) for i in range(3)))

    acks = [decoded(p) for p in peer.read(3)]
    assert [a.get("MSA-2") for a in acks] == ["MERGE0", "MERGE1", "MERGE2"]
    assert [a.get("MSA-1") for a in acks] == ["AA"] * 3


def test_bytes_before_the_start_block_are_skipped_with_a_warning(serve: Callable[..., Served]) -> None:
    served = serve()
    peer = served.peer()

    peer.send(b"\r\nhello\x00" + frame(m.lis_oru(control="G1").encode()))

    assert peer.ack().get("MSA-1") == "AA"
    exchange = served.wait_exchanges(1)[0]
    assert [(f.severity, f.rule) for f in exchange.request_findings] == [(Severity.WARNING, "framing")]
    assert "8 bytes before the start block" in exchange.request_findings[0].message


def test_end_block_without_cr_is_accepted_with_a_warning(serve: Callable[..., Served]) -> None:
    served = serve()
    peer = served.peer()

    peer.send(b"\x0b" + m.lis_oru(control="NOCR").encode() + b"\x1c" + frame(m.lis_oru(control="NEXT").encode()))

    assert [decoded(p).get("MSA-2") for p in peer.read(2)] == ["NOCR", "NEXT"]
    first = served.wait_exchanges(2)[0]
    assert any("not followed by CR" in f.message for f in first.request_findings)


def test_an_oversized_frame_is_refused_with_ar_and_the_connection_closed(serve: Callable[..., Served]) -> None:
    served = serve(max_frame=4096)
    peer = served.peer()
    huge = m.lis_oru(control="BIG1", obx_count=200)
    assert len(huge) > 4096

    peer.send(frame(huge.encode()))

    ack = peer.ack()
    assert ack.get("MSA-1") == "AR" and ack.get("MSA-2") == "BIG1"
    assert ack.get("ERR-3.1") == "100"
    assert peer.closed_within(1.5)
    exchange = served.wait_exchanges(1)[0]
    assert exchange.meta["oversized"] is True and exchange.response == {
        "code": "AR", "acks": [exchange.response["acks"][0]]}
    assert not served.handler.handled


def test_an_oversized_frame_in_enhanced_mode_gets_cr(serve: Callable[..., Served]) -> None:
    served = serve(max_frame=4096, ack_mode=AckMode("enhanced"))
    peer = served.peer()
    huge = m.lis_oru(control="BIG2", obx_count=200).replace("|||||CHN|", "|||AL|NE|CHN|")

    peer.send(frame(huge.encode()))

    ack = peer.ack()
    assert (ack.get("MSA-1"), ack.get("MSA-2"), ack.get("ERR-3.1")) == ("CR", "BIG2", "100")


def test_an_idle_connection_is_closed(serve: Callable[..., Served]) -> None:
    served = serve(idle_timeout_s=0.3)
    peer = served.peer()
    client = served.client()
    assert client.send(m.lis_oru(control="IDLE1")).code == "AA"

    assert peer.closed_within(1.5)
    deadline = time.monotonic() + 1.5
    while served.server.connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not served.server.connections
    time.sleep(0.05)  # the close reaches the client's socket
    # the client notices the close and reconnects for the next message
    assert client.send(m.lis_oru(control="IDLE2")).code == "AA"
    assert client.client.connects == 2


def test_a_stalled_frame_is_closed_within_a_second(serve: Callable[..., Served]) -> None:
    served = serve(frame_timeout_s=0.5)
    peer = served.peer()
    data = frame(m.lis_oru(control="STALL").encode())
    started = time.monotonic()

    peer.send(data[: len(data) // 2])

    assert peer.closed_within(2.0)
    assert time.monotonic() - started < 1.0
    exchange = served.wait_exchanges(1)[0]
    assert "frame incomplete" in exchange.request_findings[0].message


def test_a_frame_cut_off_by_the_end_of_the_stream_is_journaled(serve: Callable[..., Served]) -> None:
    served = serve()
    peer = served.peer()
    data = frame(m.lis_oru(control="CUT").encode())

    peer.send(data[:100])
    peer.sock.shutdown(1)  # SHUT_WR: the sender is done

    assert peer.closed_within(1.0)
    exchange = served.wait_exchanges(1)[0]
    assert exchange.request_raw == data[1:100]
    assert "stream ended inside a frame" in exchange.request_findings[0].message
    assert exchange.response_raw is None


def test_stop_closes_open_connections(serve: Callable[..., Served], runtime: object) -> None:
    served = serve()
    peer = served.peer()
    peer.message(m.lis_oru(control="S1"))
    assert peer.ack().get("MSA-1") == "AA"

    from mocks.transport.runtime import Runtime

    assert isinstance(runtime, Runtime)
    runtime.call(served.listener.stop())

    assert peer.closed_within(1.0)
