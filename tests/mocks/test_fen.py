"""Whole-fen arithmetic gives exactly what the Decimal expressions it replaced gave (half up at the fen)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mocks.fen import decimal, fen_text, fixed, share, times, to_fen, yuan

CENT = Decimal("0.01")
amounts = st.one_of(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.integers(min_value=-10**12, max_value=10**12),
    st.decimals(min_value=-10**9, max_value=10**9, places=4, allow_nan=False).map(str),
)


def old_money(value: object) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@given(amounts)
def test_to_fen_is_decimal_half_up(value: object) -> None:
    assert decimal(to_fen(value)) == old_money(value)
    assert fen_text(to_fen(value)) == str(old_money(value)).replace("-0.00", "0.00")  # no negative zero in fen


@given(amounts, amounts)
def test_a_product_is_rounded_once_like_decimal(a: object, b: object) -> None:
    exact = Decimal(str(a)) * Decimal(str(b))
    assert decimal(times(fixed(a), fixed(b))) == exact.quantize(CENT, rounding=ROUND_HALF_UP)


@given(st.integers(min_value=-10**12, max_value=10**12), st.sampled_from([0, 10, 50, 60, 70, 100]))
def test_a_share_is_rounded_like_decimal(fen: int, percent: int) -> None:
    exact = Decimal(fen) / 100 * (Decimal(percent) / 100)
    assert decimal(share(fen, percent)) == exact.quantize(CENT, rounding=ROUND_HALF_UP)


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_an_amount_goes_out_as_the_float_decimal_gives(fen: int) -> None:
    assert yuan(fen) == float(decimal(fen))


@pytest.mark.parametrize(("value", "fen"), [(12.345, 1235), (12.3449, 1234), (-0.005, -1), ("0.005", 1), (70, 7000),
                                            ("70.00", 7000), ("-0.05", -5), (1e-05, 0), (2.5e3, 250000)])
def test_ties_go_away_from_zero(value: object, fen: int) -> None:
    assert to_fen(value) == fen


@pytest.mark.parametrize("value", ["abc", "1.2.3", "NaN", "Infinity", True, ""])
def test_what_is_no_amount_is_refused(value: object) -> None:
    with pytest.raises((ValueError, ArithmeticError)):
        to_fen(value)
