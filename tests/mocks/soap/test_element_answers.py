"""A behaviour may answer with the response element built by lxml (a hot path without zeep's encoder): it is sent in
the Body as it is, validated like any answer, and its top-level fields are journaled."""

from __future__ import annotations

from typing import Any

import zeep
from lxml import etree
from zeep.transports import Transport

from harness.contract.model import Contract
from mocks.transport.faults import FaultPlan
from mocks.transport.journal import Journal
from mocks.transport.runtime import Runtime
from mocks.transport.soap import SoapContext, soap_app
from tests.mocks.soap.conftest import auth_header, order
from tests.mocks.soap.example import HOSPITAL, TOKEN

NS = "urn:hih:example:service"


def answer(status: str) -> Any:
    def submit(request: Any, context: SoapContext) -> etree._Element:
        reply = etree.Element(f"{{{NS}}}SubmitOrderResponse", nsmap={"ns0": NS})
        for name, value in (("ResultCode", "0"), ("ResultMessage", "成功"), ("orderId", request.order.orderNo), ("status", status)):
            etree.SubElement(reply, f"{{{NS}}}{name}").text = value
        return reply

    return submit


def authenticate(credentials: dict[str, str], context: SoapContext) -> str | None:
    return None if credentials == {"HospitalCode": HOSPITAL, "Token": TOKEN} else "refused"


def test_an_element_answer_is_sent_validated_and_journaled(runtime: Runtime, example_contract: Contract) -> None:
    journal = Journal()
    for status, valid in (("RECEIVED", True), ("MISLAID", False)):
        journal.clear()
        app = soap_app(example_contract, {"SubmitOrder": answer(status)}, journal, FaultPlan(), authenticate=authenticate)
        listener = runtime.serve_http(app)
        url = f"http://127.0.0.1:{listener.port}/ExampleService"
        client = zeep.Client(f"{url}?wsdl", transport=Transport(timeout=5, operation_timeout=5))
        reply = client.service.SubmitOrder(order=order(), _soapheaders=[auth_header(client)])
        assert (reply.ResultCode, reply.orderId, reply.status) == ("0", "ORD20250101001", status)
        exchange = journal.last("SubmitOrder")
        assert exchange is not None and exchange.response["body"]["ResultCode"] == "0"
        assert exchange.response["body"]["status"] == status
        assert (not exchange.response_findings) is valid, exchange.response_findings
        runtime.call(listener.stop())
