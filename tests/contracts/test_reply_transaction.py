"""Which transaction a captured JSON reply answers: from the request it was journaled with, from `--transaction`, or
from an output only one transaction can hold; otherwise the envelope alone is checked, never a guess."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.insurance import InsuranceConnector
from harness.cli import main
from harness.contract.findings import Severity
from harness.contract.loader import ContractStore
from harness.contract.model import Contract
from harness.contract.validate import validate_capture
from harness.errors import UsageError
from harness.ports.insurance import Certificate, FeeItem, InsuranceSettings
from mocks.insurance import TEST_PAASID, TEST_SECRET, InsuranceMock
from tests.conftest import DATA

CAPTURES = DATA / "captures"


def body(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CAPTURES / name).read_text(encoding="utf-8"))
    return loaded


def raw(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


@pytest.fixture(scope="module")
def contract_2025(store: ContractStore) -> Contract:
    return store.load("insurance", "2025.1")


def test_a_lone_settlement_reply_is_not_guessed(contract_2025: Contract) -> None:
    """2206, 2206A, 2207, 2207A and 2208 answer with the same shape: which one this is, nothing says."""
    checked = validate_capture(contract_2025, (CAPTURES / "2207-response.json").read_bytes())

    assert checked.operation is None
    assert [(f.severity, f.location, f.rule) for f in checked.findings] == [(Severity.INFO, "/output", "output")]
    assert "2206, 2206A, 2207, 2207A, 2208" in checked.findings[0].message and "--transaction" in checked.findings[0].message


def test_an_empty_output_gets_envelope_checks_only(contract_2025: Contract) -> None:
    """`output: {}` used to be read as a settlement and earn a false "setlinfo required" error."""
    reply = {**body("2207-response.json"), "output": {}}

    checked = validate_capture(contract_2025, raw(reply))

    assert not any(f.severity is Severity.ERROR for f in checked.findings)
    assert [f.severity for f in checked.findings] == [Severity.INFO] and "2203A" in checked.findings[0].message


def test_an_output_only_one_transaction_holds_determines_it(contract_2025: Contract) -> None:
    checked = validate_capture(contract_2025, (CAPTURES / "1101-response.json").read_bytes())

    assert (checked.operation, checked.findings) == ("1101", [])


def test_transaction_given_checks_the_reply_as_that_transaction(contract_2025: Contract) -> None:
    """A pre-settlement reply (no settlement id yet) is right as 2206 or 2206A and wrong as a settlement."""
    pre = (CAPTURES / "2206-response.json").read_bytes()

    checked = {tx: validate_capture(contract_2025, pre, tx) for tx in ("2206", "2206A", "2207", "2207A")}

    assert {tx: c.operation for tx, c in checked.items()} == {tx: tx for tx in checked}
    assert checked["2206"].findings == checked["2206A"].findings == []
    for tx in ("2207", "2207A"):
        assert [(f.severity, f.location) for f in checked[tx].findings] == [(Severity.ERROR, "/output/setlinfo/setl_id")]


def test_transaction_given_for_a_request_must_be_its_infno(contract_2025: Contract) -> None:
    checked = validate_capture(contract_2025, (CAPTURES / "2207-request.json").read_bytes(), "2206")

    assert [(f.location, f.rule) for f in checked.findings] == [("/infno", "transaction")]


def test_transaction_is_refused_where_it_means_nothing(store: ContractStore, contract_2025: Contract) -> None:
    with pytest.raises(UsageError, match="--transaction applies to JSON-over-HTTP contracts"):
        validate_capture(store.load("lis", "2024.1"), b"MSH|^~\\&|", "ORU^R01")
    with pytest.raises(UsageError, match=r"--transaction 2209: not a transaction of insurance@2025.1 \(known: 9001"):
        validate_capture(contract_2025, b"{}", "2209")


def test_hih_validate_takes_transaction(capsys: pytest.CaptureFixture[str]) -> None:
    file = CAPTURES / "2207-response.json"

    code = main(["validate", "--interface", "insurance", "--contract-version", "2025.1", "--transaction", "2207A",
                 str(file)])
    out = capsys.readouterr().out.splitlines()

    assert (code, out) == (0, [f"{file}: ok response 2207A"])
    code = main(["validate", "--interface", "lis", "--transaction", "ORU^R01", str(file)])
    assert code == 2 and "--transaction applies to JSON-over-HTTP contracts" in capsys.readouterr().err


# -- journal pairing -----------------------------------------------------------------------------------------------
ITEMS = [FeeItem("F0001", "XJ01CAA040A001010100028", "H0001", "阿莫西林胶囊", Decimal("2"), Decimal("12.50"))]


def journal_of_a_visit(mock: InsuranceMock) -> dict[str, Any]:
    """What `GET /__hih/insurance/journal` returns after a settlement and its cancel."""
    assert mock.endpoint is not None
    connector = InsuranceConnector(InsuranceSettings(
        base_url=mock.endpoint.url, paasid=TEST_PAASID, secret=TEST_SECRET, timeout_s=2.0,
        contract_folder=str(mock.contract.folder), contract_version=mock.contract.version))
    try:
        seeded = mock.person("employee")
        cert = Certificate("02", seeded.certno)
        visit = connector.register_visit(connector.query_person(cert), cert, "OTPJ001")
        connector.upload_fees(visit, "B001", ITEMS)
        settlement = connector.settle(visit, cert, "B001", Decimal("25.00"))
        connector.cancel_settlement(settlement, visit)
    finally:
        connector.close()
    return json.loads(json.dumps({"entries": [e.to_dict() for e in mock.journal.entries()]}, ensure_ascii=False))


def test_a_journal_export_pairs_each_reply_with_its_request(mock: InsuranceMock, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    journal = journal_of_a_visit(mock)
    file = tmp_path / "journal.json"
    file.write_text(json.dumps(journal, ensure_ascii=False), encoding="utf-8")

    code = main(["validate", "--interface", "insurance", "--contract-version", "2024.1", str(file)])

    assert (code, capsys.readouterr().out.splitlines()) == (0, [f"{file}: ok journal 9001,1101,2201,2204,2207,2208"])


def test_a_journal_reply_is_checked_against_its_own_request(mock: InsuranceMock, contract_2024: Contract) -> None:
    journal = journal_of_a_visit(mock)
    index = next(i for i, e in enumerate(journal["entries"]) if e["operation"] == "2207")
    journal["entries"][index]["response"]["output"]["setlinfo"]["medins_setl_id"] = "H33010600001202612060000009999"

    checked = validate_capture(contract_2024, raw(journal))

    assert [(f.location, f.rule) for f in checked.findings] == [
        (f"/entries/{index}/response/output/setlinfo/medins_setl_id", "medins-setl-id")]
