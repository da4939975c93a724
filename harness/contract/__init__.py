"""Contract engine: load versioned contract folders into typed models and validate messages against them.

The names below are imported on first use (PEP 562), so that importing one submodule, as `hih --help` does for
the errors, does not load jsonschema and the YAML reader with the loader."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "ContractError": "errors", "ContractProblem": "errors",
    "Finding": "findings", "Severity": "findings", "has_errors": "findings",
    "ContractStore": "loader", "load_contract": "loader", "register_format": "loader",
    "CodeTable": "model", "Contract": "model", "Format": "model", "Operation": "model", "Rule": "model",
    "Signing": "model",
}

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


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"harness.contract.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'harness.contract' has no attribute {name!r}")
