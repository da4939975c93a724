"""SpecFailure's text form is what the reports read back: round trip, one-line reason, foreign messages."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.failure import SpecFailure, parse_failure


def test_text_round_trips_through_parse() -> None:
    failure = SpecFailure("结算金额与费用明细合计不一致", expected="总额 32.50", actual="总额 30.00",
                          transaction="2207", detail="setl_info.medfee_sumamt")
    parsed = parse_failure(str(failure))
    assert parsed.reason == "结算金额与费用明细合计不一致"
    assert parsed.transaction == "2207"
    assert (parsed.expected, parsed.actual) == ("总额 32.50", "总额 30.00")
    assert parsed.detail == "setl_info.medfee_sumamt"
    assert isinstance(failure, AssertionError)


def test_a_foreign_message_is_all_reason() -> None:
    parsed = parse_failure("assert 1 == 2\nwhere 1 = f()")
    assert parsed.reason == "assert 1 == 2"
    assert parsed.expected is None and parsed.actual is None
    assert parsed.detail == "where 1 = f()"


line = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1).filter(lambda s: s.strip())


@given(reason=line, expected=line, actual=line)
def test_any_reason_expected_and_actual_survive(reason: str, expected: str, actual: str) -> None:
    parsed = parse_failure(str(SpecFailure(reason, expected=expected, actual=actual)))
    assert parsed.reason == " ".join(reason.split())
    assert parsed.expected == " ".join(expected.split())
    assert parsed.actual == " ".join(actual.split())
