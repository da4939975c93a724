"""A frame that has to wait (a fault's delay, a duplicate's original) goes on in a task while what arrives after it
waits its turn: replies and journal stay in the order the frames came, on a real socket."""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.contract.hl7.mllp import frame
from mocks.transport.mllp import BACKLOG
from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Served, decoded


def test_frames_behind_a_delayed_one_are_answered_after_it_in_order(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("late_ack", delay_s=0.2, times=1)
    peer = served.peer()
    started = time.monotonic()

    peer.send(frame(m.lis_oru(control="W1").encode()))
    time.sleep(0.05)  # W1 is waiting out its delay when these come
    peer.send(b"".join(frame(m.lis_oru(control=f"W{n}").encode()) for n in (2, 3, 4)))

    acks = [decoded(p) for p in peer.read(4, timeout=3)]
    assert [a.get("MSA-2") for a in acks] == ["W1", "W2", "W3", "W4"]
    assert [a.get("MSA-1") for a in acks] == ["AA"] * 4
    assert time.monotonic() - started >= 0.2
    exchanges = served.wait_exchanges(4)
    assert [e.request["control_id"] for e in exchanges] == ["W1", "W2", "W3", "W4"]
    assert [e.meta["frame"] for e in exchanges] == [1, 2, 3, 4]
    # once the wait is over the connection answers inside data_received again
    assert served.client().send(m.lis_oru(control="W5")).code == "AA"


def test_a_flood_behind_a_waiting_frame_pauses_reading_and_loses_nothing(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("latency", delay_s=0.3, times=1)
    peer = served.peer()
    first = frame(m.lis_oru(control="F0000").encode())
    count = BACKLOG // len(first) * 3  # three times what is held before reading pauses
    peer.send(first)
    time.sleep(0.05)
    peer.send(b"".join(frame(m.lis_oru(control=f"F{n:04d}").encode()) for n in range(1, count + 1)))

    acks = [decoded(p) for p in peer.read(count + 1, timeout=20)]
    assert [a.get("MSA-2") for a in acks] == [f"F{n:04d}" for n in range(count + 1)]
    assert {a.get("MSA-1") for a in acks} == {"AA"}


def test_the_end_of_the_stream_while_a_frame_waits_still_answers_it_then_closes(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("late_ack", delay_s=0.2, times=1)
    peer = served.peer()
    peer.send(frame(m.lis_oru(control="E1").encode()) + frame(m.lis_oru(control="E2").encode()) + b"\x0bMSH|cut")
    peer.sock.shutdown(1)  # the peer is done sending; it still reads

    acks = [decoded(p) for p in peer.read(2, timeout=3)]
    assert [a.get("MSA-2") for a in acks] == ["E1", "E2"]
    assert peer.closed_within(2)
    exchanges = served.wait_exchanges(3)
    assert [f.rule for f in exchanges[-1].request_findings] == ["framing"]
    assert "stream ended inside a frame" in exchanges[-1].request_findings[0].message
