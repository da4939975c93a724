"""The MLLP partners' remembered clock check gives what the general check (`hl7_stamps`) gives, call after call."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contract.hl7.message import parse
from harness.contract.loader import ContractStore
from harness.contract.model import ClockSkew, ClockStamp, Contract
from mocks.clock_checks import hl7_stamps
from mocks.hl7_clock import PartnerClock
from tests.strategies import examples

LIS = ContractStore().load("lis", "2024.1")
NOW = datetime(2026, 12, 6, 12, 0, 0, 250_000)


def _stamp(offset_ms: int, form: str) -> str:
    """MSH-7 for a sender `offset_ms` off NOW, written one of the ways senders write it."""
    moment = NOW + timedelta(milliseconds=offset_ms)
    return {"second": moment.strftime("%Y%m%d%H%M%S"), "fraction": moment.strftime("%Y%m%d%H%M%S.%f")[:19],
            "minute": moment.strftime("%Y%m%d%H%M"), "date": moment.strftime("%Y%m%d"),
            "zone": moment.strftime("%Y%m%d%H%M%S") + "+0800", "month13": "20261306120000",
            "text": "yesterday", "component": moment.strftime("%Y%m%d%H%M%S") + "^x",
            "repeated": moment.strftime("%Y%m%d%H%M%S") + "~20200101", "blank": ""}[form]


FORMS = st.sampled_from(["second", "second", "second", "fraction", "minute", "date", "zone", "month13", "text",
                         "component", "repeated", "blank"])
# the sender's offset (a few recurring ones near the 300 s bound, so that a remembered MSH-7 meets a clock that has
# moved past it) and the receiver's clock moving on between messages
OFFSETS = st.sampled_from([-301_000, -300_000, -299_500, -298_000, 0, 298_000, 299_500, 300_000, 301_000])
# MSH-2 of the message: the same MSH-7 text reads otherwise when `~` is no repetition separator
ENCODINGS = st.sampled_from(["^~\\&", "^~\\&", "^#\\&"])
CALLS = st.lists(st.tuples(OFFSETS | st.integers(-400_000, 400_000), FORMS, st.integers(0, 1_500_000), ENCODINGS),
                 min_size=1, max_size=25)


def _agree(contract: Contract, calls: list[tuple[int, str, int, str]]) -> None:
    clock = PartnerClock()
    now = NOW
    for offset_ms, form, later_us, encoding in calls:
        now += timedelta(microseconds=later_us)
        for msh7 in (_stamp(offset_ms, form), _stamp(offset_ms, form)):  # the second time from memory
            msg = parse(f"MSH|{encoding}|HIS|HOSP|LIS|LAB|{msh7}||OML^O21^OML_O21|C1|P|2.5.1\rPID|1\r")
            assert clock.findings(contract, "OML^O21", msg, now) == hl7_stamps(contract, "OML^O21", msg, now)


@settings(max_examples=examples(300), deadline=None)
@given(calls=CALLS)
def test_the_remembered_check_gives_the_general_findings(calls: list[tuple[int, str, int, str]]) -> None:
    _agree(LIS, calls)


@settings(max_examples=examples(60), deadline=None)
@given(calls=CALLS, rule=st.sampled_from([
    None,
    ClockSkew(300.0, (ClockStamp("MSH-7", "hl7", None, ("ORU^R01",)),)),           # for another message only
    ClockSkew(60.0, (ClockStamp("MSH-7", "hl7", (0, 12)),)),                        # a slice of MSH-7
    ClockSkew(0.0, (ClockStamp("MSH-7", "hl7"),)),                                   # no margin at all
    ClockSkew(300.0, (ClockStamp("MSH-7", "hl7"), ClockStamp("PID-7", "hl7"))),     # two stamps
]))
def test_other_rules_take_the_general_check(calls: list[tuple[int, str, int, str]], rule: ClockSkew | None) -> None:
    _agree(dataclasses.replace(LIS, clock_skew=rule), calls)


def test_a_remembered_msh7_is_read_again_once_the_clock_leaves_its_span() -> None:
    clock = PartnerClock()
    msg = parse(f"MSH|^~\\&|HIS|HOSP|LIS|LAB|{NOW:%Y%m%d%H%M%S}||OML^O21^OML_O21|C1|P|2.5.1\r")
    assert clock.findings(LIS, "OML^O21", msg, NOW) == []
    found = clock.findings(LIS, "OML^O21", msg, NOW + timedelta(seconds=301))
    assert [f.rule for f in found] == ["clock_skew"] and "behind the receiver's clock" in found[0].message


def test_a_remembered_msh7_is_read_again_under_other_delimiters() -> None:
    """`~` repeats MSH-7 under `^~\\&`, and is part of its text under `^#\\&`: no valid time there."""
    clock = PartnerClock()
    msh7 = f"{NOW:%Y%m%d%H%M%S}~x"
    usual = parse(f"MSH|^~\\&|HIS|HOSP|LIS|LAB|{msh7}||OML^O21^OML_O21|C1|P|2.5.1\r")
    other = parse(f"MSH|^#\\&|HIS|HOSP|LIS|LAB|{msh7}||OML^O21^OML_O21|C2|P|2.5.1\r")
    assert clock.findings(LIS, "OML^O21", usual, NOW) == []
    found = clock.findings(LIS, "OML^O21", other, NOW)
    assert [f.rule for f in found] == ["clock_skew"] and "no valid time" in found[0].message
