"""Gherkin tags that the plugin turns into markers: `@contract<op>VERSION` only, a bare `@contract` is a plain tag."""

from __future__ import annotations

from typing import Any

from harness.plugin import pytest_bdd_apply_tag


def _marks(function: Any) -> list[Any]:
    return list(getattr(function, "pytestmark", []))


def test_contract_expression_becomes_a_contract_marker() -> None:
    def scenario() -> None: ...

    assert pytest_bdd_apply_tag("contract>=2024.1", scenario) is True
    assert [(m.name, m.args) for m in _marks(scenario)] == [("contract", (">=2024.1",))]


def test_bare_contract_tag_is_left_to_pytest_bdd() -> None:
    def scenario() -> None: ...

    assert pytest_bdd_apply_tag("contract", scenario) is None
    assert pytest_bdd_apply_tag("contracts", scenario) is None
    assert _marks(scenario) == []
