"""Ordering of contract version names and the version expressions of `@contract>=…` tags."""

from __future__ import annotations

import pytest

from harness.contract.versions import compare, newest, satisfies, version_key


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
