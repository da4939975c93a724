"""The mock LIS and mock PACS over real sockets: orders kept and answered, bad input never takes the server down
(answered or closed within a second), results and reports pushed to a listener with its ACK checked."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from harness.contract.hl7.ack import ack_problems
from harness.contract.hl7.charsets import encode_message
from harness.contract.hl7.message import Message, parse
from harness.contract.hl7.mllp import frame
from harness.contract.hl7.mllp_ack import AckBuilder
from harness.contract.hl7.mllp_client import MllpSyncClient
from harness.contract.hl7.mllp_listener import MllpListener
from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Peer, decoded

LIMIT_S = 1.0
SLACK_S = 0.2


def order_of(mock: Any, control: str = "HIS0001", order_control: str = "NW") -> str:
    if mock.interface == "lis":
        return m.lis_oml(order_control=order_control, control=control)
    return m.pacs_omi(order_control=order_control, control=control)


def client(mock: Any) -> MllpSyncClient:
    return MllpSyncClient(mock.endpoint.host, mock.endpoint.port, timeout=2.0)


def still_serving(mock: Any) -> None:
    with client(mock) as c:
        ack = c.send(order_of(mock, control=f"ALIVE{time.monotonic_ns() % 10**9}"))
    assert ack.code == "AA"
    notes = [f.message for e in mock.journal.entries() for f in e.request_findings]
    assert not [text for text in notes if text.startswith("transport error")]


def answered_or_closed(peer: Peer, timeout: float = LIMIT_S + SLACK_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if peer.read(1, timeout=deadline - time.monotonic()) or peer.eof:
            return True
    return False


# -- orders ---------------------------------------------------------------------------------------------------
def test_an_order_is_kept_and_answered(partner: Any) -> None:
    text = order_of(partner)
    with client(partner) as c:
        ack = c.send(text)
    assert ack.message is not None
    assert ack.code == "AA" and ack_problems(ack.message, parse(text)) == []
    (held,) = partner.orders()
    assert held["status"] in ("received", "scheduled") and held["patient"]["name"] == "张三"
    assert partner.patient("0001234567")["name"] == "张三"
    if partner.interface == "lis":
        assert ack.message.message_type == "ORL^O22" and ack.message.get("ORC-1") == "OK"


def test_a_cancel_of_an_unknown_order_changes_nothing(partner: Any) -> None:
    with client(partner) as c:
        ack = c.send(order_of(partner, order_control="CA"))
    assert partner.orders() == []
    if partner.interface == "lis":
        assert ack.message is not None
        assert (ack.code, ack.message.get("ORC-1")) == ("AA", "UC")
    else:
        assert (ack.code, ack.errors) == ("AE", ["204"])


# -- bad input --------------------------------------------------------------------------------------------------
def test_random_bytes_and_frames(partner: Any) -> None:
    rng = random.Random(20261122)
    for _ in range(15):
        peer = Peer(partner.endpoint.port)
        data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096)))
        if rng.random() < 0.5:
            data = frame(data)
        peer.send(data)
        peer.sock.shutdown(1)
        assert answered_or_closed(peer)
        peer.close()
    still_serving(partner)


@pytest.mark.parametrize("keep", [1, 40, -2, -1])
def test_a_truncated_frame_on_an_open_connection_is_closed_within_a_second(partner: Any, keep: int) -> None:
    peer = Peer(partner.endpoint.port)
    peer.send(frame(order_of(partner).encode())[:keep])
    assert peer.closed_within(LIMIT_S + SLACK_S)
    peer.close()
    still_serving(partner)


def test_a_huge_frame_is_refused_and_closed(partner: Any) -> None:
    peer = Peer(partner.endpoint.port)
    peer.send(frame(order_of(partner, control="HUGE1").encode())[:-2])
    limit = partner.config.max_frame
    chunk = b"NTE|1||" + b"A" * 65000 + b"\r"
    for _ in range(limit // len(chunk) + 2):
        try:
            peer.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break
    ack = peer.ack(timeout=3.0)
    assert (ack.get("MSA-1"), ack.get("MSA-2")) == ("AR", "HUGE1")
    assert peer.closed_within(2.0)
    peer.close()
    still_serving(partner)


def _one(partner: Any, payload: bytes) -> Message:
    peer = Peer(partner.endpoint.port)
    started = time.monotonic()
    peer.send(frame(payload))
    ack = peer.ack(timeout=LIMIT_S + SLACK_S)
    assert time.monotonic() - started < LIMIT_S + SLACK_S
    peer.close()
    return ack


def test_empty_control_id_is_rejected(partner: Any) -> None:
    ack = _one(partner, order_of(partner, control="").encode())
    assert (ack.get("MSA-1"), ack.get("ERR-3.1")) == ("AR", "101")
    assert partner.orders() == []
    still_serving(partner)


def test_unknown_message_type_is_rejected(partner: Any) -> None:
    text = order_of(partner).replace("OML^O21^OML_O21", "ZZZ^Z99^ZZZ_Z99").replace("OMI^O23^OMI_O23", "ZZZ^Z99^ZZZ_Z99")
    ack = _one(partner, text.encode())
    assert (ack.get("MSA-1"), ack.get("ERR-3.1")) == ("AR", "200")
    assert partner.orders() == []
    still_serving(partner)


def test_a_message_in_another_charset_than_declared_is_not_processed(partner: Any) -> None:
    text = order_of(partner)  # declares UNICODE UTF-8
    ack = _one(partner, encode_message(text, "GB 18030-2000"))
    assert ack.get("MSA-1") in ("AE", "AR")
    assert partner.orders() == []
    still_serving(partner)


# -- pushing to the hospital ------------------------------------------------------------------------------------
def test_results_are_pushed_on_a_timer_and_the_acks_checked(partner: Any) -> None:
    received: list[Message] = []
    builder = AckBuilder("HIS", "HOSP")

    def handle(payload: bytes) -> list[bytes]:
        msg = decoded(payload)
        received.append(msg)
        return [encode_message(builder.ack(msg, "AA", charset="UNICODE UTF-8", declared=True).to_er7(),
                               "UNICODE UTF-8")]

    listener = MllpListener(handle)
    address = listener.start()
    try:
        with client(partner) as c:
            assert c.send(order_of(partner)).code == "AA"
        partner.start_pushing(address, 0.05)
        deadline = time.monotonic() + 5
        wanted = 2 if partner.interface == "lis" else 4  # P, F; or IP, CM, P, F
        while len(received) < wanted and time.monotonic() < deadline:
            time.sleep(0.02)
        partner.stop_pushing()
    finally:
        listener.close()
    kinds = [(msg.message_type, msg.get("OBR-25") or msg.get("ORC-5")) for msg in received[:wanted]]
    if partner.interface == "lis":
        assert kinds == [("ORU^R01", "P"), ("ORU^R01", "F")]
    else:
        assert kinds == [("OMG^O19", "IP"), ("OMG^O19", "CM"), ("ORU^R01", "P"), ("ORU^R01", "F")]
    pushed = [e for e in partner.journal.entries() if e.direction == "outbound"][:wanted]
    assert [e.response["code"] for e in pushed] == ["AA"] * wanted
    assert not [f for e in pushed for f in e.request_findings + e.response_findings if f.severity.value == "error"]


def test_a_wrong_ack_from_the_hospital_is_an_error_finding(partner: Any) -> None:
    def handle(payload: bytes) -> list[bytes]:
        msg = decoded(payload)
        msg.segments[0].fields[10] = "SOMEONE-ELSE"
        return [AckBuilder("HIS", "HOSP").ack(msg, "AA", charset="UNICODE UTF-8", declared=True).encode("UNICODE UTF-8")]

    listener = MllpListener(handle)
    try:
        with client(partner) as c:
            c.send(order_of(partner))
        placer = partner.orders()[0]["placer_no"]
        send = partner.send_result if partner.interface == "lis" else partner.send_report
        pushed = send(placer, "F", to=listener.start())
    finally:
        listener.close()
    assert pushed.exchange is not None
    assert [f.location for f in pushed.exchange.response_findings if f.severity.value == "error"] == ["MSA-2"]


def test_no_listener_is_an_error_finding_not_a_crash(partner: Any) -> None:
    with client(partner) as c:
        c.send(order_of(partner))
    listener = MllpListener(lambda payload: [])
    address = listener.start()
    listener.close()  # nobody listens there any more
    placer = partner.orders()[0]["placer_no"]
    send = partner.send_result if partner.interface == "lis" else partner.send_report
    pushed = send(placer, "F", to=address)
    assert pushed.code == "" and pushed.problem
    assert pushed.exchange is not None and not pushed.exchange.response_valid
