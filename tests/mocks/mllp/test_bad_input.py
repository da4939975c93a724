"""Bad input: random bytes, truncated and huge frames, broken headers, wrong charsets, mutated messages.

The server never dies, and every bad input is answered or the connection closed within 1 s; afterwards a good
message still gets AA. Every loop here is bounded (a fixed seed and count) and every wait has a deadline.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest

from harness.contract.hl7.mllp import frame
from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Peer, Served, decoded

LIMIT_S = 1.0
SLACK_S = 0.2
"""Scheduling noise allowed on a loaded machine: the server closes a stalled frame after 0.8 s by default."""


def answered_or_closed(peer: Peer, timeout: float = LIMIT_S) -> bool:
    """True when a frame comes back or the server ends the connection within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if peer.read(1, timeout=deadline - time.monotonic()):
            return True
        if peer.eof:
            return True
    return False


def still_serving(served: Served) -> None:
    assert served.client().send(m.lis_oru(control="ALIVE")).code == "AA"
    messages = [f.message for e in served.exchanges() for f in e.request_findings]
    assert not [text for text in messages if text.startswith("transport error")]


def test_random_bytes(serve: Callable[..., Served]) -> None:
    served = serve()
    rng = random.Random(20261122)
    for _ in range(40):
        peer = served.peer()
        size = rng.randint(1, 8192)
        data = bytes(rng.getrandbits(8) for _ in range(size))
        peer.send(data)
        peer.sock.shutdown(1)
        started = time.monotonic()
        assert answered_or_closed(peer)
        assert peer.closed_within(LIMIT_S - (time.monotonic() - started) + 0.2)
        peer.close()
    still_serving(served)


def test_random_frames_on_one_connection(serve: Callable[..., Served]) -> None:
    served = serve()
    rng = random.Random(7)
    peer = served.peer()
    for _ in range(60):
        body = bytes(rng.choice(b"MSH|^~\\&\rPIDOBX0123456789 \x00\xff\xfe") for _ in range(rng.randint(0, 600)))
        peer.send(frame(body))
        assert answered_or_closed(peer), body[:60]
        assert not peer.eof
    still_serving(served)


@pytest.mark.parametrize("keep", [1, 2, 10, 60, 300, -3, -2, -1])
def test_truncated_frames_then_the_stream_ends(serve: Callable[..., Served], keep: int) -> None:
    served = serve()
    peer = served.peer()
    data = frame(m.lis_oru(control="TR1").encode())

    peer.send(data[:keep])
    peer.sock.shutdown(1)

    assert peer.closed_within(LIMIT_S)
    still_serving(served)


@pytest.mark.parametrize("keep", [1, 60, -2, -1])
def test_truncated_frames_on_an_open_connection_are_closed_within_a_second(serve: Callable[..., Served],
                                                                         keep: int) -> None:
    served = serve()  # the default frame timeout
    peer = served.peer()
    data = frame(m.lis_oru(control="TR2").encode())
    started = time.monotonic()

    peer.send(data[:keep])

    assert answered_or_closed(peer, LIMIT_S + SLACK_S)
    assert time.monotonic() - started <= LIMIT_S + SLACK_S
    still_serving(served)


def test_a_huge_frame_without_end(serve: Callable[..., Served]) -> None:
    served = serve()  # the default limit, 1 MiB
    peer = served.peer()
    head = frame(m.lis_oru(control="HUGE1").encode())[:-2]
    started = time.monotonic()
    peer.send(head)
    chunk = b"OBX|1|ST|X^Y^L||" + b"A" * 65000 + b"\r"
    for _ in range(24):  # about 1.5 MiB, more than the limit
        try:
            peer.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break

    ack = peer.ack(timeout=LIMIT_S)
    assert (ack.get("MSA-1"), ack.get("MSA-2"), ack.get("ERR-3.1")) == ("AR", "HUGE1", "100")
    assert peer.closed_within(2.0)
    assert time.monotonic() - started < 3.0
    still_serving(served)


def test_huge_garbage_without_any_frame(serve: Callable[..., Served]) -> None:
    served = serve(max_frame=65536)
    peer = served.peer()
    for _ in range(40):
        peer.send(b"\x0b" + b"Z" * 8192)  # start blocks, never an end block
    peer.sock.shutdown(1)
    assert peer.closed_within(2.0)
    still_serving(served)


@pytest.mark.parametrize("payload", [
    b"", b"MSH", b"MSH|", b"MSH|^~\\&", b"MSH|^~\\&|A|B|C|D|20240101||ORU^R01", b"\r\r\r", b"\x00" * 50,
    b"MSH|^~\\&|LIS|LAB|HIS|HOSP|20240105||ORU^R01^ORU_R01|X|P|2.5.1|||||CHN|UNICODE UTF-8\r\xff\xfe\xfd",
    b"MSH|^~\\&|LIS|LAB|HIS|HOSP|20240105||ORU^R01^ORU_R01|X|P|2.5.1|||||CHN|GB 18030-2000\r\x80",
    b"MSHX^~\\&|LIS", b"FHS|^~\\&\rBHS|^~\\&\rMSH|\rBTS|9", b"BHS|^~\\&\rBHS|^~\\&\rFTS|x",
    "MSH|^~\\&|LIS|LAB|HIS|HOSP|20240105||ORU^R01|长长的控制号码超过二十个字符的长度限制|P|2.5.1".encode(),
], ids=lambda p: repr(p[:24]))
def test_broken_messages_are_answered(serve: Callable[..., Served], payload: bytes) -> None:
    served = serve()
    peer = served.peer()

    peer.send(frame(payload))

    assert answered_or_closed(peer)
    assert not peer.eof
    still_serving(served)


def test_empty_control_id_gets_ar_and_is_not_remembered(serve: Callable[..., Served]) -> None:
    served = serve()
    peer = served.peer()
    text = m.lis_oru(control="")

    peer.message(text)
    peer.message(text)

    acks = [decoded(p) for p in peer.read(2)]
    assert [(a.get("MSA-1"), a.get("MSA-2"), a.get("ERR-3.1")) for a in acks] == [("AR", "", "101")] * 2
    assert served.handler.handled == 0 and len(served.server.duplicates) == 0


def test_mutated_messages(serve: Callable[..., Served]) -> None:
    served = serve()
    rng = random.Random(42)
    peer = served.peer()
    original = bytearray(m.lis_oru(control="MUT", obx_count=5).encode())
    for n in range(150):
        body = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(body))
            action = rng.random()
            if action < 0.4:
                body[pos] = rng.choice(b"|^~\\&\r\nX0\xe4\xff")
            elif action < 0.7:
                del body[pos : pos + rng.randint(1, 20)]
            else:
                body[pos:pos] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 5)))
        body = body.replace(b"\x0b", b"X").replace(b"\x1c", b"X")
        sentinel = f"S{n}"
        peer.send(frame(bytes(body)) + frame(m.lis_oru(control=sentinel).encode()))
        deadline = time.monotonic() + LIMIT_S
        while True:  # the mutated message may get 0, 1 or 2 ACKs; the sentinel's must come
            frames = peer.read(1, timeout=max(0.0, deadline - time.monotonic()))
            assert frames, f"no ACK for the sentinel after mutation {n}: {bytes(body)[:80]!r}"
            if decoded(frames[0]).get("MSA-2") == sentinel:
                break
    assert not peer.eof
    still_serving(served)


def test_many_connections_opened_and_dropped(serve: Callable[..., Served]) -> None:
    served = serve()
    peers = [served.peer() for _ in range(50)]
    for peer in peers[::2]:
        peer.message(m.lis_oru(control="HALF")[:50])
    for peer in peers:
        peer.close()
    still_serving(served)
    deadline = time.monotonic() + 2.0
    while len(served.server.connections) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(served.server.connections) <= 1
