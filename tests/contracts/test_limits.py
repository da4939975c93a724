"""contract.yaml `limits:`: read into the contract, checked by the meta-schema, located at its line when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contract.errors import ContractError
from harness.contract.loader import load_contract
from harness.contract.model import Contract, Limits
from tests.conftest import edit, line_of


def test_a_contract_without_limits_leaves_them_to_the_transport(contract_2024: Contract) -> None:
    assert contract_2024.limits == Limits()


def test_limits_are_read_from_contract_yaml(contract_copy: Path) -> None:
    yaml = contract_copy / "contract.yaml"
    edit(yaml, "http:\n", "limits:\n  max_body_bytes: 65536\n  max_depth: 12\n  max_headers: 40\nhttp:\n")
    contract = load_contract(contract_copy)
    assert contract.limits == Limits(max_body_bytes=65536, max_depth=12, max_headers=40)


@pytest.mark.parametrize(("line", "words"), [
    ("  max_depth: 1000\n", "max_depth"),
    ("  max_body_bytes: 10\n", "max_body_bytes"),
    ("  max_bodybytes: 4096\n", "max_bodybytes"),
])
def test_a_wrong_limit_is_a_problem_at_its_line(contract_copy: Path, line: str, words: str) -> None:
    yaml = contract_copy / "contract.yaml"
    edit(yaml, "http:\n", f"limits:\n{line}http:\n")
    with pytest.raises(ContractError) as caught:
        load_contract(contract_copy)
    problem = caught.value.problems[0]
    assert problem.path == yaml and words in problem.message
    assert problem.line in (line_of(yaml, line.strip()), line_of(yaml, "limits:"))


def test_contract_diff_classifies_limit_changes(contract_copy: Path, contract_2024: Contract) -> None:
    from harness.contract.diff import Classification, diff_contracts

    edit(contract_copy / "contract.yaml", "http:\n", "limits:\n  max_body_bytes: 65536\nhttp:\n")
    lowered = [c for c in diff_contracts(contract_2024, load_contract(contract_copy)).changes if c.category == "limits-changed"]
    assert [(c.classification, c.location) for c in lowered] == [(Classification.BREAKING, "contract.yaml /limits/max_body_bytes")]
    assert "requests over the new limit are refused" in lowered[0].message
    raised = [c for c in diff_contracts(load_contract(contract_copy), contract_2024).changes if c.category == "limits-changed"]
    assert [c.classification for c in raised] == [Classification.COMPATIBLE]
