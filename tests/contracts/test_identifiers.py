"""GB 11643-1999 resident ID numbers: the ISO 7064 MOD 11-2 check character, birth dates, shapes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.contract.identifiers import is_resident_id, resident_id_check_char, resident_id_problem
from mocks.population import generate

# 11010519491231002X and 440524188001010014 are the examples printed in GB 11643-1999.
VALID = ["11010519491231002X", "440524188001010014"]


@pytest.mark.parametrize("number", VALID)
def test_known_valid_numbers(number: str) -> None:
    assert resident_id_check_char(number[:17]) == number[17]
    assert resident_id_problem(number) is None
    assert is_resident_id(number)


def test_check_character_by_hand() -> None:
    # 1*7 + 1*9 + 0*10 + 1*5 + 0*8 + 5*4 + 1*2 + 9*1 + 4*6 + 9*3 + 1*7 + 2*9 + 3*10 + 1*5 + 0*8 + 0*4 + 2*2 = 167;
    # 167 mod 11 = 2, and position 2 of "10X98765432" is X.
    assert resident_id_check_char("11010519491231002") == "X"


@pytest.mark.parametrize("wrong", ["110105194912310021", "110105194912310020", "440524188001010015"])
def test_wrong_check_character_names_the_expected_one(wrong: str) -> None:
    problem = resident_id_problem(wrong)
    assert problem is not None and problem.startswith(f"check character is {wrong[17]}, expected ")
    assert not is_resident_id(wrong)


@pytest.mark.parametrize(("number", "why"), [
    ("11010519491231002x", "17 digits and a check character"),   # lower-case x
    ("1101051949123100", "17 digits and a check character"),     # too short
    ("11010519491231002XX", "17 digits and a check character"),  # too long
    ("110105194902300027", "(19490230) are not a valid birth date"),
])
def test_malformed_numbers(number: str, why: str) -> None:
    problem = resident_id_problem(number)
    assert problem is not None and why in problem


def test_check_char_needs_17_digits() -> None:
    with pytest.raises(ValueError, match="need 17 digits"):
        resident_id_check_char("1101051949123100X")


def test_every_synthetic_person_has_a_valid_number_matching_sex_and_birth_date() -> None:
    people = generate(size=200)
    assert len({p.certno for p in people}) == 200
    for person in people:
        assert is_resident_id(person.certno), person.certno
        assert person.certno[6:14] == person.brdy.replace("-", "")
        assert person.gend == ("1" if int(person.certno[16]) % 2 else "2")


@given(st.text(st.characters(categories=["Nd"]), min_size=17, max_size=17) | st.from_regex(r"\A[0-9]{17}\Z"))
def test_the_check_character_is_iso_7064_mod_11_2_for_any_digits(first17: str) -> None:
    # the formula as the standard writes it, digit by digit (any script's decimal digits, as `\d` takes them)
    expected = "10X98765432"[sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17)) % 11]
    assert resident_id_check_char(first17) == expected
