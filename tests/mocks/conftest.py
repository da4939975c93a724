"""Fixtures shared by the mock tests: the admin API of the session's insurance mock."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mocks.insurance import InsuranceMock
from mocks.transport.admin import admin_app
from mocks.transport.runtime import Runtime


@pytest.fixture(scope="module")
def _admin_port(runtime: Runtime, _mock_2024: InsuranceMock) -> Iterator[int]:
    listener = runtime.serve_http(admin_app({"insurance": _mock_2024}), "127.0.0.1", 0)
    yield listener.port
    runtime.call(listener.stop())


@pytest.fixture
def admin(_admin_port: int, mock: InsuranceMock) -> Iterator[httpx.Client]:
    """A client of the admin API serving the (reset) session mock."""
    with httpx.Client(base_url=f"http://127.0.0.1:{_admin_port}/__hih", timeout=5) as client:
        yield client
