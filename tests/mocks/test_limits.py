"""The input-limits layer of the HTTP transport, over a real socket to the insurance mock: body size from the
Content-Length and while streaming, JSON depth, headers and Content-Type. Each refusal is the partner's own error
answer with its HTTP status and a journal finding, never a traceback, and the mock answers a valid request after."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from harness.contract.loader import load_contract
from harness.contract.model import Contract
from harness.contract.signing import tif_headers
from mocks.insurance import TEST_PAASID, TEST_SECRET, InsuranceMock
from mocks.transport.limits import InputLimits
from tests.conftest import Wire, edit, envelope
from tests.mocks import rawhttp

SIGN_IN = {"signIn": {"opter_no": "100234", "ip": "10.0.0.10"}}


def raw_exchange(mock: InsuranceMock, head: bytes, body_chunks: list[bytes] | None = None, timeout: float = 10) -> bytes:
    assert mock.endpoint is not None
    return rawhttp.raw_exchange(mock.endpoint.port, head, body_chunks, timeout)


def gateway_error(response: httpx.Response) -> str:
    body = response.json()
    assert body["type"] == "error" and body["infcode"] == -1, body
    message: str = body["err_msg"]
    return message


def still_answers(wire: Wire) -> None:
    assert wire.call("9001", SIGN_IN)["infcode"] == 0


def test_a_100000_deep_body_is_a_400_finding_even_with_a_forged_signature(mock: InsuranceMock, wire: Wire) -> None:
    body = b'{"infno":"9001","input":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    forged = {**wire.headers(secret="guessed"), "Content-Type": "application/json"}
    response = wire.http.post(wire.path("9001"), content=body, headers=forged)
    assert response.status_code == 400 and "嵌套超过 64 层" in gateway_error(response)
    refused = mock.journal.last()
    assert refused is not None and refused.status == 400 and refused.meta["refused"] == "json-depth"
    assert [f.message for f in refused.request_findings] == ["JSON nested 100001 levels deep, over the limit of 64"]
    still_answers(wire)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=gbk", None])
def test_a_body_not_sent_as_the_contract_says_is_415_and_not_processed(mock: InsuranceMock, wire: Wire,
                                                                       content_type: str | None) -> None:
    headers = tif_headers(mock.contract.signing, TEST_PAASID, TEST_SECRET)
    if content_type:
        headers["Content-Type"] = content_type
    body = json.dumps(envelope("9001", SIGN_IN), ensure_ascii=False).encode()
    response = wire.http.post(wire.path("9001"), content=body, headers=headers)
    assert response.status_code == 415 and "Content-Type 应为 application/json; charset=utf-8" in gateway_error(response)
    refused = mock.journal.last()
    assert refused is not None and [(f.rule, f.location) for f in refused.request_findings] == [("content-type", "Content-Type")]
    assert mock.store.count("sessions") == 0, "a refused request is not processed"
    still_answers(wire)


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=UTF-8", 'application/json;charset="utf-8"'])
def test_the_contracts_media_type_is_accepted_with_or_without_its_charset(wire: Wire, content_type: str) -> None:
    body = json.dumps(envelope("9001", SIGN_IN), ensure_ascii=False).encode()
    response = wire.http.post(wire.path("9001"), content=body, headers={**wire.headers(), "Content-Type": content_type})
    assert response.status_code == 200 and response.json()["infcode"] == 0


def test_an_oversized_content_length_is_refused_before_the_body_is_sent(mock: InsuranceMock, wire: Wire) -> None:
    head = (f"POST {wire.path('9001')} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {100 * 2**20}\r\n\r\n").encode()
    answer = raw_exchange(mock, head, timeout=5)  # no body sent at all: the answer must not wait for it
    assert answer.startswith(b"HTTP/1.1 413 ") and b"connection: close" in answer.lower()
    assert "请求报文过大".encode() in answer
    refused = mock.journal.last()
    assert refused is not None and refused.meta["refused"] == "body-size" and refused.request_raw == b""
    still_answers(wire)


def test_a_streamed_body_is_cut_off_once_over_the_limit(mock: InsuranceMock, wire: Wire) -> None:
    head = (f"POST {wire.path('9001')} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    chunk = b"%x\r\n%s\r\n" % (2**20, b" " * 2**20)
    answer = raw_exchange(mock, head, [chunk] * 40)  # 40 MiB offered, the limit is 8 MiB
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    refused = mock.journal.last()
    assert refused is not None and "over the limit of 8388608 bytes" in refused.request_findings[0].message
    assert refused.request_raw == b"", "the journal does not keep what was refused for its size"
    still_answers(wire)


@pytest.mark.parametrize("head", [
    b"".join(b"X-Filler-%d: 1\r\n" % n for n in range(101)),
    b"X-Big: " + b"a" * 40_000 + b"\r\n",
    b"X-Big: " + b"a" * (50 * 2**20),  # a header line that never ends
])
def test_an_oversized_request_head_is_431_and_never_reaches_the_mock(mock: InsuranceMock, wire: Wire, head: bytes) -> None:
    before = len(mock.journal)
    answer = raw_exchange(mock, b"GET /fsi/api HTTP/1.1\r\nHost: 127.0.0.1\r\n" + head + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert len(mock.journal) == before
    still_answers(wire)


def test_numbers_json_cannot_hold_are_a_gateway_error(mock: InsuranceMock, wire: Wire) -> None:
    for body in (b'{"infno": ' + b"9" * 5000 + b"}", b'{"infno": "9001", "x": NaN}'):
        response = wire.http.post(wire.path("9001"), content=body, headers=wire.headers())
        assert response.status_code == 200 and "JSON 数值无法识别" in gateway_error(response)
    still_answers(wire)


# -- limits set by the contract ---------------------------------------------------------------------------------------
@pytest.fixture
def strict(contract_copy: Path) -> Contract:
    edit(contract_copy / "contract.yaml", "http:\n", "limits:\n  max_body_bytes: 4096\n  max_depth: 8\nhttp:\n")
    return load_contract(contract_copy)


def test_the_contract_sets_the_limits(strict: Contract, contract_2024: Contract) -> None:
    assert InputLimits.of(contract_2024) == InputLimits(content_types=("application/json",), charset="utf-8", json_depth=True)
    limits = InputLimits.of(strict)
    assert (limits.max_body_bytes, limits.max_depth, limits.max_headers) == (4096, 8, 100)


def test_contract_limits_apply_in_process(strict: Contract) -> None:
    mock = InsuranceMock(strict)

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=mock.asgi_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://insurance.test") as client:
            headers = {**tif_headers(strict.signing, TEST_PAASID, TEST_SECRET), "Content-Type": "application/json"}
            path = "/fsi/api/signInSignOutService/signIn"
            big = json.dumps(envelope("9001", {"signIn": {"opter_no": "1" * 5000}})).encode()
            deep = json.dumps(envelope("9001", {"signIn": {"x": [[[[[[[[1]]]]]]]]}})).encode()
            fine = json.dumps(envelope("9001", SIGN_IN)).encode()
            return [await client.post(path, content=body, headers={**headers, **tif_headers(strict.signing, TEST_PAASID, TEST_SECRET)})
                    for body in (big, deep, fine)]

    big, deep, fine = asyncio.run(scenario())
    assert big.status_code == 413 and "上限 4096 字节" in gateway_error(big)
    assert deep.status_code == 400 and "嵌套超过 8 层" in gateway_error(deep)
    assert fine.status_code == 200 and fine.json()["infcode"] == 0
