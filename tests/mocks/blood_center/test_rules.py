"""The blood centre's rules over SOAP (zeep on a real socket): idempotent order numbers, feedback states, issue
rules (no expired or recalled bag, groups match), receipt once, returns need a receipt, fees only for issued bags."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

import pytest

from harness.contract.isbt128 import din_problem
from mocks.blood_center import BloodCenterMock, CentreError
from tests.mocks.blood_center.conftest import Caller, order


def issued(call: Caller, centre: BloodCenterMock, number: str = "ORD1001") -> list[str]:
    assert call("SubmitBloodOrder", order=order(number)).ResultCode == "0"
    centre.centre.accept(f"{centre.hospital}/{number}")
    issue = centre.centre.issue(f"{centre.hospital}/{number}")
    dins: list[str] = issue["dins"]
    return dins


class Discrepancy(Protocol):
    """One line of a receipt's discrepancy list, as zeep reads it."""

    type: str
    din: str


class Receipt(Protocol):
    """ConfirmReceipt's answer, as zeep reads it."""

    ResultCode: str
    ResultMessage: str
    accepted: int
    discrepancy: list[Discrepancy]


def receive(call: Caller, issue_no: str, dins: list[str], **bag: str) -> Receipt:
    units = [{"din": d, "abo": bag.get("abo", "A"), "rhd": bag.get("rhd", "POS"), "condition": "INTACT"} for d in dins]
    return call("ConfirmReceipt", issueNo=issue_no, receivedAt=datetime(2026, 1, 1, 12), receivedBy="输血科", unit=units)


def test_the_seeded_inventory_has_valid_dins_and_some_expired_bags(centre: BloodCenterMock) -> None:
    bags = centre.centre.bags()
    assert len(bags) > 200 and all(din_problem(b["din"]) is None for b in bags)
    assert len({b["din"] for b in bags}) == len(bags)
    assert any(centre.centre.expired(b) for b in bags) and any(not centre.centre.expired(b) for b in bags)
    assert {b["abo"] for b in bags} == {"A", "B", "O", "AB"} and {b["rhd"] for b in bags} == {"POS", "NEG"}
    for bag in bags:
        assert date.fromisoformat(bag["collectedOn"]) < datetime.fromisoformat(bag["expiresAt"]).date()
        assert Decimal(bag["price"]) > 0 and bag["volume"] > 0


def test_an_order_number_is_idempotent_for_the_same_content_and_refused_for_other_content(call: Caller, centre: BloodCenterMock) -> None:
    first = call("SubmitBloodOrder", order=order())
    again = call("SubmitBloodOrder", order=order())
    assert (first.ResultCode, first.status) == ("0", "RECEIVED")
    assert (again.ResultCode, again.receivedAt, again.orderNo) == ("0", first.receivedAt, "ORD1001")
    other = call("SubmitBloodOrder", order=order(urgency="EMERGENCY"))
    assert other.ResultCode == "2001" and "内容不同" in other.ResultMessage
    assert centre.centre.store.count("orders") == 1


def test_an_order_kept_by_an_earlier_version_keeps_its_content_digest(call: Caller, centre: BloodCenterMock,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A state file written before the digest was made with orjson holds the standard library's digest: the same
    content is still the same order, other content still 2001."""
    from mocks.blood_center import centre as centre_module

    with monkeypatch.context() as earlier:
        earlier.setattr(centre_module, "fingerprint", centre_module._json_fingerprint)
        first = call("SubmitBloodOrder", order=order())
    again = call("SubmitBloodOrder", order=order())
    assert (again.ResultCode, again.receivedAt) == ("0", first.receivedAt)
    other = call("SubmitBloodOrder", order=order(urgency="EMERGENCY"))
    assert other.ResultCode == "2001"


def test_the_journal_keeps_the_order_as_sent_while_the_centre_keeps_it_normalised(call: Caller,
                                                                                 centre: BloodCenterMock) -> None:
    data = order()
    data["item"][1]["quantity"] = Decimal("200.0")
    assert call("SubmitBloodOrder", order=data).ResultCode == "0"
    (exchange,) = centre.exchanges("SubmitBloodOrder")
    assert [i["quantity"] for i in exchange.request["body"]["order"]["item"]] == ["2", "200.0"]
    stored = centre.centre.store.get("orders", f"{centre.hospital}/ORD1001")
    assert [i["requested"] for i in stored["items"]] == ["2", "200"]


def test_a_unit_that_does_not_fit_the_product_is_refused(call: Caller, centre: BloodCenterMock) -> None:
    data = order()
    data["item"][1]["unit"] = "U"
    reply = call("SubmitBloodOrder", order=data)
    assert reply.ResultCode == "1001" and "mL" in reply.ResultMessage
    assert centre.centre.store.count("orders") == 0


def test_feedback_follows_the_states(call: Caller, centre: BloodCenterMock) -> None:
    call("SubmitBloodOrder", order=order())
    assert call("QueryOrderFeedback", orderNo="ORD1001").feedback.status == "RECEIVED"
    centre.centre.accept_partially(f"{centre.hospital}/ORD1001", {1: Decimal(1)}, "库存紧张")
    feedback = call("QueryOrderFeedback", orderNo="ORD1001").feedback
    assert feedback.status == "PARTIAL" and feedback.item[0].confirmed == Decimal(1) and feedback.item[0].reason == "库存紧张"
    centre.centre.issue(f"{centre.hospital}/ORD1001")
    assert call("QueryOrderFeedback", orderNo="ORD1001").feedback.status == "ISSUED"
    assert call("QueryOrderFeedback", orderNo="NOSUCH1").ResultCode == "2002"
    with pytest.raises(CentreError, match="RECEIVED"):
        centre.centre.reject(f"{centre.hospital}/ORD1001", "太晚了")


def test_issued_bags_match_the_order_and_are_neither_expired_nor_recalled(call: Caller, centre: BloodCenterMock) -> None:
    first_a = sorted((b for b in centre.centre.bags(productCode="E0001", abo="A", rhd="POS", status="AVAILABLE")
                      if not centre.centre.expired(b)), key=lambda b: b["expiresAt"])[0]["din"]
    centre.centre.recall([first_a])
    dins = issued(call, centre)
    assert first_a not in dins
    for din in dins:
        bag = centre.centre.store.get("inventory", din)
        assert (bag["abo"], bag["rhd"]) == ("A", "POS") and not centre.centre.expired(bag)
    call("SubmitBloodOrder", order=order("ORD1002"))
    centre.centre.accept(f"{centre.hospital}/ORD1002")
    expired = next(b["din"] for b in centre.centre.bags(productCode="E0001", abo="A", rhd="POS") if centre.centre.expired(b))
    wrong_group = next(b["din"] for b in centre.centre.bags(productCode="E0001", abo="B", rhd="POS", status="AVAILABLE")
                       if not centre.centre.expired(b))
    for din, why in ((expired, "已过期"), (first_a, "已召回"), (wrong_group, "不符"), (dins[0], "已发出")):
        with pytest.raises(CentreError, match=why):
            centre.centre.issue(f"{centre.hospital}/ORD1002", [din])


def test_a_bag_is_received_once_and_checked(call: Caller, centre: BloodCenterMock) -> None:
    dins = issued(call, centre)
    issue_no = centre.centre.store.get("inventory", dins[0])["issueNo"]
    bad = dins[0][:-2] + ("61" if dins[0][-2:] != "61" else "62")
    assert receive(call, issue_no, [bad]).ResultCode == "2101"
    assert receive(call, "FX00000000000", dins).ResultCode == "2104"
    first = receive(call, issue_no, dins[:1])
    assert first.ResultCode == "0" and first.accepted == 1
    assert {(d.type, d.din) for d in first.discrepancy} == {("MISSING", d) for d in dins[1:]}
    again = receive(call, issue_no, dins)
    assert again.ResultCode == "2102" and dins[0] in again.ResultMessage
    rest = receive(call, issue_no, dins[1:])
    assert rest.ResultCode == "0" and rest.accepted == len(dins) - 1 and not rest.discrepancy


def test_a_return_needs_a_received_bag_and_waits_for_approval(call: Caller, centre: BloodCenterMock) -> None:
    dins = issued(call, centre)
    issue_no = centre.centre.store.get("inventory", dins[0])["issueNo"]
    refused = call("SubmitReturn", returnNo="TH1001", din=[dins[0]], reason="QUALITY")
    assert refused.ResultCode == "2201"
    receive(call, issue_no, dins)
    ack = call("SubmitReturn", returnNo="TH1001", din=[dins[0]], reason="QUALITY")
    assert (ack.ResultCode, ack.status) == ("0", "PENDING")
    assert call("SubmitReturn", returnNo="TH1001", din=[dins[0]], reason="QUALITY").status == "PENDING"
    assert call("SubmitReturn", returnNo="TH1001", din=[dins[0]], reason="OTHER").ResultCode == "2202"
    assert call("SubmitReturn", returnNo="TH1002", din=[dins[0]], reason="QUALITY").ResultCode == "2204"
    assert call("QueryReturnStatus", returnNo="TH9999").ResultCode == "2203"
    centre.centre.decide_return(f"{centre.hospital}/TH1001", True)
    status = call("QueryReturnStatus", returnNo="TH1001")
    assert (status.status, status.din) == ("APPROVED", [dins[0]]) and status.decidedAt is not None
    with pytest.raises(CentreError, match="已审核"):
        centre.centre.decide_return(f"{centre.hospital}/TH1001", False, "改主意")


def test_fees_are_for_issued_bags_in_the_period(call: Caller, centre: BloodCenterMock) -> None:
    today = date.today()
    assert call("QueryUnitFees", fromDate=today, toDate=today).count == 0
    dins = issued(call, centre)
    fees = call("QueryUnitFees", fromDate=today, toDate=today)
    assert sorted(f.din for f in fees.fee) == sorted(dins) and fees.count == len(dins)
    assert fees.total == sum((Decimal(centre.centre.store.get("inventory", d)["price"]) for d in dins), Decimal(0))
    assert call("QueryUnitFees", fromDate=today - timedelta(days=9), toDate=today - timedelta(days=1)).count == 0
    assert call("QueryUnitFees", fromDate=today - timedelta(days=200), toDate=today).ResultCode == "2301"


def test_cancellation_until_issued(call: Caller, centre: BloodCenterMock) -> None:
    call("SubmitBloodOrder", order=order())
    assert call("CancelBloodOrder", orderNo="ORD1001", reason="手术取消").status == "CANCELLED"
    assert call("CancelBloodOrder", orderNo="ORD1001", reason="手术取消").status == "CANCELLED"
    issued(call, centre, "ORD1002")
    assert call("CancelBloodOrder", orderNo="ORD1002", reason="x").ResultCode == "2003"


def test_notices_and_crossmatch_results(call: Caller, centre: BloodCenterMock) -> None:
    since = datetime.now() - timedelta(days=3)
    assert [n.type for n in call("QueryNotices", since=since).notice] == ["POLICY", "SHORTAGE"]
    dins = issued(call, centre)
    centre.centre.recall(dins[:1])
    recall = call("QueryNotices", since=since).notice[-1]
    assert (recall.type, recall.din) == ("RECALL", dins[:1])
    assert centre.centre.store.get("inventory", dins[0])["status"] == "ISSUED", "an issued bag stays issued; the notice recalls it"
    samples = call("QueryCrossmatchResults").sample
    assert [s.sampleNo for s in samples] == ["PX0000000001", "PX0000000002"] and samples[0].PatientName
    assert [s.sampleNo for s in call("QueryCrossmatchResults", sampleNo="PX0000000002").sample] == ["PX0000000002"]
    with pytest.raises(CentreError):
        centre.centre.post_notice("GOSSIP", "t", "c")


def test_every_answer_conforms_to_the_contract(call: Caller, centre: BloodCenterMock) -> None:
    issued(call, centre)
    call("DownloadIssuedUnits", orderNo="ORD1001")
    call("QueryCrossmatchResults")
    call("QueryNotices", since=datetime.now() - timedelta(days=3))
    exchanges = [e for e in centre.journal.entries() if e.operation]
    assert exchanges and all(not e.response_findings and not e.request_findings for e in exchanges), \
        [(e.operation, e.response_findings) for e in exchanges if e.response_findings]
