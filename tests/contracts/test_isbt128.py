"""ISBT 128 DIN check (ISO 7064 MOD 37-2) against the ICCBBA test vectors."""

from __future__ import annotations

import pytest

from harness.contract.isbt128 import check_character, din_problem, is_valid_din, make_din, mod37_2, type3_flag


@pytest.mark.parametrize(("data", "value", "char", "flag"), [
    ("G123417654321", 10, "A", "70"),
    ("G151723600001", 33, "X", "93"),
    ("A999914123456", 23, "N", "83"),
])
def test_published_vectors(data: str, value: int, char: str, flag: str) -> None:
    assert mod37_2(data) == value
    assert check_character(data) == char
    assert type3_flag(data) == flag
    assert make_din(data) == data + flag
    assert is_valid_din(data + flag) and is_valid_din("=" + data + flag)


def test_every_single_character_change_is_caught() -> None:
    din = make_din("G123417654321")
    for position in range(13):
        for digit in "0123456789":
            changed = din[:position] + digit + din[position + 1:]
            if changed != din and changed[0] != "0":
                assert din_problem(changed) is not None, changed


@pytest.mark.parametrize(("value", "says"), [
    ("G12341765432171", "check flag is 71, expected 70"),
    ("G12341765432100", "not a Type-3 check flag"),
    ("O12341765432170", "α, 12 digits"),
    ("G1234176543217", "α, 12 digits"),
    ("", "α, 12 digits"),
])
def test_problems_are_named(value: str, says: str) -> None:
    problem = din_problem(value)
    assert problem is not None and says in problem


def test_bad_characters_are_refused() -> None:
    with pytest.raises(ValueError, match="not an ISO 7064"):
        mod37_2("g1")
    with pytest.raises(ValueError, match="data part"):
        type3_flag("G12")
