"""Ordering of contract version names and the version expressions of `@contract>=…` tags."""

from __future__ import annotations

from datetime import date

import pytest

from harness.contract.versions import (
    VersionDates,
    compare,
    in_force,
    newest,
    parse_day,
    satisfies,
    upcoming,
    version_key,
)


def test_numeric_parts_compare_as_numbers() -> None:
    assert sorted(["2024.10", "2023.1", "2024.2", "2024.1"], key=version_key) == ["2023.1", "2024.1", "2024.2", "2024.10"]
    assert newest(["2024.2", "2024.10", "2023.1"]) == "2024.10"
    assert compare("2024.1", "2023.1") == 1
    assert compare("2023.1", "2024.1") == -1
    assert compare("2024.1", "2024.1") == 0


@pytest.mark.parametrize(("version", "expression", "expected"), [
    ("2024.1", ">=2024.1", True),
    ("2023.1", ">=2024.1", False),
    ("2023.1", "<2024.1", True),
    ("2024.1", "<2024.1", False),
    ("2024.1", "<=2024.1", True),
    ("2024.10", ">2024.2", True),
    ("2023.1", "==2023.1", True),
    ("2023.1", "=2023.1", True),
    ("2023.1", "2023.1", True),
    ("2024.1", "2023.1", False),
    ("2024.1", "!=2023.1", True),
    ("2024.1", " >= 2024.1 ", True),
])
def test_satisfies(version: str, expression: str, expected: bool) -> None:
    assert satisfies(version, expression) is expected


@pytest.mark.parametrize("expression", ["", "   ", ">= 2024.1 2025.1"])
def test_satisfies_refuses_what_is_not_an_expression(expression: str) -> None:
    with pytest.raises(ValueError, match="not a version expression"):
        satisfies("2024.1", expression)


# -- policy dates: which version is in force on a day ------------------------------------------------------------
DATES = [VersionDates("2023.1", date(2023, 1, 1)), VersionDates("2024.1", None, date(2024, 3, 1)),
         VersionDates("2027.1", date(2027, 7, 1), date(2026, 12, 1))]


@pytest.mark.parametrize(("day", "expected"), [
    (date(2022, 12, 31), None),
    (date(2023, 1, 1), "2023.1"),
    (date(2024, 2, 29), "2023.1"),
    (date(2024, 3, 1), "2024.1"),          # no `effective`: in force from `released`
    (date(2027, 6, 30), "2024.1"),         # released in 2026 but not in force until 2027-07-01
    (date(2027, 7, 1), "2027.1"),
])
def test_the_newest_version_in_force_on_a_day(day: date, expected: str | None) -> None:
    assert in_force(DATES, day) == expected


def test_upcoming_versions_and_a_version_without_dates() -> None:
    assert [d.version for d in upcoming(DATES, date(2026, 11, 22))] == ["2027.1"]
    assert VersionDates("1.0", None).in_force(date(1990, 1, 1))
    assert parse_day("2027-07-01") == date(2027, 7, 1)
    assert parse_day("2027-02-30") is None and parse_day("next year") is None
