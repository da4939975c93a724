"""The maternal-child platform mock served on a real loopback socket (one per module, reset per test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.contract.loader import ContractStore
from mocks.mch_platform import MchPlatformMock
from mocks.registry import create_mock
from mocks.transport.runtime import Runtime


@pytest.fixture(scope="module")
def served() -> Iterator[MchPlatformMock]:
    runtime = Runtime().start()
    mock = create_mock(ContractStore().load("mch-platform"))
    assert isinstance(mock, MchPlatformMock)
    mock.start(runtime)
    yield mock
    runtime.stop()


@pytest.fixture
def platform(served: MchPlatformMock) -> MchPlatformMock:
    served.reset()
    return served
