"""The clock_skew rule as the SOAP mocks read it: the first element of the named local name, in any namespace,
against the partner's clock; other operations and elements not named are not read."""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from harness.contract.loader import ContractStore
from mocks.clock_checks import xml_stamps
from tests.conftest import CONTRACTS

NOW = datetime(2026, 12, 1, 10, 0, 0)
RECEIPT = ('<t:ConfirmReceipt xmlns:t="urn:hih:blood-center:service"><!-- a note --><t:issueNo>I1</t:issueNo>'
           "<t:receivedAt>{at}</t:receivedAt><t:receivedBy>输血科</t:receivedBy></t:ConfirmReceipt>")


def stamps(operation: str, at: str) -> list[str]:
    contract = ContractStore(CONTRACTS).load("blood-center")
    body = etree.fromstring(RECEIPT.format(at=at).encode())
    return [f.rule for f in xml_stamps(contract, operation, [body], NOW)]


def test_a_stamp_far_from_the_partners_clock_is_a_finding() -> None:
    assert stamps("ConfirmReceipt", "2026-12-01T08:00:00") == ["clock_skew"]


def test_a_stamp_within_the_allowed_skew_or_in_another_operation_is_not() -> None:
    assert stamps("ConfirmReceipt", "2026-12-01T10:02:00") == []
    assert stamps("SubmitBloodOrder", "2026-12-01T08:00:00") == []
