"""The contract's `clock_skew` rule as the mocks apply it at receipt, one reader per transport.

Each returns findings (rule `clock_skew`) for the timestamps a message carries, read against the partner's clock
(`MockService.clock()`, which a `clock` fault shifts). They go into the journal beside the other findings: the
message is still processed, and the scenario's guard fails it unless the scenario allows `clock_skew`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: a JSON or HL7 mock never imports lxml
    from lxml import etree

from harness.contract.clock import clock_findings
from harness.contract.findings import Finding
from harness.contract.hl7.message import Message
from harness.contract.model import Contract


def json_stamps(contract: Contract, operation: str | None, body: Any, now: datetime) -> list[Finding]:
    """Timestamps at JSON pointers (`/inf_time`) of a request body."""

    def read(at: str) -> str | None:
        node = body
        for part in at.strip("/").split("/"):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node if isinstance(node, str) else None

    return clock_findings(contract.clock_skew, operation, read, now)


def xml_stamps(contract: Contract, operation: str | None, elements: Iterable[etree._Element],
               now: datetime) -> list[Finding]:
    """Timestamps in XML elements named by their local name (`receivedAt`): the first one in each of `elements`
    (a SOAP body, or each record a batch carries)."""
    findings: list[Finding] = []
    for root in elements:

        def read(at: str, root: etree._Element = root) -> str | None:
            # `{*}name`: the elements of that local name in any namespace or none, matched in libxml2's walk
            for element in root.iter("{*}" + at):
                if element.text:
                    return element.text
            return None

        findings.extend(clock_findings(contract.clock_skew, operation, read, now))
    return findings


def hl7_stamps(contract: Contract, operation: str | None, message: Message, now: datetime) -> list[Finding]:
    """Timestamps at HL7 fields (`MSH-7`) of a message or an acknowledgement."""
    return clock_findings(contract.clock_skew, operation, lambda at: message.get(at) or None, now)
