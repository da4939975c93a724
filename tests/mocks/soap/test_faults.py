"""The shared faults on the SOAP transport, seen by a zeep client over a real socket, and what the behaviour did."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
import zeep

from tests.conftest import wait_for
from tests.mocks.soap.conftest import ExampleServer, auth_header, order, zeep_client


def submit(client: zeep.Client, number: str = "ORD20250101001") -> Any:
    return client.service.SubmitOrder(order=order(number), _soapheaders=[auth_header(client)])


def test_latency_delays_a_normal_answer(client: zeep.Client, server: ExampleServer) -> None:
    server.inject("latency", operation="SubmitOrder", delay_s=0.25)
    started = time.perf_counter()
    reply = submit(client)
    assert time.perf_counter() - started >= 0.25
    assert reply.ResultCode == "0"
    exchange = server.last("SubmitOrder")
    assert exchange.fault == "latency" and exchange.status == 200 and exchange.duration_ms >= 250


@pytest.mark.parametrize(("phase", "processed"), [("after", True), ("before", False)])
def test_no_reply_times_the_client_out(server: ExampleServer, phase: str, processed: bool) -> None:
    impatient = zeep_client(server.url, timeout=0.4)
    server.inject("no_reply", operation="SubmitOrder", phase=phase)
    with pytest.raises(requests.exceptions.ReadTimeout):
        submit(impatient)
    exchange = wait_for(lambda: server.journal.last("SubmitOrder"))
    assert exchange.fault == "no_reply" and exchange.status is None and exchange.response_raw is None
    assert exchange.request["operation"] == "SubmitOrder", "a dropped request is still parsed and checked"
    assert bool(server.behaviour.orders) is processed


@pytest.mark.parametrize(("phase", "processed"), [("after", True), ("before", False)])
def test_reset_breaks_the_connection(client: zeep.Client, server: ExampleServer, phase: str, processed: bool) -> None:
    server.inject("reset", operation="SubmitOrder", phase=phase)
    with pytest.raises(requests.exceptions.ConnectionError):
        submit(client)
    assert server.last("SubmitOrder").fault == "reset"
    assert bool(server.behaviour.orders) is processed


def test_http_500_from_the_web_server_in_front(client: zeep.Client, server: ExampleServer) -> None:
    server.inject("http_status", operation="SubmitOrder", status=500, message="Internal Server Error")
    with pytest.raises(zeep.exceptions.TransportError) as caught:
        submit(client)
    assert caught.value.status_code == 500 and b"HTTP 500" in caught.value.content
    exchange = server.last("SubmitOrder")
    assert exchange.status == 500 and exchange.response == {"http_status": 500, "message": "Internal Server Error"}


def test_error_reply_is_a_server_fault(client: zeep.Client, server: ExampleServer) -> None:
    server.inject("error_reply", operation="SubmitOrder", message="血站系统维护中")
    with pytest.raises(zeep.exceptions.Fault) as caught:
        submit(client)
    assert (caught.value.code, caught.value.message) == ("soap-env:Server", "血站系统维护中")
    assert server.last("SubmitOrder").status == 500
    assert server.behaviour.orders, "phase after: the order was taken, the answer lost"


def test_error_reply_with_a_code(client: zeep.Client, server: ExampleServer) -> None:
    server.inject("error_reply", operation="SubmitOrder", code="Server.Busy", phase="before")
    with pytest.raises(zeep.exceptions.Fault) as caught:
        submit(client)
    assert caught.value.code == "soap-env:Server.Busy" and "系统繁忙" in caught.value.message
    assert not server.behaviour.orders


def test_malformed_reply_is_cut_xml(client: zeep.Client, server: ExampleServer) -> None:
    server.inject("malformed", operation="SubmitOrder")
    with pytest.raises(zeep.exceptions.TransportError) as caught:
        submit(client)
    assert "invalid XML" in caught.value.message
    exchange = server.last("SubmitOrder")
    assert exchange.fault == "malformed" and exchange.response is None and exchange.response_raw is not None
    assert not exchange.response_raw.rstrip().endswith(b"</soap-env:Envelope>")


def test_a_fault_for_one_operation_leaves_the_other_alone(client: zeep.Client, server: ExampleServer) -> None:
    server.inject("error_reply", operation="UploadRecord", times=None)
    assert submit(client).ResultCode == "0"
    assert server.faults.armed() and not server.faults.fired
