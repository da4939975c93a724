"""The A transactions of contract 2025.1 (2203A, 2206A, 2207A) over a socket: the reference connector sends the forms
its region uses, the mock handles them as their siblings, and reversal and faults follow the form sent."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from connectors.insurance import InsuranceConnector
from harness.contract.loader import ContractStore
from harness.contract.model import Contract
from harness.ports.insurance import Certificate, FeeItem, InsuranceSettings, SettlementNotCompleted, Visit
from mocks.insurance import TEST_PAASID, TEST_SECRET, InsuranceMock
from mocks.transport.runtime import Runtime
from tests.conftest import wait_for

ITEMS = [FeeItem("F0001", "XJ01CAA040A001010100028", "H0001", "阿莫西林胶囊", Decimal("2"), Decimal("12.50"))]
TOTAL = Decimal("25.00")
A_FORMS = ("2203A", "2206A", "2207A")


@pytest.fixture(scope="module")
def contract_2025(store: ContractStore) -> Contract:
    return store.load("insurance", "2025.1")


@pytest.fixture(scope="module")
def _mock_2025(runtime: Runtime, contract_2025: Contract) -> Iterator[InsuranceMock]:
    mock = InsuranceMock(contract_2025)
    mock.start(runtime)
    yield mock


@pytest.fixture
def mock(_mock_2025: InsuranceMock) -> InsuranceMock:
    _mock_2025.reset()
    return _mock_2025


def connect(mock: InsuranceMock, transactions: tuple[str, ...] = A_FORMS) -> InsuranceConnector:
    assert mock.endpoint is not None
    return InsuranceConnector(InsuranceSettings(
        base_url=mock.endpoint.url, paasid=TEST_PAASID, secret=TEST_SECRET, timeout_s=0.3,
        contract_folder=str(mock.contract.folder), contract_version=mock.contract.version, transactions=transactions))


def visit_with_fees(connector: InsuranceConnector, mock: InsuranceMock, otp: str) -> tuple[Visit, Certificate]:
    seeded = mock.person("employee")
    cert = Certificate("03", seeded.card_no, seeded.card_sn)
    person = connector.query_person(cert)
    visit = connector.register_visit(person, cert, otp)
    connector.upload_visit_info(visit, "J06.900", "急性上呼吸道感染")
    connector.upload_fees(visit, "B001", ITEMS)
    return visit, cert


def test_a_visit_in_a_region_that_uses_the_a_forms(mock: InsuranceMock) -> None:
    connector = connect(mock)
    try:
        visit, cert = visit_with_fees(connector, mock, "OTPA001")
        pre = connector.pre_settle(visit, cert, "B001", TOTAL)
        settlement = connector.settle(visit, cert, "B001", TOTAL)
        cancelled = connector.cancel_settlement(settlement, visit)
    finally:
        connector.close()

    assert [e.operation for e in mock.exchanges()] == ["9001", "1101", "2201", "2203A", "2204", "2206A", "2207A", "2208"]
    paths = {e.operation: e.meta["path"] for e in mock.exchanges()}
    assert (paths["2203A"], paths["2206A"], paths["2207A"]) == (
        "/fsi/api/outpatientDocInfoService/outpatientMdtrtinfoUpA", "/fsi/api/outpatientSettleService/preSettletmentA",
        "/fsi/api/outpatientSettleService/saveSettletment")
    assert pre.setl_id is None and settlement.setl_id and settlement.medins_setl_id == settlement.msgid
    assert settlement.medfee_sumamt == TOTAL == settlement.fund_pay_sumamt + settlement.psn_part_amt
    assert cancelled.medfee_sumamt == -TOTAL
    visit_row = mock.visit(visit.mdtrt_id)
    assert visit_row is not None and visit_row["med_type"] == "11" and visit_row["diseinfo"]  # 2203A did 2203's work
    broken = [(e.operation, str(f)) for e in mock.exchanges() for f in e.request_findings + e.response_findings]
    assert broken == [], "every message conforms to contract 2025.1, the rules included"


def test_without_a_region_setting_the_plain_forms_go(mock: InsuranceMock) -> None:
    connector = connect(mock, ())
    try:
        visit, cert = visit_with_fees(connector, mock, "OTPA002")
        connector.settle(visit, cert, "B001", TOTAL)
    finally:
        connector.close()

    assert [e.operation for e in mock.exchanges()][-3:] == ["2203", "2204", "2207"]


def test_a_lost_2207a_is_reversed_as_2207a_and_a_fault_armed_for_2207_fires_on_it(mock: InsuranceMock) -> None:
    connector = connect(mock)
    try:
        visit, cert = visit_with_fees(connector, mock, "OTPA003")
        mock.inject("no_reply", operation="2207", phase="after")  # as the specs arm it: by the transaction

        with pytest.raises(SettlementNotCompleted) as caught:
            connector.settle(visit, cert, "B001", TOTAL)
    finally:
        connector.close()

    assert caught.value.reversed is True
    wait_for(lambda: mock.journal.last("2207A"))
    reversal = mock.journal.last("2601")
    assert reversal is not None and reversal.request["input"]["data"]["oinfno"] == "2207A"
    assert [s["status"] for s in mock.settlements(visit.mdtrt_id)] == ["reversed"]
    assert mock.transaction_of("2207A") == "2207" and mock.transaction_of("2201") == "2201"


def test_a_variant_posted_to_its_siblings_path_is_refused(mock: InsuranceMock) -> None:
    connector = connect(mock)
    try:
        visit, cert = visit_with_fees(connector, mock, "OTPA004")
        body = connector._envelope("2207A", {"data": {**connector._settle_data(visit, cert, "B001", TOTAL, True),
                                                      "pub_hosp_rfom_flag": "1"}}, connector.msgids.next(), None)
        body["sign_no"] = connector.sign_no
    finally:
        connector.close()
    assert mock.endpoint is not None
    from harness.contract.signing import tif_headers

    assert mock.contract.signing is not None
    reply = httpx.post(f"{mock.endpoint.url}/fsi/api/outpatientSettleService/saveSettletmentV2", json=body,
                       headers=tif_headers(mock.contract.signing, TEST_PAASID, TEST_SECRET), timeout=2.0).json()

    assert reply["infcode"] == -1 and "2207A" in reply["err_msg"] and "path of 2207" in reply["err_msg"]


def test_a_region_setting_names_only_variants_of_the_contract(mock: InsuranceMock, contract_2024: Contract) -> None:
    with pytest.raises(ValueError, match="2209A is not a variant transaction of contract insurance@2025.1"):
        connect(mock, ("2209A",))
    assert mock.endpoint is not None
    with pytest.raises(ValueError, match="2207A is not a variant transaction of contract insurance@2024.1"):
        InsuranceConnector(InsuranceSettings(base_url=mock.endpoint.url, paasid="p", secret="s",
                                             contract_folder=str(contract_2024.folder), transactions=("2207A",)))
