"""The clock check of an MLLP partner (the contract's `clock_skew` rule at MSH-7), its answer remembered per MSH-7.

A hospital stamps MSH-7 to the second, so a busy partner reads the same MSH-7 text for every message of a second and
checks it against a clock that moved by microseconds. Where the rule is the usual one (one HL7 timestamp at MSH-7,
for every message), `PartnerClock` remembers, for each MSH-7 text that passed, the span of the partner's clock in
which it passes (a millisecond inside each end) and the delimiters it was read with (MSH-2 decides what a `~` or an
escape in it means); a message whose MSH-7 is remembered with its own delimiters and whose `now` falls inside has no
finding, without reading the field again. Anything else, and every finding, comes from
`mocks.clock_checks.hl7_stamps`, the general check (the oracle of this one in the tests).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from harness.contract.clock import read_time
from harness.contract.findings import Finding
from harness.contract.hl7.escape import Separators
from harness.contract.hl7.message import Message
from harness.contract.model import ClockSkew, Contract
from mocks.clock_checks import hl7_stamps

GUARD = timedelta(milliseconds=1)
"""How far inside the rule's bounds a remembered span ends: float rounding at the edge is the general check's call."""
KEPT = 256
"""MSH-7 texts remembered (forgotten all at once past this: they change every second)."""


class PartnerClock:
    """`hl7_stamps` for one partner's messages, with the passing MSH-7 texts remembered (see the module)."""

    def __init__(self) -> None:
        self._rule: ClockSkew | None = None
        self._fast = False
        self._margin = timedelta(0)
        self._spans: dict[str, tuple[Separators, datetime, datetime]] = {}

    def _follow(self, rule: ClockSkew | None) -> None:
        """Take the contract's rule (again after a reset to another contract): remember spans only for the usual one."""
        self._rule = rule
        self._spans = {}
        stamps = rule.stamps if rule is not None else ()
        self._fast = (rule is not None and len(stamps) == 1 and stamps[0].at == "MSH-7" and not stamps[0].chars
                      and stamps[0].format == "hl7" and not stamps[0].operations)
        self._margin = timedelta(seconds=rule.max_s) - GUARD if rule is not None else timedelta(0)

    def findings(self, contract: Contract, operation: str | None, message: Message, now: datetime) -> list[Finding]:
        """What `hl7_stamps(contract, operation, message, now)` gives."""
        rule = contract.clock_skew
        if rule is not self._rule:
            self._follow(rule)
        if not self._fast:
            return hl7_stamps(contract, operation, message, now)
        segments = message.segments
        raw = ""
        if segments and segments[0].name == "MSH":
            fields = segments[0].fields
            raw = fields[7] if len(fields) > 7 else ""
            span = self._spans.get(raw)
            if span is not None and span[1] < now < span[2] and (span[0] is message.seps or span[0] == message.seps):
                return []
        found = hl7_stamps(contract, operation, message, now)
        if not found and raw:
            moment = read_time(message.get("MSH-7"), "hl7")
            if isinstance(moment, datetime) and self._margin > timedelta(0):
                if len(self._spans) >= KEPT:
                    self._spans = {}
                self._spans[raw] = (message.seps, moment - self._margin, moment + self._margin)
        return found
