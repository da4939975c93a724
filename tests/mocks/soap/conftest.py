"""The example SOAP service (tests/data/soap/example) served by the SOAP transport on real loopback sockets, and
two clients that read its ?wsdl: zeep (what the reference connectors use) and suds (an outside client)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import zeep
from zeep.transports import Transport

from harness.contract.loader import load_contract
from harness.contract.model import Contract
from mocks.transport.faults import Fault, FaultPlan
from mocks.transport.journal import Exchange, Journal
from mocks.transport.runtime import Runtime
from tests.contracts.soap.conftest import EXAMPLE, soap12_copy
from tests.mocks.soap.example import HOSPITAL, TOKEN, ExampleBehaviour, example_app

SERVICE = "{urn:hih:example:service}"


@dataclass
class ExampleServer:
    """One example service on a socket: its behaviour, journal and faults, and where it listens."""

    contract: Contract
    port: int
    behaviour: ExampleBehaviour = field(default_factory=ExampleBehaviour)
    journal: Journal = field(default_factory=Journal)
    faults: FaultPlan = field(default_factory=FaultPlan)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ExampleService"

    def inject(self, kind: str, **options: Any) -> Fault:
        return self.faults.add(Fault(kind=kind, **options))

    def last(self, operation: str | None = None) -> Exchange:
        found = self.journal.last(operation)
        assert found is not None, f"no exchange for {operation}"
        return found

    def reset(self) -> None:
        self.behaviour.reset()
        self.journal.clear()
        self.faults.clear()


def start(runtime: Runtime, contract: Contract, **options: Any) -> ExampleServer:
    server = ExampleServer(contract, 0)
    listener = runtime.serve_http(example_app(contract, server.behaviour, server.journal, server.faults, **options))
    server.port = listener.port
    return server


@pytest.fixture(scope="session")
def example_contract() -> Contract:
    return load_contract(EXAMPLE)


@pytest.fixture(scope="session")
def _example_server(runtime: Runtime, example_contract: Contract) -> ExampleServer:
    return start(runtime, example_contract)


@pytest.fixture
def server(_example_server: ExampleServer) -> Iterator[ExampleServer]:
    _example_server.reset()
    yield _example_server
    _example_server.faults.clear()


@pytest.fixture(scope="session")
def server12(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> ExampleServer:
    return start(runtime, load_contract(soap12_copy(tmp_path_factory.mktemp("soap12"))))


def zeep_client(url: str, timeout: float = 5) -> zeep.Client:
    return zeep.Client(f"{url}?wsdl", transport=Transport(timeout=timeout, operation_timeout=timeout))


def auth_header(client: zeep.Client, token: str = TOKEN, hospital: str = HOSPITAL) -> Any:
    return client.get_element(f"{SERVICE}AuthHeader")(HospitalCode=hospital, Token=token)


@pytest.fixture(scope="session")
def _zeep(_example_server: ExampleServer) -> zeep.Client:
    return zeep_client(_example_server.url)


@pytest.fixture
def client(_zeep: zeep.Client, server: ExampleServer) -> zeep.Client:
    """A zeep client (sync, requests) that read the served WSDL; the server is reset."""
    return _zeep


def order(number: str = "ORD20250101001", urgency: str = "URGENT", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"orderNo": number, "urgency": urgency, "wantedAt": "2025-01-01T10:00:00",
                            "item": [{"productCode": "E0001", "aboGroup": "A", "quantity": 2},
                                     {"productCode": "E0002", "aboGroup": "O", "quantity": 1}]}
    data.update(changes)
    return data


def birth_notice(number: str = "BN1", sex: str = "1", weight: int = 3200) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><BirthNotice xmlns="urn:hih:example:records"><recordNo>{number}</recordNo>'
            f"<childName>王小明</childName><sex>{sex}</sex><birthDate>2025-01-01</birthDate><birthWeight>{weight}</birthWeight></BirthNotice>")

