"""Faults the insurance mock injects, over a real socket: what the client sees and what the ledger did."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import pytest

from mocks.insurance import InsuranceMock
from mocks.population import Person
from mocks.transport.journal import Exchange
from tests.conftest import FEES_TOTAL, Wire, wait_for


def sign_in_input() -> dict[str, dict[str, str]]:
    return {"signIn": {"opter_no": "100234", "ip": "10.0.0.10"}}


def settle_visit(wire: Wire, person: Person) -> tuple[str, dict[str, object]]:
    mdtrt_id = wire.register(person)
    wire.upload(person, mdtrt_id)
    return mdtrt_id, wire.settle_input(person, mdtrt_id, FEES_TOTAL)


def journal_entry(mock: InsuranceMock, operation: str) -> Exchange:
    """The exchange for `operation`, once the transport has recorded it (a held request is recorded when it ends)."""
    found: Exchange = wait_for(lambda: mock.journal.last(operation))
    return found


def test_latency_delays_a_normal_answer(wire: Wire, mock: InsuranceMock) -> None:
    mock.inject("latency", operation="9001", delay_s=0.25)

    started = time.perf_counter()
    reply = wire.ok("9001", sign_in_input())
    elapsed = time.perf_counter() - started

    assert elapsed >= 0.25
    assert reply["output"]["signinoutb"]["sign_no"]
    exchange = journal_entry(mock, "9001")
    assert exchange.fault == "latency" and exchange.status == 200 and exchange.duration_ms >= 250


@pytest.mark.parametrize(("phase", "settled"), [("after", True), ("before", False)])
def test_no_reply_times_the_client_out(signed_in: Wire, mock: InsuranceMock, employee: Person, phase: str, settled: bool) -> None:
    mdtrt_id, data = settle_visit(signed_in, employee)
    mock.inject("no_reply", operation="2207", phase=phase)

    with pytest.raises(httpx.ReadTimeout):
        signed_in.post("2207", data, insuplc_admdvs=employee.insuplc_admdvs, timeout=0.3)

    exchange = journal_entry(mock, "2207")
    assert exchange.fault == "no_reply" and exchange.status is None and exchange.response_raw is None
    assert [s["status"] for s in mock.settlements(mdtrt_id)] == (["settled"] if settled else [])
    assert (mock.balance(employee.psn_no) < Decimal("1500.00")) is settled


def test_no_reply_with_a_hold_time_closes_without_an_answer(signed_in: Wire, mock: InsuranceMock) -> None:
    """`delay_s` bounds how long the connection is held; what ends it is still no reply, not an HTTP answer."""
    mock.inject("no_reply", operation="9001", delay_s=0.2)
    with pytest.raises(httpx.TransportError):
        response = signed_in.post("9001", sign_in_input(), timeout=5)
        pytest.fail(f"the mock answered HTTP {response.status_code}: {response.text!r}")
    assert journal_entry(mock, "9001").fault == "no_reply"


@pytest.mark.parametrize(("phase", "settled"), [("after", True), ("before", False)])
def test_reset_breaks_the_connection(signed_in: Wire, mock: InsuranceMock, employee: Person, phase: str, settled: bool) -> None:
    mdtrt_id, data = settle_visit(signed_in, employee)
    mock.inject("reset", operation="2207", phase=phase)

    with pytest.raises(httpx.TransportError):
        signed_in.post("2207", data, insuplc_admdvs=employee.insuplc_admdvs)

    assert journal_entry(mock, "2207").fault == "reset"
    assert [s["status"] for s in mock.settlements(mdtrt_id)] == (["settled"] if settled else [])


def test_http_status_503_with_a_gateway_error_body(wire: Wire, mock: InsuranceMock) -> None:
    mock.inject("http_status", operation="9001", status=503, message="服务不可用")

    response = wire.post("9001", sign_in_input())

    assert response.status_code == 503
    body = response.json()
    assert body["type"] == "error" and body["infcode"] == -1 and "服务不可用" in body["err_msg"]
    exchange = journal_entry(mock, "9001")
    assert (exchange.status, exchange.fault) == (503, "http_status")
    assert mock.store.count("sessions") == 1, "phase after: the sign-in happened, its answer was replaced"


def test_error_reply_is_infcode_minus_1(wire: Wire, mock: InsuranceMock) -> None:
    mock.inject("error_reply", operation="9001", message="系统繁忙", phase="before")

    reply = wire.call("9001", sign_in_input())

    assert reply["infcode"] == -1 and reply["err_msg"] == "FSI-FMI返回：系统繁忙" and reply["output"] is None
    assert mock.store.count("sessions") == 0
    exchange = journal_entry(mock, "9001")
    assert exchange.fault == "error_reply" and exchange.response_valid


def test_malformed_reply_is_not_json(wire: Wire, mock: InsuranceMock) -> None:
    mock.inject("malformed", operation="9001")

    response = wire.post("9001", sign_in_input())

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert response.content.startswith(b'{"infcode":0')
    exchange = journal_entry(mock, "9001")
    assert exchange.fault == "malformed" and exchange.response is None


def test_malformed_before_processing_cuts_an_error_reply(wire: Wire, mock: InsuranceMock) -> None:
    mock.inject("malformed", operation="9001", phase="before")
    response = wire.post("9001", sign_in_input())
    assert response.content.startswith(b'{"infcode":-1')
    assert mock.store.count("sessions") == 0


def test_fault_times_counts_down_then_stops(wire: Wire, mock: InsuranceMock) -> None:
    fault = mock.inject("http_status", operation="9001", times=2)

    statuses = [wire.post("9001", sign_in_input()).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert mock.faults.armed() == [] and fault.times == 0
    assert [f.kind for f in mock.faults.fired] == ["http_status", "http_status"]
    assert [e.fault for e in mock.exchanges("9001")] == ["http_status", "http_status", None]


def test_fault_without_times_fires_forever(wire: Wire, mock: InsuranceMock) -> None:
    mock.inject("error_reply", operation="9001", times=None, phase="before")
    assert [wire.call("9001", sign_in_input())["infcode"] for _ in range(4)] == [-1, -1, -1, -1]
    assert len(mock.faults.armed()) == 1


def test_fault_for_one_operation_leaves_the_others_alone(signed_in: Wire, mock: InsuranceMock, employee: Person) -> None:
    mock.inject("http_status", operation="2207")
    reply = signed_in.ok("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": employee.certno}})
    assert reply["output"]["baseinfo"]["psn_no"] == employee.psn_no
    assert len(mock.faults.armed()) == 1


def test_fault_without_operation_hits_the_next_exchange(wire: Wire, mock: InsuranceMock) -> None:
    mock.inject("http_status", status=502)
    assert wire.post("9001", sign_in_input()).status_code == 502
    assert wire.post("9001", sign_in_input()).status_code == 200


def test_a_latency_wait_is_never_short_on_the_mocks_event_loop() -> None:
    """The mocks run on uvloop, whose timers may fire up to a millisecond early; a latency fault must not."""
    from harness.eventloop import new_event_loop
    from mocks.transport.faults import wait_at_least

    async def measure() -> list[float]:
        waited = []
        for _ in range(40):
            started = time.monotonic()
            await wait_at_least(0.013)
            waited.append(time.monotonic() - started)
        return waited

    loop = new_event_loop()
    try:
        waited = loop.run_until_complete(measure())
    finally:
        loop.close()
    assert min(waited) >= 0.013, min(waited)
