"""Which mock class plays which interface's partner: each interface's descriptor names it
(`harness.contract.interfaces`); this module resolves and starts it."""

from __future__ import annotations

from pathlib import Path

from harness.contract.interfaces import INTERFACES, resolve
from harness.contract.model import Contract
from harness.errors import UsageError
from mocks.base import MockService
from mocks.state import open_store

MOCKS: dict[str, str] = {name: described.mock for name, described in INTERFACES.items()}
"""Interface -> its mock class as `module:Class` (from the descriptors)."""


def mock_class(interface: str) -> type[MockService]:
    if interface not in MOCKS:
        raise UsageError(f"no mock for interface {interface!r} (mocks exist for: {', '.join(sorted(MOCKS))})")
    cls: type[MockService] = resolve(MOCKS[interface])
    return cls


def create_mock(contract: Contract, state: Path | None = None) -> MockService:
    """A mock for the contract's interface, its state in memory or in the SQLite file `state`."""
    return mock_class(contract.interface)(contract, open_store(state))
