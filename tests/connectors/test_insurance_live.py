"""The reference connector against the real insurance mock over a socket: a whole visit, and a lost settlement."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from connectors.insurance import InsuranceConnector
from harness.ports.insurance import Certificate, FeeItem, InsuranceSettings, Refused, SettlementNotCompleted
from mocks.insurance import TEST_PAASID, TEST_SECRET, InsuranceMock
from tests.conftest import wait_for

ITEMS = [
    FeeItem("F0001", "XJ01CAA040A001010100028", "H0001", "阿莫西林胶囊", Decimal("2"), Decimal("12.50")),
    FeeItem("F0002", "XA10BAA002A001010100397", "H0002", "二甲双胍缓释片", Decimal("1"), Decimal("30.00")),
]
TOTAL = Decimal("55.00")


@pytest.fixture
def connector(mock: InsuranceMock) -> Iterator[InsuranceConnector]:
    assert mock.endpoint is not None
    settings = InsuranceSettings(base_url=mock.endpoint.url, paasid=TEST_PAASID, secret=TEST_SECRET, timeout_s=0.3,
                                 contract_folder=str(mock.contract.folder), contract_version=mock.contract.version)
    made = InsuranceConnector(settings)
    yield made
    made.close()


def test_a_whole_outpatient_visit(connector: InsuranceConnector, mock: InsuranceMock) -> None:
    seeded = mock.person("employee")
    cert = Certificate("03", seeded.card_no, seeded.card_sn)

    person = connector.query_person(cert)
    visit = connector.register_visit(person, cert, "OTP0001")
    connector.upload_visit_info(visit, "J06.900", "急性上呼吸道感染")
    fees = connector.upload_fees(visit, "B001", ITEMS)
    pre = connector.pre_settle(visit, cert, "B001", TOTAL)
    settlement = connector.settle(visit, cert, "B001", TOTAL)
    cancelled = connector.cancel_settlement(settlement, visit)

    assert person.psn_no == seeded.psn_no and person.balance == Decimal("1500.00")
    assert [f.chrgitm_lv for f in fees] == ["01", "02"]
    assert pre.setl_id is None and settlement.setl_id
    assert settlement.medfee_sumamt == TOTAL == settlement.fund_pay_sumamt + settlement.psn_part_amt
    assert settlement.medins_setl_id == settlement.msgid
    assert settlement.balance == Decimal("1500.00") - settlement.acct_pay
    assert cancelled.medfee_sumamt == -TOTAL and cancelled.balance == Decimal("1500.00")
    assert mock.balance(seeded.psn_no) == Decimal("1500.00")
    operations = [e.operation for e in mock.exchanges()]
    assert operations == ["9001", "1101", "2201", "2203", "2204", "2206", "2207", "2208"]
    broken = [(e.operation, str(f)) for e in mock.exchanges() for f in e.request_findings + e.response_findings]
    assert broken == [], "every message that crossed the mock conforms to contract 2024.1"


@pytest.mark.parametrize(("phase", "reversed_"), [("after", True), ("before", False)])
def test_a_lost_settlement_is_undone_on_the_platform(connector: InsuranceConnector, mock: InsuranceMock,
                                                     phase: str, reversed_: bool) -> None:
    seeded = mock.person("employee")
    cert = Certificate("02", seeded.certno)
    person = connector.query_person(cert)
    visit = connector.register_visit(person, cert, "OTP0002")
    connector.upload_fees(visit, "B001", ITEMS)
    mock.inject("no_reply", operation="2207", phase=phase)

    with pytest.raises(SettlementNotCompleted) as caught:
        connector.settle(visit, cert, "B001", TOTAL)

    assert caught.value.reversed is reversed_
    wait_for(lambda: mock.journal.last("2207"))  # the held request is journalled once the connector hangs up
    assert mock.balance(seeded.psn_no) == Decimal("1500.00"), "the patient is not charged"
    assert [s["status"] for s in mock.settlements(visit.mdtrt_id)] == (["reversed"] if reversed_ else [])
    reversal = mock.journal.last("2601")
    assert reversal is not None and reversal.request["input"]["data"]["omsgid"] == caught.value.msgid

    again = connector.settle(visit, cert, "B001", TOTAL)  # the HIS may settle again with a new msgid
    assert again.msgid != caught.value.msgid and again.setl_id


def test_platform_refusal_reaches_the_caller(connector: InsuranceConnector, mock: InsuranceMock) -> None:
    suspended = mock.person("suspended")
    person = connector.query_person(Certificate("02", suspended.certno))
    assert not person.insured
    with pytest.raises(Refused) as caught:
        connector.register_visit(person, Certificate("02", suspended.certno), "OTP0003")
    assert caught.value.infno == "2201" and "暂停" in caught.value.message


def test_the_connector_signs_in_again_after_a_platform_reset(connector: InsuranceConnector, mock: InsuranceMock) -> None:
    seeded = mock.person("resident")
    connector.query_person(Certificate("01", seeded.ec_token))
    mock.reset()  # the platform forgets every session

    assert connector.query_person(Certificate("01", seeded.ec_token)).psn_no == seeded.psn_no
    assert [e.operation for e in mock.exchanges()] == ["1101", "9001", "1101"]
