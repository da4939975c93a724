"""Contract engine: load versioned contract folders into typed models and validate messages against them."""

from __future__ import annotations

from harness.contract.errors import ContractError, ContractProblem
from harness.contract.findings import Finding, Severity, has_errors
from harness.contract.loader import ContractStore, load_contract, register_format
from harness.contract.model import CodeTable, Contract, Format, Operation, Rule, Signing

__all__ = [
    "CodeTable",
    "Contract",
    "ContractError",
    "ContractProblem",
    "ContractStore",
    "Finding",
    "Format",
    "Operation",
    "Rule",
    "Severity",
    "Signing",
    "has_errors",
    "load_contract",
    "register_format",
]
