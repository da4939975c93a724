"""The `refuse` fault over real sockets: while it is armed nothing listens on the partner's port (a connect is
refused at once), open connections are closed, the port stays the mock's; it listens again when the window ends or
the fault is cleared, from Python or the admin API."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from harness.contract.loader import load_contract
from harness.errors import UsageError
from mocks.base import MockService
from mocks.insurance import InsuranceMock
from mocks.registry import create_mock
from mocks.transport.faults import Fault
from mocks.transport.runtime import Runtime
from tests.conftest import ROOT, wait_for

NEWEST = {"insurance": "2025.1", "blood-center": "2025.1", "mch-platform": "2025.1", "lis": "2024.1", "pacs": "2024.1"}


def connects(port: int) -> bool:
    """Whether a TCP connect to the port is taken (False: refused at once)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except ConnectionRefusedError:
        return False


@pytest.fixture(scope="module", params=sorted(NEWEST))
def partner(request: pytest.FixtureRequest, runtime: Runtime) -> Iterator[MockService]:
    mock = create_mock(load_contract(ROOT / "contracts" / request.param / NEWEST[request.param]))
    mock.start(runtime, "127.0.0.1", 0)
    yield mock
    mock.reset()


def test_every_partner_refuses_until_cleared_and_then_listens_on_the_same_port(partner: MockService) -> None:
    assert partner.endpoint is not None
    port = partner.endpoint.port
    open_before = socket.create_connection(("127.0.0.1", port), timeout=2)
    try:
        partner.inject("refuse", times=None)
        started = time.monotonic()
        assert not connects(port)
        assert time.monotonic() - started < 0.5  # refused, not left to time out
        open_before.settimeout(2)
        assert open_before.recv(1) == b""  # the open connection was closed, as a stopped service's are
        other = socket.socket()
        with pytest.raises(OSError):  # nobody else takes the port meanwhile
            other.bind(("127.0.0.1", port))
        other.close()
        assert [f.kind for f in partner.faults.fired] == ["refuse"]
    finally:
        open_before.close()
        partner.reset()
    assert connects(port)


def test_a_window_ends_by_itself(runtime: Runtime, mock: InsuranceMock) -> None:
    assert mock.endpoint is not None
    mock.inject("refuse", window_s=0.3)
    assert not connects(mock.endpoint.port)
    wait_for(lambda: connects(mock.endpoint.port) if mock.endpoint else False, timeout=3)
    assert mock.faults.armed() == []


def test_an_http_client_with_a_pooled_connection_sees_connection_refused(mock: InsuranceMock) -> None:
    assert mock.endpoint is not None
    with httpx.Client(base_url=mock.endpoint.url, timeout=2) as client:
        client.get("/__nothing__")  # a keep-alive connection in the pool
        mock.inject("refuse")
        with pytest.raises(httpx.ConnectError):
            client.get("/__nothing__")
        mock.faults.clear()
        assert client.get("/__nothing__").status_code in (404, 405)


def test_the_admin_api_arms_and_clears_a_refusal(admin: httpx.Client, mock: InsuranceMock) -> None:
    assert mock.endpoint is not None
    created = admin.post("/insurance/faults", json={"kind": "refuse", "window_s": 30})
    assert created.status_code == 201, created.text
    wait_for(lambda: not connects(mock.endpoint.port) if mock.endpoint else False)
    assert [f["kind"] for f in admin.get("/insurance/faults").json()["armed"]] == ["refuse"]
    assert admin.delete("/insurance/faults").status_code == 204
    wait_for(lambda: connects(mock.endpoint.port) if mock.endpoint else False)


@pytest.mark.parametrize("fields, problem", [
    ({"operation": "2207"}, "whole port"),
    ({"window_s": -1}, "window_s"),
    ({"window_s": "soon"}, "window_s"),
])
def test_a_refusal_is_for_the_whole_port_and_a_bounded_window(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        Fault.from_dict({"kind": "refuse", **fields})


def test_refusing_is_described_in_the_list_of_kinds() -> None:
    from mocks.transport.faults import KINDS, PASSIVE

    assert "refuse" in KINDS and "refuse" in PASSIVE  # never taken by a transport for one exchange
