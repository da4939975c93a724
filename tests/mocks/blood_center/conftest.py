"""The blood-centre mock on a real loopback socket (shared runtime), reset per test, and a zeep client that read its
served WSDL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import zeep
from zeep.transports import Transport

from connectors.blood_center import BloodCenterConnector, reference
from harness.contract.loader import ContractStore
from harness.ports.blood_center import BloodCenterSettings
from mocks.blood_center import BloodCenterMock, console_training
from mocks.blood_center.snapshots import TRAINING_TABLES
from mocks.transport.runtime import Runtime
from tests.conftest import CONTRACTS

SERVICE = "{urn:hih:blood-center:service}"


@pytest.fixture(scope="session")
def _centre(runtime: Runtime) -> BloodCenterMock:
    mock = BloodCenterMock(ContractStore(CONTRACTS).load("blood-center"))
    mock.start(runtime)
    return mock


@pytest.fixture
def centre(_centre: BloodCenterMock) -> Iterator[BloodCenterMock]:
    """The centre reset to its seed, with no drill records or snapshots left by another test."""
    _centre.reset()
    for table in TRAINING_TABLES:
        for key, _ in _centre.store.items(table):
            _centre.store.delete(table, key)
    yield _centre
    _centre.faults.clear()


@pytest.fixture
def hospital(centre: BloodCenterMock) -> Iterator[BloodCenterConnector]:
    """The hospital side: the reference connector pointed at the centre (timeout 3 s)."""
    connector = reference(BloodCenterSettings(wsdl_url=f"{centre.service_url}?wsdl", hospital_code=centre.hospital,
                                              token=centre.token, timeout_s=3.0,
                                              contract_folder=str(centre.contract.folder)))
    yield connector
    connector.close()


@pytest.fixture
def web(centre: BloodCenterMock) -> Iterator[httpx.Client]:
    """A client of the centre's HTTP endpoint (console pages, raw SOAP)."""
    assert centre.endpoint is not None
    with httpx.Client(base_url=centre.endpoint.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def _zeep(_centre: BloodCenterMock) -> zeep.Client:
    return zeep.Client(f"{_centre.service_url}?wsdl", transport=Transport(timeout=5, operation_timeout=5))


class Caller:
    """zeep calls with the auth header; `raw` answers keep ResultCode/ResultMessage for the test to read."""

    def __init__(self, client: zeep.Client, mock: BloodCenterMock) -> None:
        self.client = client
        self.mock = mock

    def header(self, token: str | None = None, hospital: str | None = None) -> Any:
        return self.client.get_element(f"{SERVICE}AuthHeader")(HospitalCode=hospital or self.mock.hospital,
                                                             Token=token or self.mock.token)

    def __call__(self, operation: str, **data: Any) -> Any:
        return getattr(self.client.service, operation)(**data, _soapheaders=[self.header()])


@pytest.fixture
def call(_zeep: zeep.Client, centre: BloodCenterMock) -> Caller:
    return Caller(_zeep, centre)


def order(number: str = "ORD1001", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"orderNo": number, "urgency": "URGENT", "wantedAt": "2026-01-01T10:00:00",
                            "department": "心胸外科", "orderedBy": "王医生",
                            "item": [{"lineNo": 1, "productCode": "E0001", "abo": "A", "rhd": "POS", "quantity": 2, "unit": "U"},
                                     {"lineNo": 2, "productCode": "E0004", "abo": "A", "rhd": "POS", "quantity": 200, "unit": "mL"}]}
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def browser(chromium_browser: Any) -> Iterator[Any]:
    """A context of the module's headless chromium (tests/browser.py); downloads accepted (the drill records' CSV)."""
    from tests.browser import chromium

    with chromium(chromium_browser, viewport={"width": 1280, "height": 900}, accept_downloads=True) as context:
        context.set_default_timeout(15_000)
        yield context


LIVE_TICK_S = 0.05
"""How often the console's event stream looks for a change while a test's page follows it (`TICK_S`, 0.25 s for a
trainer): each change the page waits for reaches it sooner (a drill's test waits for six or more)."""


@pytest.fixture
def page(browser: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A page that fails its test on a script error or a console error (but the 401 of the token page)."""
    monkeypatch.setattr(console_training, "TICK_S", LIVE_TICK_S)
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert [e for e in errors if "status of 401" not in e] == [], errors
