"""Which mock class plays which interface's partner; adding an interface adds a line here."""

from __future__ import annotations

import importlib
from pathlib import Path

from harness.contract.model import Contract
from harness.errors import UsageError
from mocks.base import MockService
from mocks.state import open_store

MOCKS: dict[str, str] = {
    "insurance": "mocks.insurance:InsuranceMock",
    "mch-platform": "mocks.mch_platform:MchPlatformMock",
    "blood-center": "mocks.blood_center:BloodCenterMock",
    "lis": "mocks.lis:LisMock",
    "pacs": "mocks.pacs:PacsMock",
}


def mock_class(interface: str) -> type[MockService]:
    if interface not in MOCKS:
        raise UsageError(f"no mock for interface {interface!r} (mocks exist for: {', '.join(sorted(MOCKS))})")
    module, _, name = MOCKS[interface].partition(":")
    cls: type[MockService] = getattr(importlib.import_module(module), name)
    return cls


def create_mock(contract: Contract, state: Path | None = None) -> MockService:
    """A mock for the contract's interface, its state in memory or in the SQLite file `state`."""
    return mock_class(contract.interface)(contract, open_store(state))
