"""The reference blood-centre connector against the mock on a socket: retries only where the contract says an
operation is idempotent, strict checks of what it sends and receives, DIN checks at receipt."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.blood_bank import Bag, BloodBank
from connectors.blood_center import BloodCenterConnector, reference
from harness.bindings import connector_settings
from harness.ports.blood_center import (
    AlreadyReceived,
    AuthRefused,
    BadReply,
    BloodCenterPort,
    BloodCenterSettings,
    BloodOrder,
    InvalidInput,
    NotReceived,
    OrderItem,
    ScannedBag,
    Unavailable,
)
from mocks.blood_center import BloodCenterMock
from tests.mocks.blood_center.conftest import _centre, centre  # noqa: F401 - fixtures

ORDER = BloodOrder("ORD2001", "URGENT", datetime(2026, 1, 1, 10), "ICU", "周医生",
                   (OrderItem(1, "E0001", "O", "POS", Decimal(2), "U"),))


@pytest.fixture
def settings(centre: BloodCenterMock) -> BloodCenterSettings:  # noqa: F811
    configured: BloodCenterSettings = connector_settings("blood-center")(centre, centre.contract, 1.0)
    return configured


@pytest.fixture
def connector(settings: BloodCenterSettings) -> Iterator[BloodCenterConnector]:
    made = reference(settings)
    yield made
    made.close()


def calls(centre: BloodCenterMock, operation: str) -> int:  # noqa: F811
    return len(centre.journal.entries(operation))


def test_it_implements_the_port_and_hides_the_token(connector: BloodCenterConnector, settings: BloodCenterSettings) -> None:
    assert isinstance(connector, BloodCenterPort)
    assert settings.token not in repr(settings)


@pytest.mark.parametrize("kind", ["no_reply", "reset", "http_status", "error_reply", "malformed"])
def test_idempotent_operations_are_resent(connector: BloodCenterConnector, centre: BloodCenterMock, kind: str) -> None:  # noqa: F811
    centre.inject(kind, operation="SubmitBloodOrder", phase="after")
    ack = connector.submit_order(ORDER)
    assert ack.status == "RECEIVED" and calls(centre, "SubmitBloodOrder") == 2
    assert centre.centre.store.count("orders") == 1


def test_a_lost_receipt_is_reported_not_resent(connector: BloodCenterConnector, centre: BloodCenterMock) -> None:  # noqa: F811
    connector.submit_order(ORDER)
    centre.centre.accept(f"{centre.hospital}/ORD2001")
    centre.centre.issue(f"{centre.hospital}/ORD2001")
    note = connector.issue_notes("ORD2001")[0]
    centre.inject("reset", operation="ConfirmReceipt", phase="after")
    with pytest.raises(Unavailable, match="not resent"):
        connector.receive(note, [ScannedBag(u.din, u.abo, u.rhd) for u in note.units])
    assert calls(centre, "ConfirmReceipt") == 1


def test_retries_give_up_after_the_allowed_number(connector: BloodCenterConnector, centre: BloodCenterMock) -> None:  # noqa: F811
    centre.inject("http_status", operation="QueryNotices", status=502, times=None)
    with pytest.raises(Unavailable, match="after 3 attempts"):
        connector.notices(datetime.now() - timedelta(days=1))
    assert calls(centre, "QueryNotices") == 3


def test_an_invalid_request_never_leaves(connector: BloodCenterConnector, centre: BloodCenterMock) -> None:  # noqa: F811
    bad = replace(ORDER, order_no="lower-case-no")
    with pytest.raises(InvalidInput, match="orderNo"):
        connector.submit_order(bad)
    assert calls(centre, "SubmitBloodOrder") == 0


def test_a_reply_that_breaks_the_contract_is_refused(connector: BloodCenterConnector, centre: BloodCenterMock,  # noqa: F811
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    real = centre.centre.submit_order

    def lost_state(hospital: str, order: dict[str, Any]) -> dict[str, Any]:
        return {**real(hospital, order), "status": "MISLAID"}

    monkeypatch.setattr(centre.centre, "submit_order", lost_state)
    with pytest.raises(BadReply, match="status"):
        connector.submit_order(ORDER)


def test_wrong_credentials_are_auth_refused_without_retry(settings: BloodCenterSettings, centre: BloodCenterMock) -> None:  # noqa: F811
    wrong = reference(replace(settings, token="nope"))
    try:
        with pytest.raises(AuthRefused, match="令牌无效"):
            wrong.order_feedback("ORD2001")
    finally:
        wrong.close()
    assert calls(centre, "QueryOrderFeedback") == 1


def test_receipt_checks_dins_and_remembers_received_bags(connector: BloodCenterConnector, centre: BloodCenterMock) -> None:  # noqa: F811
    connector.submit_order(ORDER)
    centre.centre.accept(f"{centre.hospital}/ORD2001")
    centre.centre.issue(f"{centre.hospital}/ORD2001")
    note = connector.issue_notes("ORD2001")[0]
    scanned = [ScannedBag(u.din, u.abo, u.rhd) for u in note.units]
    with pytest.raises(NotReceived):
        connector.submit_return("TH2001", [note.units[0].din], "QUALITY")
    garbled = ScannedBag("=" + note.units[0].din[:-2] + "00", "O", "POS")
    receipt = connector.receive(note, [garbled, *scanned[1:]])
    assert ("INVALID_DIN", garbled.din) in {(d.kind, d.din) for d in receipt.discrepancies}
    assert note.units[0].din not in connector.received
    with pytest.raises(NotReceived):
        connector.stored_bag(garbled.din)
    connector.receive(note, scanned[:1])
    unit = note.units[0]
    stored = connector.stored_bag(unit.din)
    assert (stored.issue_no, stored.product_code, stored.abo, stored.rhd, stored.volume, stored.collected_on,
            stored.expires_at) == (note.issue_no, unit.product_code, unit.abo, unit.rhd, unit.volume, unit.collected_on,
                                   unit.expires_at.replace(tzinfo=None))
    with pytest.raises(AlreadyReceived):
        connector.receive(note, scanned)
    assert connector.submit_return("TH2001", [note.units[0].din], "QUALITY").status == "PENDING"
    assert connector.recalled_in_stock(datetime.now() - timedelta(days=1)) == []
    centre.centre.recall([note.units[0].din])
    assert connector.recalled_in_stock(datetime.now() - timedelta(days=1)) == [note.units[0].din]


def test_an_unreachable_wsdl_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="cannot read the WSDL"):
        reference(BloodCenterSettings("http://127.0.0.1:9/BloodCenterService?wsdl", "H32010200001", "t", timeout_s=0.5))


def test_a_time_with_an_offset_is_read_as_local_time_not_with_its_offset_dropped() -> None:
    """A centre that writes `+08:00` or `Z`: the expiry of a bag and a notice's time are compared with the local
    clock, so the instant is kept whatever zone the centre or this machine is in."""
    from datetime import UTC, timezone

    from connectors.blood_center import _naive

    local_now = datetime.now().replace(microsecond=0)
    instant = local_now.astimezone()  # the same instant, with this machine's offset
    for zone in (UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))):
        assert _naive(instant.astimezone(zone)) == local_now, zone
    assert _naive(local_now) == local_now, "a time without an offset is local already"


def test_a_store_made_before_the_safety_fields_were_kept_is_extended_and_still_read(tmp_path: Path) -> None:
    """A blood-bank store written by an earlier version (DIN, issue, expiry only) opens, keeps its bags and reads
    them back with the fields it never had left empty; new receipts keep every safety field."""
    path = tmp_path / "blood-bank.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE received (din TEXT PRIMARY KEY, issue_no TEXT NOT NULL, expires_at TEXT NOT NULL, "
                "received_at REAL NOT NULL)")
    old.execute("INSERT INTO received VALUES ('B3201261001730', 'FX1', '2026-12-30T08:00:00', 0)")
    old.commit()
    old.close()
    bank = BloodBank(path)
    try:
        assert bank.bag("B3201261001730") == ("FX1", Bag("B3201261001730", "", "", "", 0, "", "2026-12-30T08:00:00"))
        bank.receive("FX2", [Bag("B3201261001731", "E0001", "A", "POS", 200, "2026-12-01", "2026-12-31T08:00:00")])
        assert bank.bag("B3201261001731") == ("FX2", Bag("B3201261001731", "E0001", "A", "POS", 200, "2026-12-01",
                                                         "2026-12-31T08:00:00"))
        assert bank.bag("B3201261009999") is None
    finally:
        bank.close()
