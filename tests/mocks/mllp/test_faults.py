"""Faults on the MLLP transport, over a real socket: what the client sees, what the server processed and journaled."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from harness.contract.hl7.ack_mode import AckMode
from harness.contract.hl7.mllp import frame
from harness.contract.hl7.mllp_client import AckMismatch, AckTimeout, ConnectionLost, MalformedAck
from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Served, decoded


def enhanced(text: str) -> str:
    return text.replace("|||||CHN|", "|||AL|AL|CHN|", 1)


def test_no_reply_after_processing_then_the_retry_gets_the_original_ack(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("no_reply")
    client = served.client(timeout=0.3)
    text = m.lis_oru(control="NR1")

    with pytest.raises(AckTimeout):
        client.send(text)
    ack = client.send(text)  # the same message again, on the same connection

    assert ack.code == "AA" and served.handler.handled == 1
    held, retry = served.wait_exchanges(2)
    assert held.fault == "no_reply" and held.response_raw is None and held.response is not None
    assert retry.meta["duplicate_of"] == held.id and retry.response_raw is not None


def test_no_reply_before_processing_then_the_retry_is_processed(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("no_reply", phase="before")
    client = served.client(timeout=0.3)

    with pytest.raises(AckTimeout):
        client.send(m.lis_oru(control="NR2"))
    assert served.handler.handled == 0
    assert client.send(m.lis_oru(control="NR2")).code == "AA"
    assert served.handler.handled == 1


def test_no_reply_with_a_hold_time_closes_the_connection(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("no_reply", delay_s=0.2)
    peer = served.peer()
    peer.message(m.lis_oru(control="NR3"))

    assert peer.closed_within(1.0) and peer.read(1, timeout=0.01) == []


def test_reset_drops_the_connection_and_the_client_reconnects(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("reset")
    client = served.client()

    with pytest.raises(ConnectionLost):
        client.send(m.lis_oru(control="RS1"))
    ack = client.send(m.lis_oru(control="RS1"))

    assert ack.code == "AA" and client.client.connects == 2 and served.handler.handled == 1
    assert served.wait_exchanges(2)[0].fault == "reset"


def test_reset_is_a_tcp_rst(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("reset", phase="before")
    peer = served.peer()
    peer.message(m.lis_oru(control="RS2"))

    with pytest.raises(ConnectionResetError):
        for _ in range(50):
            if not peer.sock.recv(10):
                break
    assert served.handler.handled == 0


@pytest.mark.parametrize(("code", "expected"), [("", "AE"), ("AE", "AE"), ("AR", "AR")])
def test_error_reply(serve: Callable[..., Served], code: str, expected: str) -> None:
    served = serve()
    served.inject("error_reply", code=code, message="LIS 数据库忙 (fault)")
    client = served.client()

    ack = client.send(m.lis_oru(control="ER1"))

    assert ack.code == expected and ack.errors == ["207"]
    assert ack.message is not None and "LIS 数据库忙" in ack.message.get("MSA-3")
    assert served.handler.handled == 1  # phase after: processed, the reply says otherwise
    assert client.send(m.lis_oru(control="ER1")).code == "AA"  # a retry gets the genuine original ACK


def test_error_reply_in_enhanced_mode(serve: Callable[..., Served]) -> None:
    served = serve(ack_mode=AckMode("enhanced"))
    client = served.client()
    served.inject("error_reply", code="AE")
    served.inject("error_reply", code="CR", phase="before")

    assert client.send(enhanced(m.lis_oru(control="ER2"))).codes == ["CA", "AE"]
    assert client.send(enhanced(m.lis_oru(control="ER3")), expect=1).codes == ["CR"]
    assert served.handler.handled == 1


def test_wrong_ack_id(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("wrong_ack_id")
    client = served.client()

    with pytest.raises(AckMismatch) as caught:
        client.send(m.lis_oru(control="WA1"))

    assert caught.value.got == "WA1-WRONG" and caught.value.expected == "WA1"
    exchange = served.wait_exchanges(1)[0]
    assert exchange.fault == "wrong_ack_id" and exchange.response is not None
    assert exchange.response["acks"][0]["acknowledged"] == "WA1-WRONG"


def test_duplicate_ack_is_skipped_by_the_client_next_time(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("duplicate_ack")
    client = served.client()

    first = client.send(m.lis_oru(control="DA1"))
    second = client.send(m.lis_oru(control="DA2"))

    assert first.code == second.code == "AA"
    assert len(second.stale) == 1 and decoded(second.stale[0]).get("MSA-2") == "DA1"


def test_duplicate_ack_on_the_wire(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("duplicate_ack")
    peer = served.peer()
    peer.message(m.lis_oru(control="DA3"))

    first, second = peer.read(2)
    assert first == second


def test_late_ack(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("late_ack", delay_s=0.3)
    client = served.client()

    started = time.monotonic()
    ack = client.send(m.lis_oru(control="LA1"), timeout=2.0)

    assert ack.code == "AA" and time.monotonic() - started >= 0.3
    assert served.handler.handled == 1


def test_late_ack_after_the_client_gave_up(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("late_ack", delay_s=0.3)
    client = served.client()

    with pytest.raises(AckTimeout):
        client.send(m.lis_oru(control="LA2"), timeout=0.1)
    ack = client.send(m.lis_oru(control="LA3"))

    assert ack.code == "AA" and [decoded(s).get("MSA-2") for s in ack.stale] == ["LA2"]


def test_latency_delays_processing(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("latency", delay_s=0.25)
    client = served.client()

    started = time.monotonic()
    assert client.send(m.lis_oru(control="LT1")).code == "AA"
    assert time.monotonic() - started >= 0.25
    assert served.wait_exchanges(1)[0].duration_ms >= 250


def test_split_frames_arrive_in_pieces(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("split_frames", delay_s=0.05)
    peer = served.peer()
    peer.message(m.lis_oru(control="SF1"))

    chunks = []
    data = b""
    while not data.endswith(b"\x1c\r"):
        chunk = peer.sock.recv(65536)
        assert chunk
        chunks.append(chunk)
        data += chunk

    assert len(chunks) >= 3 and chunks[0] == b"\x0b" and chunks[-1] == b"\r"
    assert decoded(data[1:-2]).get("MSA-2") == "SF1"
    assert served.client().send(m.lis_oru(control="SF2")).code == "AA"


def test_merged_frames_when_pipelined(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("merged_frames")
    peer = served.peer()

    peer.send(frame(m.lis_oru(control="MF1").encode()) + frame(m.lis_oru(control="MF2").encode()))

    first_read = peer.sock.recv(65536)
    assert first_read.count(b"\x1c\r") == 2
    assert served.wait_exchanges(2)[0].fault == "merged_frames"


def test_garbage_before_the_start_block(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("garbage", message="NOISE")
    peer = served.peer()
    peer.message(m.lis_oru(control="GB1"))

    data = b""
    while not data.endswith(b"\x1c\r"):
        data += peer.sock.recv(65536)
    assert data.startswith(b"NOISE\x0bMSH|")
    served.inject("garbage")
    assert served.client().send(m.lis_oru(control="GB2")).code == "AA"  # a sound client skips it


def test_malformed_ack(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("malformed")
    client = served.client()

    with pytest.raises(MalformedAck):
        client.send(m.lis_oru(control="MA1"))
    assert client.send(m.lis_oru(control="MA2")).code == "AA"


def test_faults_match_their_operation_and_count(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("error_reply", operation="ADT^A01", times=2)
    client = served.client()

    assert client.send(m.lis_oru(control="OP1")).code == "AA"
    assert [client.send(m.lis_adt(control=f"OP{i}")).code for i in (2, 3, 4)] == ["AE", "AE", "AA"]
    assert [e.fault for e in served.wait_exchanges(4)] == [None, "error_reply", "error_reply", None]


def test_a_batch_takes_one_fault_for_the_whole_reply(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("error_reply", operation="BATCH", code="AR")
    peer = served.peer()
    messages = [m.lis_oru(control="BF1").rstrip("\r"), m.lis_oru(control="BF2").rstrip("\r")]
    peer.message("\r".join(["BHS|^~\\&|LIS|LAB|HIS|HOSP", *messages, "BTS|2"]) + "\r")

    reply = decoded(peer.read(1)[0])
    assert [s.field(1) for s in reply.all("MSA")] == ["AR", "AR"]


def test_latency_on_a_batch_is_taken_once(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("latency", delay_s=0.2)
    peer = served.peer()
    messages = [m.lis_oru(control=f"BL{i}").rstrip("\r") for i in range(4)]
    started = time.monotonic()
    peer.message("\r".join(["BHS|^~\\&|LIS|LAB|HIS|HOSP", *messages, "BTS|4"]) + "\r")

    reply = decoded(peer.read(1)[0])
    assert 0.2 <= time.monotonic() - started < 0.75  # once for the batch: four times would be 0.8 s
    assert [s.field(1) for s in reply.all("MSA")] == ["AA"] * 4
