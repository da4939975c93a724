"""The reference LIS and PACS connectors over real sockets: the listener stores before it acknowledges, keeps
what it stored across a restart (a resent result gets its original ACK), answers bad input without dying, and
the sender resends the same bytes after a lost ACK."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.lis import LisConnector
from connectors.pacs import PacsConnector
from harness.contract.hl7.mllp import frame
from harness.contract.hl7.mllp_client import MllpSyncClient
from harness.contract.loader import ContractStore
from harness.ports.hl7 import Hl7Settings, NoAck, Patient
from harness.ports.lis import LabOrder
from mocks.lis import LisMock
from mocks.registry import create_mock
from mocks.transport.runtime import Runtime
from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Peer

PATIENT = Patient("MRN0001", "欧阳娜娜", "110101199003071234", "F", "19900307")


@pytest.fixture(scope="module")
def lis_mock(runtime: Runtime, store: ContractStore) -> Any:
    mock = create_mock(store.load("lis"))
    mock.start(runtime)
    return mock


@pytest.fixture
def settings(lis_mock: LisMock, tmp_path: Path) -> Hl7Settings:
    lis_mock.reset()
    contract = lis_mock.contract
    endpoint = lis_mock.endpoint
    assert endpoint is not None, "the LIS mock is started"
    return Hl7Settings(endpoint.host, endpoint.port, timeout_s=0.5,
                       contract_version=contract.version, contract_folder=str(contract.folder),
                       store_path=str(tmp_path / "received.sqlite"))


@pytest.fixture
def lis(settings: Hl7Settings) -> Iterator[LisConnector]:
    connector = LisConnector(settings)
    yield connector
    connector.close()


def test_a_result_is_in_the_file_when_its_ack_arrives_and_survives_a_restart(
        lis: LisConnector, lis_mock: LisMock, settings: Hl7Settings) -> None:
    assert lis.place_order(LabOrder("P1", PATIENT)).accepted
    first = lis_mock.send_result("P1", "F", critical="HH", to=lis.listener())
    assert first.code == "AA"
    (stored,) = lis.stored_results()  # read from the file on a connection of its own
    assert (stored.control_id, stored.status, stored.patient_name, stored.critical) == (
        first.control_id, "F", "欧阳娜娜", ("WBC=35.2 HH",))
    lis.close()

    again = LisConnector(settings)  # the same store file: the hospital restarted
    try:
        resent = lis_mock.push(lis_mock.last_sent, again.listener())
        assert resent.code == "AA"
        assert resent.exchange is not None and first.exchange is not None
        assert resent.exchange.response_raw == first.exchange.response_raw  # the original ACK, not a new one
        assert len(again.stored_results()) == 1
    finally:
        again.close()


def test_the_listener_answers_garbage_and_keeps_serving(lis: LisConnector, lis_mock: LisMock) -> None:
    host, port = lis.listener()
    peer = Peer(port)
    peer.send(frame(b"\x00\xffnot hl7"))
    ack = peer.ack()
    assert ack.get("MSA-1") == "AR"
    peer.send(b"\x0bMSH|^~\\&|LIS")  # a frame that never ends, then the peer goes
    peer.close()
    with MllpSyncClient(host, port, timeout=2.0) as client:
        ack2 = client.send(m.lis_oru(control="ALIVE1"))
    assert ack2.code == "AA"
    assert [s.control_id for s in lis.stored_results()] == ["ALIVE1"]


def test_a_lost_ack_is_resent_with_the_same_bytes_then_reported(lis: LisConnector, lis_mock: LisMock) -> None:
    lis_mock.inject("no_reply", operation="OML^O21", times=None)
    with pytest.raises(NoAck) as caught:
        lis.place_order(LabOrder("P2", PATIENT))
    assert caught.value.attempts == 2
    sent = [e.request_raw for e in lis_mock.journal.entries("OML^O21")]
    assert len(sent) == 2 and sent[0] == sent[1]
    assert len(lis_mock.orders()) == 1


def test_nobody_listening_is_no_ack(settings: Hl7Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    connector = LisConnector(Hl7Settings("127.0.0.1", free, timeout_s=0.3, contract_folder=settings.contract_folder))
    try:
        with pytest.raises(NoAck):
            connector.send_patient(PATIENT)
    finally:
        connector.close()


def test_the_pacs_listener_refuses_a_lis_order(store: ContractStore, tmp_path: Path) -> None:
    contract = store.load("pacs")
    connector = PacsConnector(Hl7Settings("127.0.0.1", 9, contract_folder=str(contract.folder)))
    try:
        with MllpSyncClient(*connector.listener(), timeout=2.0) as client:
            ack = client.send(m.pacs_omi(control="WRONGWAY"))
        assert (ack.code, ack.errors) == ("AR", ["200"])  # an order travels to the PACS, not to the hospital
        assert connector.stored_reports() == []
    finally:
        connector.close()


@pytest.mark.parametrize("variant", ["clean", "with a warning"])
def test_a_valid_message_the_listener_does_not_take_is_refused_and_not_stored(lis: LisConnector, variant: str) -> None:
    """An ORL^O22 (the LIS's answer to an order, which comes back on the order's own connection) sent to the
    hospital's listener: valid for the contract, but not what the listener takes, so AR with ERR 200 (table 0357:
    unsupported message type) and nothing stored, also when the message carries findings that are only warnings
    (here a name longer than PID-5 allows)."""
    text = m.lis_orl(control="ORLHERE")
    if variant == "with a warning":
        text = text.replace("张三", "张" * 300)
    with MllpSyncClient(*lis.listener(), timeout=2.0) as client:
        ack = client.send(text)
    assert (ack.code, ack.errors) == ("AR", ["200"])
    assert lis.stored() == []


def test_an_incoming_ack_is_never_acknowledged(lis: LisConnector) -> None:
    """An acknowledgement sent to the hospital's listener (a partner confused about direction) gets no answer: an ACK
    of an ACK would bounce between the systems. The connection stays usable and nothing is stored."""
    host, port = lis.listener()
    peer = Peer(port)
    try:
        peer.message(m.ack(acked="HIS0001", control="LISACK1"))
        assert peer.read(count=1, timeout=0.5) == [], "an ACK was answered"
        peer.message(m.lis_oru(control="AFTERACK"))
        (answer,) = peer.read(count=1)
        assert b"MSA|AA|AFTERACK" in answer
    finally:
        peer.close()
    assert [s.control_id for s in lis.stored_results()] == ["AFTERACK"]


def test_study_uids_made_in_one_millisecond_differ_and_stay_under_64_characters(
        store: ContractStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders without a Study Instance UID get one under the hospital's root; two made within one millisecond
    (a batch) must still differ, or the PACS files both studies under one UID (DICOM caps a UID at 64)."""
    contract = store.load("pacs")
    connector = PacsConnector(Hl7Settings("127.0.0.1", 9, contract_folder=str(contract.folder)))
    try:
        monkeypatch.setattr("connectors.pacs.time.time_ns", lambda: 1_765_000_000_123_456_789)
        uids = [connector.new_study_uid() for _ in range(3)]
        assert len(set(uids)) == 3, uids
        assert all(u.startswith("1.2.156.112605.14038013507.1.1765000000123.") and len(u) <= 64 for u in uids), uids
    finally:
        connector.close()
