"""Money in whole fen (0.01 yuan) as Python integers: exact, and several times cheaper than `Decimal` on the
settlement path, with the contract's rounding (half up at the fen, ties away from zero).

An amount arrives as a JSON number or a decimal string; it is read as the decimal text it is written as (a float is
read through `repr`, which is what `Decimal(str(x))` sees), so 12.345 is 1235 fen and 12.3449 is 1234, exactly as
`Decimal(str(x)).quantize(Decimal("0.01"), ROUND_HALF_UP)`. Products and shares (quantity × price, a fund's 70 %)
are computed on the exact integers and rounded once, like the `Decimal` expressions they replace.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

Fixed = tuple[int, int]
"""An exact decimal: (mantissa, scale), the value mantissa × 10**-scale."""


def fixed(value: Any) -> Fixed:
    """The exact decimal a JSON number or decimal string is written as; ValueError when it is none."""
    text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    whole, dot, frac = text.partition(".")
    if "e" in text or "E" in text or not (whole.lstrip("+-").isdigit() or (dot and whole.lstrip("+-") == "")):
        exact = Decimal(text)  # exponent notation and the odd spelling: Decimal reads them exactly
        if not exact.is_finite():
            raise ValueError(f"{value!r} is not an amount")
        sign, digits, exponent = exact.as_tuple()
        mantissa = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
        assert isinstance(exponent, int)
        return (mantissa * 10**exponent, 0) if exponent >= 0 else (mantissa, -exponent)
    if frac and not frac.isdigit():
        raise ValueError(f"{value!r} is not an amount")
    negative = whole.startswith("-")
    mantissa = int(whole.lstrip("+-") + frac or "0")
    return (-mantissa if negative else mantissa), len(frac)


def rounded(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up (ties away from zero), as ROUND_HALF_UP does."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return -quotient if (numerator < 0) != (denominator < 0) else quotient


def at_fen(value: Fixed) -> int:
    """An exact decimal rounded to whole fen."""
    mantissa, scale = value
    if scale <= 2:
        return mantissa * 10 ** (2 - scale)
    return rounded(mantissa, 10 ** (scale - 2))


def to_fen(value: Any) -> int:
    """A JSON amount (number or decimal string) in whole fen, rounded half up."""
    if type(value) is int:
        return value * 100
    if type(value) is str and len(value) <= 24:
        return _text_fen(value)  # the ledger's own texts ("70.00") come back on every settlement
    return at_fen(fixed(value))


@lru_cache(maxsize=8192)
def _text_fen(value: str) -> int:
    if value[-3:-2] == "." and value[-2:].isdigit() and value[:-3].lstrip("-").isdigit():
        return int(value[:-3] + value[-2:])  # already whole fen
    return at_fen(fixed(value))


def times(a: Fixed, b: Fixed) -> int:
    """a × b in whole fen, rounded once, half up."""
    return at_fen((a[0] * b[0], a[1] + b[1]))


def share(fen: int, percent: int) -> int:
    """`percent` % of an amount in fen, rounded half up (a fund's 70 %, a 10 % self-paid share)."""
    return rounded(fen * percent, 100)


def fen_text(fen: int) -> str:
    """The amount as `Decimal` prints a quantized one: "70.00", "-0.05"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def yuan(fen: int) -> float:
    """A JSON number with at most two decimals (the nearest double to fen / 100, as float(Decimal) gives)."""
    return fen / 100


def decimal(fen: int) -> Decimal:
    """The amount as a quantized `Decimal`, for callers that compare with one."""
    return Decimal(fen_text(fen))
