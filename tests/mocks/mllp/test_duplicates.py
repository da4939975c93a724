"""Duplicates: the same MSH-10 from the same sender (MSH-3/4) gets the original ACK again and is not processed twice;
memory is bounded."""

from __future__ import annotations

from collections.abc import Callable

from harness.contract.findings import Severity
from harness.contract.hl7.ack_mode import AckMode
from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Served


def test_a_duplicate_gets_the_original_ack_and_is_processed_once(serve: Callable[..., Served]) -> None:
    served = serve()
    peer = served.peer()
    text = m.lis_oru(control="D1")

    peer.message(text)
    first = peer.read(1)[0]
    peer.message(text)
    second = peer.read(1)[0]

    assert first == second  # byte for byte, the ACK's own MSH-10 and MSH-7 included
    assert served.handler.handled == 1
    original, again = served.wait_exchanges(2)
    assert again.meta["duplicate_of"] == original.id and "duplicate_of" not in original.meta
    assert [(f.severity, f.rule) for f in again.request_findings] == [(Severity.INFO, "duplicate")]
    assert again.response_raw == original.response_raw


def test_a_duplicate_on_another_connection_is_recognised(serve: Callable[..., Served]) -> None:
    served = serve()
    text = m.lis_oru(control="D2")

    first = served.client().send(text)
    second = served.client().send(text)

    assert first.raw == second.raw and served.handler.handled == 1


def test_the_same_control_id_from_another_sender_is_a_new_message(serve: Callable[..., Served]) -> None:
    served = serve()
    client = served.client()

    client.send(m.lis_oru(control="D3"))
    client.send(m.lis_oru(control="D3").replace("|LIS|LAB|", "|LIS2|LAB|", 1))

    assert served.handler.handled == 2


def test_a_reused_control_id_with_other_content_is_flagged(serve: Callable[..., Served]) -> None:
    served = serve()
    client = served.client()

    client.send(m.lis_oru(control="D4", status="P"))
    ack = client.send(m.lis_oru(control="D4", status="F"))

    assert ack.code == "AA" and served.handler.handled == 1
    again = served.wait_exchanges(2)[1]
    assert any(f.severity is Severity.WARNING and "different content" in f.message for f in again.request_findings)


def test_enhanced_mode_duplicates_replay_both_acks(serve: Callable[..., Served]) -> None:
    served = serve(ack_mode=AckMode("enhanced"))
    client = served.client()
    text = m.lis_oru(control="D5").replace("|||||CHN|", "|||AL|AL|CHN|")

    first = client.send(text)
    second = client.send(text)

    assert first.codes == second.codes == ["CA", "AA"] and first.raws == second.raws
    assert served.handler.handled == 1


def test_memory_is_bounded_and_the_oldest_are_forgotten(serve: Callable[..., Served]) -> None:
    served = serve(duplicates=3)
    client = served.client()

    for i in range(5):
        client.send(m.lis_oru(control=f"B{i}"))
    client.send(m.lis_oru(control="B4"))  # remembered
    client.send(m.lis_oru(control="B0"))  # forgotten: processed again

    assert len(served.server.duplicates) == 3
    assert served.handler.handled == 6


def test_rejected_messages_are_not_remembered(serve: Callable[..., Served]) -> None:
    served = serve()
    client = served.client()
    unsupported = m.lis_oru(control="D6").replace("ORU^R01^ORU_R01", "ZZZ^Z01")

    assert client.send(unsupported).code == "AA"  # AcceptAll takes any type
    served.server.clear()
    assert len(served.server.duplicates) == 0
    assert client.send(unsupported).code == "AA"
    assert served.handler.handled == 2
