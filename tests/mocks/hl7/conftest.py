"""The mock LIS and mock PACS started on the session's runtime at free loopback ports, reset for each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.contract.loader import ContractStore
from mocks.registry import create_mock
from mocks.transport.runtime import Runtime

_STARTED: dict[str, Any] = {}


@pytest.fixture(params=["lis", "pacs"])
def partner(request: pytest.FixtureRequest, runtime: Runtime, store: ContractStore) -> Iterator[Any]:
    """The mock LIS, then the mock PACS (each started once for the session)."""
    name = request.param
    if name not in _STARTED:
        mock = create_mock(store.load(name))
        mock.start(runtime)
        _STARTED[name] = mock
    mock = _STARTED[name]
    mock.reset()
    yield mock
    mock.reset()
