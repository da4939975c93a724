"""The clock_skew rule as the SOAP mocks read it: the first element of the named local name, in any namespace,
against the partner's clock; other operations and elements not named are not read. The read (a search in libxml2)
finds what a walk splitting every tag finds."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings
from lxml import etree

from harness.contract.clock import clock_findings
from harness.contract.loader import ContractStore
from mocks.clock_checks import xml_stamps
from tests.conftest import CONTRACTS
from tests.strategies import examples
from tests.xml_trees import xml_trees

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


def _scan(root: etree._Element, at: str) -> str | None:
    """The lookup as first written: every element's tag split, the first of that local name with text."""
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.rpartition("}")[2] == at and element.text:
            return element.text
    return None


_NAMESPACES = ("urn:hih:blood-center:service", "urn:other", "")
_TIMES = ("2026-12-01T08:00:00", "2026-12-01T10:01:00", "", "later")


_BODIES = xml_trees(["{urn:hih:blood-center:service}ConfirmReceipt"], ["receivedAt", "receivedBy", "item", "xreceivedAt"],
                    _NAMESPACES, _TIMES, max_elements=10)
"""Bodies with receivedAt elements anywhere: namespaced or not, nested, repeated, empty, beside comments."""


@settings(max_examples=examples(300), deadline=None)
@given(_BODIES)
def test_the_stamp_read_is_the_first_of_its_local_name_with_text(body: etree._Element) -> None:
    contract = ContractStore(CONTRACTS).load("blood-center")
    expected = clock_findings(contract.clock_skew, "ConfirmReceipt", lambda at: _scan(body, at), NOW)
    assert xml_stamps(contract, "ConfirmReceipt", [body], NOW) == expected
