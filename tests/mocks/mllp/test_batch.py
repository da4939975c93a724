"""FHS/BHS batches: each message processed and acknowledged, one batch acknowledgement back."""

from __future__ import annotations

from collections.abc import Callable

from harness.contract.model import Contract
from mocks.transport.mllp import ContractHandler
from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Served, decoded

FHS = "FHS|^~\\&|LIS|LAB|HIS|HOSP|20240105110000||results.hl7||F0001"
BHS = "BHS|^~\\&|LIS|LAB|HIS|HOSP|20240105110000||||B0001"


def batch(*messages: str, fhs: bool = True, count: int | None = None) -> str:
    lines = ([FHS] if fhs else []) + [BHS]
    lines += [msg.rstrip("\r") for msg in messages]
    lines.append(f"BTS|{len(messages) if count is None else count}")
    if fhs:
        lines.append("FTS|1")
    return "\r".join(lines) + "\r"


def test_a_batch_is_acknowledged_message_by_message(serve: Callable[..., Served]) -> None:
    served = serve()
    peer = served.peer()

    peer.message(batch(m.lis_oru(control="L1"), m.lis_oru(control="L2", status="C")))

    frames = peer.read(2, timeout=0.5)
    assert len(frames) == 1
    reply = decoded(frames[0])
    assert reply.names() == ["FHS", "BHS", "MSH", "MSA", "MSH", "MSA", "BTS", "FTS"]
    fhs, bhs = reply.segments[0], reply.segments[1]
    assert fhs.field(3) == "HIS" and fhs.field(5) == "LIS" and fhs.field(12) == "F0001" and fhs.field(11)
    assert bhs.field(3) == "HIS" and bhs.field(12) == "B0001" and bhs.field(11) != "B0001"
    assert [s.field(2) for s in reply.all("MSA")] == ["L1", "L2"] and [s.field(1) for s in reply.all("MSA")] == ["AA"] * 2
    assert reply.get("BTS-1") == "2" and reply.get("FTS-1") == "1"
    assert served.handler.handled == 2
    exchanges = served.wait_exchanges(3)
    assert [e.operation for e in exchanges] == ["ORU^R01", "ORU^R01", "BATCH"]
    assert [e.meta.get("batch_message") for e in exchanges[:2]] == [1, 2]
    assert exchanges[2].response_raw == b"\x0b" + frames[0] + b"\x1c\r"


def test_a_batch_without_fhs(serve: Callable[..., Served]) -> None:
    served = serve()
    peer = served.peer()

    peer.message(batch(m.lis_oru(control="L3"), fhs=False))

    assert decoded(peer.read(1)[0]).names() == ["BHS", "MSH", "MSA", "BTS"]


def test_each_message_of_a_batch_is_validated_on_its_own(serve: Callable[..., Served], lis_2024: Contract) -> None:
    served = serve(ContractHandler(lis_2024, direction="to_hospital"))
    peer = served.peer()
    bad = m.lis_oru(control="L5").replace("|19900307|M", "|19900307|Q")

    peer.message(batch(m.lis_oru(control="L4"), bad))

    reply = decoded(peer.read(1)[0])
    assert [(s.field(1), s.field(2)) for s in reply.all("MSA")] == [("AA", "L4"), ("AE", "L5")]
    assert reply.get("ERR-3.1") == "103"


def test_duplicates_inside_a_batch_are_processed_once(serve: Callable[..., Served]) -> None:
    served = serve()
    peer = served.peer()

    peer.message(batch(m.lis_oru(control="L6"), m.lis_oru(control="L6")))

    reply = decoded(peer.read(1)[0])
    assert [s.field(2) for s in reply.all("MSA")] == ["L6", "L6"]
    assert reply.all("MSH")[0].field(10) == reply.all("MSH")[1].field(10)  # the original ACK, replayed
    assert served.handler.handled == 1


def test_a_wrong_bts_count_is_journaled(serve: Callable[..., Served]) -> None:
    served = serve()
    peer = served.peer()

    peer.message(batch(m.lis_oru(control="L7"), count=5))

    assert decoded(peer.read(1)[0]).get("BTS-1") == "1"
    envelope = served.wait_exchanges(2)[-1]
    assert envelope.operation == "BATCH"
    assert any(f.location == "BTS-1" for f in envelope.request_findings)
