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
from mocks.transport.soap import SoapContext, SoapHandler, soap_app
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


def _reply(values: tuple[str, ...]) -> etree._Element:
    reply = etree.Element(f"{{{NS}}}SubmitOrderResponse", nsmap={"ns0": NS})
    for name, value in zip(("ResultCode", "ResultMessage", "orderId", "status"), values, strict=True):
        etree.SubElement(reply, f"{{{NS}}}{name}").text = value
    return reply


def _inside(reply: etree._Element, env: str = "http://schemas.xmlsoap.org/soap/envelope/", header: bool = False,
            prefix: str = "soap-env") -> etree._Element:
    envelope = etree.Element(f"{{{env}}}Envelope", nsmap={prefix: env})
    if header:
        etree.SubElement(envelope, f"{{{env}}}Header")
    etree.SubElement(envelope, f"{{{env}}}Body").append(reply)
    return reply


def test_an_answer_already_in_its_envelope_is_sent_as_the_bare_answer_would_be(example_contract: Contract) -> None:
    handler = soap_app(example_contract, {"SubmitOrder": answer("RECEIVED")}, Journal(), FaultPlan()).handler
    assert isinstance(handler, SoapHandler)
    values = ("0", "成功", "ORD1", "RECEIVED")
    bare = handler.encode("SubmitOrder", _reply(values))
    assert bare.status == 200 and not bare.findings and b"<ns0:orderId>ORD1</ns0:orderId>" in bare.body
    for inside, as_it_is in ((_inside(_reply(values)), True),
                             (_inside(_reply(values), header=True), False),  # not the shape: wrapped anew
                             (_inside(_reply(values), prefix="s"), False),
                             (_inside(_reply(values), env="http://www.w3.org/2003/05/soap-envelope"), False)):
        body = inside.getparent()
        sent = handler.encode("SubmitOrder", inside)
        assert (sent.status, sent.body, sent.parsed, sent.findings) == (bare.status, bare.body, bare.parsed, bare.findings)
        assert (inside.getparent() is body) is as_it_is  # a new envelope takes the answer out of the one it was in
