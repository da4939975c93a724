"""The SOAP transport on the lean server's direct path (`SoapHandler.handle_now`: no ASGI scope, receive or send; a
behaviour that waits answered through a future) against the ASGI path it replaces, over real sockets: the same reply
bytes (but the date), the same journal, the same behaviour calls."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import escape

import pytest

from harness.contract.model import Contract
from mocks.transport.faults import Fault, FaultPlan
from mocks.transport.journal import Journal
from mocks.transport.runtime import Runtime
from mocks.transport.soap import SoapContext
from tests.mocks.rawhttp import whole_reply
from tests.mocks.soap.conftest import birth_notice
from tests.mocks.soap.example import HOSPITAL, TOKEN, ExampleBehaviour, example_app
from tests.mocks.test_lean_direct import _exchange, asgi_calls

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
_DATE = re.compile(rb"date: [^\r]*\r\n")
HEAD = (f'<s:Envelope xmlns:s="{SOAP11}" xmlns:ex="urn:hih:example:service"><s:Header><ex:AuthHeader>'
        f"<ex:HospitalCode>{HOSPITAL}</ex:HospitalCode><ex:Token>{{token}}</ex:Token></ex:AuthHeader></s:Header><s:Body>")


class Waiting(ExampleBehaviour):
    """The example partner, its uploads answered after a turn of the loop (as a commit window answers), and failing
    on a record numbered CRASH after it."""

    async def upload_record(self, request: Any, context: SoapContext) -> dict[str, Any]:
        await asyncio.sleep(0)
        if any(p.root is not None and p.root.findtext("{*}recordNo") == "CRASH" for p in context.payloads):
            raise RuntimeError("the behaviour fell over after waiting")
        return await super().upload_record(request, context)


class Served:
    """The example service behind the lean server, with or without the direct path."""

    def __init__(self, runtime: Runtime, contract: Contract, direct: bool) -> None:
        self.behaviour = Waiting()
        self.journal = Journal()
        self.faults = FaultPlan()
        self.transport = example_app(contract, self.behaviour, self.journal, self.faults)
        transport = self.transport

        async def asgi_only(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await transport(scope, receive, send)  # no `direct` attribute: the ASGI path

        self.port = runtime.serve_http(transport if direct else asgi_only, lean=True).port

    def entries(self) -> list[tuple[Any, ...]]:
        return [(e.operation, e.status, e.request_raw, e.request, e.request_findings, e.response_raw, e.response,
                 e.response_findings, e.meta, e.fault, e.peer.split(":")[0]) for e in self.journal.entries()]


@pytest.fixture
def pair(example_contract: Contract) -> Iterator[tuple[Served, Served]]:
    runtime = Runtime().start()
    yield Served(runtime, example_contract, direct=True), Served(runtime, example_contract, direct=False)
    runtime.stop()


def _post(body: str, action: str = "SubmitOrder", path: str = "/ExampleService", method: str = "POST",
          content_type: str = "text/xml; charset=utf-8") -> bytes:
    raw = body.encode("utf-8")
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f'SOAPAction: "urn:hih:example:{action}"\r\nContent-Length: {len(raw)}\r\n\r\n').encode() + raw


def _order(number: str, token: str = TOKEN, quantity: str = "1") -> bytes:
    return _post(HEAD.format(token=token) + f"<ex:SubmitOrder><ex:order><ex:orderNo>{number}</ex:orderNo>"
                 "<ex:urgency>ROUTINE</ex:urgency><ex:wantedAt>2025-01-01T10:00:00</ex:wantedAt><ex:item><ex:productCode>E0001</ex:productCode><ex:aboGroup>B"
                 f"</ex:aboGroup><ex:quantity>{quantity}</ex:quantity></ex:item></ex:order></ex:SubmitOrder></s:Body></s:Envelope>")


def _upload(*records: str) -> bytes:
    payloads = "".join(f"<ex:payload>{escape(r)}</ex:payload>" for r in records)
    return _post(HEAD.format(token=TOKEN) + f"<ex:UploadRecord>{payloads}</ex:UploadRecord></s:Body></s:Envelope>",
                 "UploadRecord")


CASES: dict[str, tuple[list[bytes], list[int]]] = {
    "an order, the same again, then other content (pipelined)":
        ([_order("ORD00001") + _order("ORD00001") + _order("ORD00001", quantity="2")], [200, 200, 200]),
    "uploads answered after a wait, valid and invalid, pipelined behind an order":
        ([_order("ORD00002") + _upload(birth_notice("BN1")) + _upload(birth_notice("BN2", sex="3"), birth_notice("BN3"))
          + _order("ORD00003")], [200, 200, 200, 200]),
    "the behaviour fails after waiting, then answers the next": ([_upload(birth_notice("CRASH")) + _order("ORD00004")],
                                                                 [500, 200]),
    "the behaviour fails at once, or refuses with a Fault": ([_order("CRASH0000") + _order("REFUSE000")], [500, 500]),
    "refused by the contract": ([_order("ORD00005", token="wrong") + _order("X" * 40) + _post("<nonsense/>")],
                                [500, 500, 500]),
    "not XML, a DTD": ([_post("<s:Envelope") + _post('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')],
                       [500, 500]),
    "the WSDL, another method, another path": ([
        _post("", method="GET", path="/ExampleService?wsdl") + _post("<x/>", method="PUT") + _post("<x/>", path="/Else")],
        [200, 405, 404]),
    "refused by its Content-Type": ([_post("<x/>", content_type="application/json")], [415]),
}


def _comparable(entries: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # a behaviour's crash keeps its trace in the journal: the same frames from where it is caught down, on either path
    return [(*e[:8], {k: v for k, v in e[8].items() if k != "error"} | {"error": "error" in e[8]}, *e[9:]) for e in entries]


@pytest.mark.parametrize("case", list(CASES))
def test_the_direct_path_answers_and_journals_as_the_asgi_path(pair: tuple[Served, Served], case: str) -> None:
    direct, asgi = pair
    pieces, statuses = CASES[case]
    got, expected = _exchange(direct.port, pieces), _exchange(asgi.port, pieces)
    assert [int(s) for s in re.findall(rb"HTTP/1.1 (\d{3}) ", expected)] == statuses  # the oracle as meant
    assert got == expected
    assert direct.journal.entries(), "nothing journaled"
    assert _comparable(direct.entries()) == _comparable(asgi.entries())
    assert (direct.behaviour.orders, direct.behaviour.records) == (asgi.behaviour.orders, asgi.behaviour.records)


def test_a_crash_after_waiting_is_a_server_fault_with_its_trace(pair: tuple[Served, Served]) -> None:
    direct, _ = pair
    answer = _exchange(direct.port, [_upload(birth_notice("CRASH"))])
    assert answer.startswith(b"HTTP/1.1 500 ") and b"RuntimeError: the behaviour fell over after waiting" in answer
    crashed = direct.journal.last("UploadRecord")
    assert crashed is not None and crashed.status == 500
    assert "the behaviour fell over after waiting" in crashed.meta["error"]


def _answered(port: int, requests: bytes, count: int) -> bytes:
    """Send pipelined `requests` and read until `count` whole replies have come (the connection left open: a client
    that shut its side at once could see the server close it before a reply still waiting was written)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(requests)
        received = b""
        while received.count(b"HTTP/1.1 ") < count or not whole_reply(received[received.rindex(b"HTTP/1.1 "):]):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return received


def test_the_direct_path_is_taken_unless_a_fault_is_armed(pair: tuple[Served, Served],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    direct, _ = pair
    calls = asgi_calls(monkeypatch)
    answer = _answered(direct.port, _order("ORD00006") + _upload(birth_notice("BN9")), 2)
    assert answer.count(b"HTTP/1.1 200 ") == 2 and calls == []
    direct.faults.add(Fault(kind="error_reply", operation="SubmitOrder", message="系统繁忙"))
    answer = _exchange(direct.port, [_order("ORD00007")])
    assert answer.startswith(b"HTTP/1.1 500 ") and "系统繁忙".encode() in answer and calls == ["/ExampleService"]
