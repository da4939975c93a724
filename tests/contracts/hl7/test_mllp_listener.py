"""MllpListener over real sockets: frames in order, split and merged reads, a failing handler closes only its
connection, a stalled frame is closed, close() stops it."""

from __future__ import annotations

import socket

import pytest

from harness.contract.hl7.mllp import frame
from harness.contract.hl7.mllp_listener import MllpListener
from tests.mocks.mllp.conftest import Peer


def echo(payload: bytes) -> list[bytes]:
    if payload == b"boom":
        raise RuntimeError("handler failed")
    return [b"ACK " + payload]


def test_frames_split_and_merged_are_answered_in_order() -> None:
    listener = MllpListener(echo)
    _, port = listener.start()
    try:
        peer = Peer(port)
        wire = frame(b"one") + frame(b"two")
        peer.send(wire[:3])
        peer.send(wire[3:])
        assert peer.read(2) == [b"ACK one", b"ACK two"]
        peer.close()
    finally:
        listener.close()


@pytest.mark.parametrize("threaded", [False, True])
def test_a_failing_handler_closes_its_connection_only(threaded: bool) -> None:
    listener = MllpListener(echo, threaded=threaded)
    _, port = listener.start()
    try:
        bad = Peer(port)
        bad.send(frame(b"boom"))
        assert bad.closed_within(2.0)
        assert listener.errors == ["RuntimeError: handler failed"]
        good = Peer(port)
        good.send(frame(b"fine"))
        assert good.read(1) == [b"ACK fine"]
        bad.close()
        good.close()
    finally:
        listener.close()


def test_a_stalled_frame_is_closed_and_close_stops_listening() -> None:
    listener = MllpListener(echo, frame_timeout_s=0.3)
    _, port = listener.start()
    peer = Peer(port)
    peer.send(b"\x0bhalf a frame")
    assert peer.closed_within(2.0)
    peer.close()
    listener.close()
    listener.close()  # twice is fine
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0):
        pass
