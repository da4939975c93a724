"""The same mock app in-process through httpx.ASGITransport: no socket, the same behaviour and journal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from harness.contract.model import Contract
from harness.contract.signing import tif_headers
from mocks.insurance import TEST_PAASID, TEST_SECRET, InsuranceMock
from mocks.transport.http import SimulatedNoReply, SimulatedReset
from tests.conftest import envelope

SIGN_IN = {"signIn": {"opter_no": "100234", "ip": "10.0.0.10"}}


@pytest.fixture(scope="module")
def offline(contract_2024: Contract) -> InsuranceMock:
    """A mock that never listens on a socket."""
    return InsuranceMock(contract_2024)


def in_process(mock: InsuranceMock, scenario: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        transport = httpx.ASGITransport(app=mock.asgi_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://insurance.test") as client:
            return await scenario(client)

    return asyncio.run(main())


def post(client: httpx.AsyncClient, mock: InsuranceMock, infno: str, data: dict[str, Any], sign_no: str = "") -> Awaitable[httpx.Response]:
    body = envelope(infno, data, sign_no=sign_no)
    assert mock.contract.http is not None
    path = f"{mock.contract.http.base_path}/{mock.contract.operations[infno].path}"
    return client.post(path, content=json.dumps(body, ensure_ascii=False).encode(),
                       headers={**tif_headers(mock.contract.signing, TEST_PAASID, TEST_SECRET),
                                "Content-Type": mock.contract.http.content_type})


def test_sign_in_and_person_query_in_process(offline: InsuranceMock) -> None:
    offline.reset()
    person = offline.person("resident")

    async def scenario(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
        signed = (await post(client, offline, "9001", SIGN_IN)).json()
        sign_no = signed["output"]["signinoutb"]["sign_no"]
        found = (await post(client, offline, "1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": person.ec_token}},
                            sign_no)).json()
        return signed, found

    signed, found = in_process(offline, scenario)

    assert signed["infcode"] == 0 and found["infcode"] == 0
    assert found["output"]["baseinfo"]["psn_no"] == person.psn_no
    assert found["output"]["insuinfo"][0]["insutype"] == "390"
    entries = offline.exchanges()
    assert [e.operation for e in entries] == ["9001", "1101"]
    assert all(e.peer == "127.0.0.1:123" for e in entries)  # the client address httpx.ASGITransport reports
    assert all(e.request_valid and e.response_valid for e in entries)


def test_reset_fault_raises_simulated_reset_in_process(offline: InsuranceMock) -> None:
    offline.reset()
    offline.inject("reset", operation="9001")

    with pytest.raises(SimulatedReset):
        in_process(offline, lambda client: post(client, offline, "9001", SIGN_IN))

    assert offline.journal.last().fault == "reset"  # type: ignore[union-attr]
    assert offline.store.count("sessions") == 1, "phase after: processed, then the connection was 'reset'"
    assert issubclass(SimulatedReset, ConnectionResetError)


def test_no_reply_fault_raises_simulated_no_reply_in_process(offline: InsuranceMock) -> None:
    offline.reset()
    offline.inject("no_reply", operation="9001", phase="before")

    with pytest.raises(SimulatedNoReply):
        in_process(offline, lambda client: post(client, offline, "9001", SIGN_IN))

    assert offline.journal.last().fault == "no_reply"  # type: ignore[union-attr]
    assert offline.store.count("sessions") == 0
    assert issubclass(SimulatedNoReply, TimeoutError)


def test_other_faults_behave_the_same_in_process(offline: InsuranceMock) -> None:
    offline.reset()
    offline.inject("http_status", operation="9001", status=504)
    offline.inject("malformed", operation="9001")

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await post(client, offline, "9001", SIGN_IN) for _ in range(3)]

    first, second, third = in_process(offline, scenario)

    assert first.status_code == 504 and first.json()["type"] == "error"
    assert second.status_code == 200 and second.content.startswith(b'{"infcode":0')
    with pytest.raises(json.JSONDecodeError):
        second.json()
    assert third.json()["infcode"] == 0
    assert [e.fault for e in offline.exchanges()] == ["http_status", "malformed", None]


def test_oversized_body_is_refused(offline: InsuranceMock) -> None:
    offline.reset()

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/fsi/api/signInSignOutService/signIn", content=b" " * (8 * 2**20 + 1))

    response = in_process(offline, scenario)
    assert response.status_code == 413 and response.json()["type"] == "error" and "过大" in response.json()["err_msg"]
    refused = offline.journal.last()
    assert refused is not None and refused.request_raw == b"" and refused.status == 413
    assert [f.rule for f in refused.request_findings] == ["body-size"]
