"""Property-based hostile input to the SOAP mocks (blood centre, maternal-child platform), in-process: envelopes built
from the WSDL for every operation, then broken in the tree and in the bytes (and, for the platform, the XML records
its payloads carry). Whatever comes: no 5xx but a SOAP Fault `Client` (SOAP 1.1 answers a fault with 500), never a
`Server` fault, no exception out of the app, an answer that fits the contract, and a valid request answered after."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from harness.contract.loader import ContractStore
from harness.contract.soap import spec_of
from mocks.base import MockService
from mocks.blood_center import BloodCenterMock
from mocks.mch_platform import MchPlatformMock
from tests.conftest import CONTRACTS, DATA
from tests.mocks.blood_center.conftest import order
from tests.mocks.hostile import broken_envelope
from tests.strategies import examples

SETTINGS = settings(max_examples=examples(60), deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                           HealthCheck.function_scoped_fixture])
DIN = "B320126100001" + "80"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
DECLARED_FAULTS = ("soap-env:Client", "soap-env:VersionMismatch", "soap-env:MustUnderstand")


class InProcess:
    """A SOAP mock's ASGI app in-process, one event loop for the whole module."""

    def __init__(self, mock: MockService) -> None:
        self.mock = mock
        self.spec = spec_of(mock.contract)
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=mock.asgi_app()), base_url="http://soap.test")

    def envelope(self, operation: str, header: Any | None, **args: Any) -> etree._Element:
        zeep_op = self.spec.zeep_operation(operation)
        message = zeep_op.input.serialize(**args, _soapheaders=[header] if header is not None else None)
        content: etree._Element = message.content
        return content

    def header(self, **values: str) -> Any:
        """The contract's auth header with these credentials."""
        assert self.spec.auth is not None
        return self.spec.document.types.get_element(self.spec.auth.header)(**values)

    def post(self, raw: bytes, operation: str) -> httpx.Response:
        action = self.spec.operations[operation].soap_action or operation
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
        return self.loop.run_until_complete(self.client.post(self.spec.path, content=raw, headers=headers))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


def answered_within_the_contract(soap: InProcess, response: httpx.Response) -> None:
    if response.status_code >= 500:
        fault = etree.fromstring(response.content).find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
        assert fault is not None, response.text[:500]
        code = fault.findtext("faultcode") or ""
        assert code in DECLARED_FAULTS or code.startswith("soap-env:Client."), response.text[:800]
    else:
        assert response.status_code in (200, 400, 404, 405, 413, 415, 431), response.text[:500]
    exchange = soap.mock.journal.last()
    assert exchange is not None
    assert "error" not in exchange.meta, exchange.meta
    assert exchange.response_valid, [str(f) for f in exchange.response_findings]


# -- blood centre ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def blood() -> Iterator[InProcess]:
    soap = InProcess(BloodCenterMock(ContractStore(CONTRACTS).load("blood-center")))
    yield soap
    soap.close()


def blood_requests(soap: InProcess) -> dict[str, etree._Element]:
    mock = soap.mock
    assert isinstance(mock, BloodCenterMock)
    auth = soap.header(HospitalCode=mock.hospital, Token=mock.token)
    now = datetime(2026, 1, 1, 10, 0, 0)
    calls: dict[str, dict[str, Any]] = {
        "SubmitBloodOrder": {"order": order("ORD7001")}, "QueryOrderFeedback": {"orderNo": "ORD7001"},
        "CancelBloodOrder": {"orderNo": "ORD7001", "reason": "手术取消"}, "DownloadIssuedUnits": {"orderNo": "ORD7001"},
        "ConfirmReceipt": {"issueNo": "FX2601010001", "receivedAt": now, "receivedBy": "输血科",
                           "unit": [{"din": DIN, "abo": "A", "rhd": "POS", "condition": "INTACT"}]},
        "SubmitReturn": {"returnNo": "TH7001", "din": [DIN], "reason": "QUALITY", "remark": "外观异常"},
        "QueryReturnStatus": {"returnNo": "TH7001"}, "QueryCrossmatchResults": {"sampleNo": "PX0000000001", "since": now},
        "QueryUnitFees": {"fromDate": date(2026, 1, 1), "toDate": date(2026, 1, 31)}, "QueryNotices": {"since": now},
    }
    return {op: soap.envelope(op, auth, **args) for op, args in calls.items()}


@pytest.mark.parametrize("operation", ["SubmitBloodOrder", "QueryOrderFeedback", "CancelBloodOrder", "DownloadIssuedUnits",
                                       "ConfirmReceipt", "SubmitReturn", "QueryReturnStatus", "QueryCrossmatchResults",
                                       "QueryUnitFees", "QueryNotices"])
def test_blood_centre_answers_broken_envelopes_within_its_contract(blood: InProcess, operation: str) -> None:
    valid = blood_requests(blood)[operation]

    @SETTINGS
    @given(raw=broken_envelope(valid))
    def check(raw: bytes) -> None:
        answered_within_the_contract(blood, blood.post(raw, operation))

    check()
    reply = blood.post(etree.tostring(blood_requests(blood)["QueryNotices"]), "QueryNotices")
    assert reply.status_code == 200 and b"<ns0:ResultCode>0</ns0:ResultCode>" in reply.content


# -- maternal-child platform -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def platform() -> Iterator[InProcess]:
    soap = InProcess(MchPlatformMock(ContractStore(CONTRACTS).load("mch-platform")))
    yield soap
    soap.close()


def session(soap: InProcess) -> Any:
    mock = soap.mock
    assert isinstance(mock, MchPlatformMock)
    org, password = next(iter(mock.credentials.items()))
    reply = soap.post(etree.tostring(soap.envelope("Login", None, orgCode=org, password=password)), "Login")
    key = etree.fromstring(reply.content).findtext(".//{urn:hih:mch:service}sessionKey")
    assert key, reply.text
    return soap.header(orgCode=org, sessionKey=key)


RECORD = (DATA / "mch" / "delivery-2025.1.xml").read_bytes()


def platform_requests(soap: InProcess, header: Any) -> dict[str, Callable[[str], etree._Element]]:
    """Each operation's envelope, around a payload text for the uploads."""
    mock = soap.mock
    assert isinstance(mock, MchPlatformMock)
    org, password = next(iter(mock.credentials.items()))
    return {
        "Login": lambda _: soap.envelope("Login", None, orgCode=org, password=password),
        "UploadRecord": lambda payload: soap.envelope("UploadRecord", header, recordType="DELIVERY", payload=payload),
        "UploadBatch": lambda payload: soap.envelope("UploadBatch", header, recordType="DELIVERY", payload=[payload, payload]),
        "QueryUploadResult": lambda _: soap.envelope("QueryUploadResult", header, recordType="DELIVERY", recordNo="FM9001"),
        "WithdrawRecord": lambda _: soap.envelope("WithdrawRecord", header, recordId="R" + "0" * 15, reason="录入错误"),
    }


@pytest.mark.parametrize("operation", ["Login", "UploadRecord", "UploadBatch", "QueryUploadResult", "WithdrawRecord"])
def test_platform_answers_broken_envelopes_within_its_contract(platform: InProcess, operation: str) -> None:
    build = platform_requests(platform, session(platform))[operation]
    valid = build(RECORD.decode("utf-8"))

    @SETTINGS
    @given(raw=broken_envelope(valid))
    def check(raw: bytes) -> None:
        answered_within_the_contract(platform, platform.post(raw, operation))

    check()


@SETTINGS
@given(record=broken_envelope(etree.fromstring(RECORD)), batch=st.booleans())
def test_platform_answers_broken_records_within_its_contract(platform: InProcess, record: bytes, batch: bool) -> None:
    operation = "UploadBatch" if batch else "UploadRecord"
    payload = record.decode("utf-8", "replace")
    try:
        valid = platform_requests(platform, _SESSION.get(platform))[operation](payload)
    except ValueError:  # a character XML cannot carry, even escaped: what a client's XML library refuses to send
        return
    answered_within_the_contract(platform, platform.post(etree.tostring(valid), operation))


class _Session:
    """One login per module for the record test (hypothesis runs it many times)."""

    def __init__(self) -> None:
        self.header: Any = None

    def get(self, soap: InProcess) -> Any:
        if self.header is None:
            self.header = session(soap)
        return self.header


_SESSION = _Session()


def test_platform_still_serves(platform: InProcess) -> None:
    header = session(platform)  # a login still answers with a session key
    requests = platform_requests(platform, header)
    for operation in ("UploadRecord", "QueryUploadResult"):
        reply = platform.post(etree.tostring(requests[operation](RECORD.decode("utf-8"))), operation)
        assert reply.status_code == 200 and b"ResultCode>" in reply.content, reply.text[:500]
        answered_within_the_contract(platform, reply)
