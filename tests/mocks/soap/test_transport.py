"""The SOAP transport over real sockets: the served WSDL, zeep and suds clients, answers, faults and the journal."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import suds.client
import zeep
from lxml import etree

from harness.contract.model import Contract
from mocks.transport.faults import FaultPlan
from mocks.transport.journal import Journal
from mocks.transport.runtime import Runtime
from mocks.transport.soap import FAULT_NS
from tests.mocks.soap.conftest import (
    SERVICE,
    ExampleServer,
    auth_header,
    birth_notice,
    order,
    start,
    zeep_client,
)
from tests.mocks.soap.example import HOSPITAL, TOKEN

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


def detail_findings(fault: zeep.exceptions.Fault) -> list[tuple[str, str]]:
    assert fault.detail is not None
    return [(f.get("location", ""), f.text or "") for f in fault.detail.iter(f"{{{FAULT_NS}}}finding")]


# -- the served WSDL ------------------------------------------------------------------------------------------------
def test_the_wsdl_is_served_with_the_mocks_address(server: ExampleServer) -> None:
    wsdl = httpx.get(f"{server.url}?wsdl")
    assert wsdl.status_code == 200 and wsdl.headers["content-type"].startswith("text/xml")
    root = etree.fromstring(wsdl.content)
    address = root.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address is not None and address.get("location") == server.url
    imports = [i.get("schemaLocation") for i in root.iter("{http://www.w3.org/2001/XMLSchema}import")]
    assert imports == [f"{server.url}?xsd=xsd/common.xsd"]
    xsd = httpx.get(imports[0])
    assert xsd.status_code == 200 and b'name="AboGroup"' in xsd.content
    assert httpx.get(f"{server.url}?WSDL").content == wsdl.content
    assert httpx.get(f"{server.url}?xsd=../../../etc/passwd").status_code == 404
    assert httpx.get(f"http://127.0.0.1:{server.port}/Other?wsdl").status_code == 404


def test_the_address_follows_the_host_the_client_used(server: ExampleServer) -> None:
    wsdl = httpx.get(f"http://localhost:{server.port}/ExampleService?wsdl")
    assert f'location="http://localhost:{server.port}/ExampleService"'.encode() in wsdl.content
    odd = httpx.get(f"{server.url}?wsdl", headers={"Host": "evil\"><x"})
    assert b'location="http://127.0.0.1/ExampleService"' in odd.content


# -- zeep: answers ----------------------------------------------------------------------------------------------------
def test_zeep_submits_an_order_and_the_journal_has_it(client: zeep.Client, server: ExampleServer) -> None:
    reply = client.service.SubmitOrder(order=order(), _soapheaders=[auth_header(client)])
    assert (reply.ResultCode, reply.ResultMessage, reply.orderId, reply.status) == ("0", "成功", "EX000001", "RECEIVED")
    exchange = server.last("SubmitOrder")
    assert exchange.status == 200 and exchange.transport == "http" and exchange.interface == "example"
    assert exchange.request_findings == [] and exchange.response_findings == []
    assert exchange.request["auth"] == {"HospitalCode": HOSPITAL, "Token": "***"}
    assert exchange.request["body"]["order"]["item"][1] == {"productCode": "E0002", "aboGroup": "O", "quantity": 2 - 1}
    assert exchange.response == {"operation": "SubmitOrder", "body": {"ResultCode": "0", "ResultMessage": "成功",
                                                                       "orderId": "EX000001", "status": "RECEIVED"}}
    assert b"<ns0:SubmitOrder" in exchange.request_raw and exchange.response_raw and b"SubmitOrderResponse" in exchange.response_raw


def test_the_behaviour_keeps_orders_idempotent(client: zeep.Client) -> None:
    header = [auth_header(client)]
    first = client.service.SubmitOrder(order=order(), _soapheaders=header)
    again = client.service.SubmitOrder(order=order(), _soapheaders=header)
    other = client.service.SubmitOrder(order=order(urgency="ROUTINE"), _soapheaders=header)
    assert again.orderId == first.orderId
    assert (other.ResultCode, other.orderId) == ("2001", None)


def test_zeep_uploads_payload_records_valid_and_invalid(client: zeep.Client, server: ExampleServer) -> None:
    header = [auth_header(client)]
    good = client.service.UploadRecord(recordType="BIRTH_NOTICE", payload=[birth_notice("BN1"), birth_notice("BN2")], _soapheaders=header)
    assert (good.ResultCode, good.recordId) == ("0", ["R000001", "R000002"])
    mixed = client.service.UploadRecord(payload=[birth_notice("BN3"), birth_notice("BN4", sex="3", weight=100)], _soapheaders=header)
    assert mixed.ResultCode == "1001" and mixed.recordId == ["R000003"]
    assert mixed.error == [
        "第 2 条: /Envelope/Body/UploadRecord/payload[2]#/BirthNotice/sex [facet 'enumeration'] The value '3' is not an element of the set {'1', '2', '9'}",
        "第 2 条: /Envelope/Body/UploadRecord/payload[2]#/BirthNotice/birthWeight [facet 'minInclusive'] The value '100' is less than the minimum value allowed ('300')",
    ]
    exchange = server.last("UploadRecord")
    assert [f.location for f in exchange.request_findings] == [
        "/Envelope/Body/UploadRecord/payload[2]#/BirthNotice/sex", "/Envelope/Body/UploadRecord/payload[2]#/BirthNotice/birthWeight"]
    assert exchange.request["payloads"][1] == {"location": "/Envelope/Body/UploadRecord/payload[2]", "type": "BIRTH_NOTICE", "valid": False}
    assert exchange.response_findings == []


# -- zeep: faults -----------------------------------------------------------------------------------------------------
def test_a_request_that_breaks_the_xsd_gets_a_client_fault_with_the_findings(client: zeep.Client, server: ExampleServer) -> None:
    bad = order(urgency="SOON")
    bad["item"][1]["aboGroup"] = "X"
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.SubmitOrder(order=bad, _soapheaders=[auth_header(client)])
    fault = caught.value
    assert fault.code == "soap-env:Client"
    assert fault.message.startswith("/Envelope/Body/SubmitOrder/order/urgency: [facet 'enumeration'] The value 'SOON'")
    assert fault.message.endswith("(and 1 more)")
    assert [loc for loc, _ in detail_findings(fault)] == ["/Envelope/Body/SubmitOrder/order/urgency",
                                                          "/Envelope/Body/SubmitOrder/order/item[2]/aboGroup"]
    exchange = server.last("SubmitOrder")
    assert exchange.status == 500 and len(exchange.request_findings) == 2
    assert exchange.response["fault"]["code"] == "Client"
    assert server.behaviour.orders == {}, "an invalid request never reaches the behaviour"


@pytest.mark.parametrize(("token", "with_header", "message"), [
    ("wrong", True, "医院编码或令牌无效"),
    (TOKEN, False, "the AuthHeader header (HospitalCode, Token) is missing"),
])
def test_auth_failures_get_client_auth(client: zeep.Client, server: ExampleServer, token: str, with_header: bool, message: str) -> None:
    headers = [auth_header(client, token)] if with_header else []
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.SubmitOrder(order=order(), _soapheaders=headers)
    assert (caught.value.code, caught.value.message) == ("soap-env:Client.Auth", message)
    assert [f.rule for f in server.last("SubmitOrder").request_findings][-1] == "auth"


def test_auth_is_checked_before_the_schema(client: zeep.Client) -> None:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.SubmitOrder(order=order(urgency="SOON"), _soapheaders=[auth_header(client, "wrong")])
    assert caught.value.code == "soap-env:Client.Auth"


@pytest.mark.parametrize(("number", "code", "words"), [
    ("REFUSE000", "soap-env:Client.Duplicate", "订单号已作废"),
    ("CRASH0000", "soap-env:Server", "internal error in the mock's SubmitOrder: RuntimeError: the behaviour fell over"),
])
def test_faults_from_the_behaviour(client: zeep.Client, server: ExampleServer, number: str, code: str, words: str) -> None:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.SubmitOrder(order=order(number), _soapheaders=[auth_header(client)])
    assert caught.value.code == code and words in caught.value.message
    if number == "CRASH0000":
        assert "RuntimeError" in server.last("SubmitOrder").meta["error"]


def test_an_answer_that_breaks_the_xsd_is_sent_but_flagged(client: zeep.Client, server: ExampleServer) -> None:
    reply = client.service.SubmitOrder(order=order("BADANSWER"), _soapheaders=[auth_header(client)])
    assert reply.status == "SHIPPED", "zeep is lenient when reading; the journal is not"
    finding = server.last("SubmitOrder").response_findings[0]
    assert finding.location == "/Envelope/Body/SubmitOrderResponse/status" and "'SHIPPED'" in finding.message


# -- an outside client: suds --------------------------------------------------------------------------------------------
@pytest.fixture
def suds_client(server: ExampleServer) -> suds.client.Client:
    client = suds.client.Client(f"{server.url}?wsdl", cache=None, timeout=5)
    header = client.factory.create(f"{SERVICE}AuthHeader")
    header.HospitalCode, header.Token = HOSPITAL, TOKEN
    client.set_options(soapheaders=header)
    return client


def test_suds_reads_the_wsdl_and_calls_both_operations(suds_client: suds.client.Client, server: ExampleServer) -> None:
    new = suds_client.factory.create(f"{SERVICE}Order")
    new.orderNo, new.urgency, new.wantedAt, new.remark = "ORDSUDS0001", "EMERGENCY", "2025-01-01T08:00:00", "急诊手术"
    item = suds_client.factory.create(f"{SERVICE}Item")
    item.productCode, item.aboGroup, item.quantity = "E0100", "AB", 4
    new.item = [item]
    reply = suds_client.service.SubmitOrder(order=new)
    assert (reply.ResultCode, reply.orderId) == ("0", "EX000001")
    assert server.last("SubmitOrder").request["body"]["order"]["remark"] == "急诊手术"
    uploaded = suds_client.service.UploadRecord(recordType="BIRTH_NOTICE", payload=[birth_notice()])
    assert (uploaded.ResultCode, list(uploaded.recordId)) == ("0", ["R000002"])
    assert server.last("UploadRecord").request_findings == []


def test_suds_gets_faults(suds_client: suds.client.Client) -> None:
    new = {"orderNo": "ORDSUDS0002", "urgency": "LATER", "wantedAt": "2025-01-01T08:00:00",
           "item": [{"productCode": "E0100", "aboGroup": "AB", "quantity": 1}]}
    with pytest.raises(suds.WebFault) as caught:
        suds_client.service.SubmitOrder(order=new)
    assert caught.value.fault.faultcode == "soap-env:Client"
    assert "urgency" in caught.value.fault.faultstring
    suds_client.set_options(soapheaders=())
    with pytest.raises(suds.WebFault) as denied:
        suds_client.service.SubmitOrder(order={**new, "urgency": "URGENT"})
    assert denied.value.fault.faultcode == "soap-env:Client.Auth"


# -- raw HTTP ---------------------------------------------------------------------------------------------------------------
ENVELOPE = (f'<s:Envelope xmlns:s="{SOAP11}" xmlns:ex="urn:hih:example:service"><s:Header><ex:AuthHeader>'
            f"<ex:HospitalCode>{HOSPITAL}</ex:HospitalCode><ex:Token>{TOKEN}</ex:Token></ex:AuthHeader></s:Header><s:Body>"
            "<ex:SubmitOrder><ex:order><ex:orderNo>ORDRAW00001</ex:orderNo><ex:urgency>ROUTINE</ex:urgency>"
            "<ex:wantedAt>2025-01-01T10:00:00</ex:wantedAt><ex:item><ex:productCode>E0001</ex:productCode>"
            "<ex:aboGroup>B</ex:aboGroup><ex:quantity>1</ex:quantity></ex:item></ex:order></ex:SubmitOrder></s:Body></s:Envelope>")


def post(server: ExampleServer, body: bytes | str, **headers: str) -> httpx.Response:
    sent = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:hih:example:SubmitOrder"'}
    sent.update({k.replace("_", "-"): v for k, v in headers.items()})
    sent = {k: v for k, v in sent.items() if v}
    return httpx.post(server.url, content=body.encode() if isinstance(body, str) else body, headers=sent, timeout=5)


def fault_of(response: httpx.Response) -> tuple[str, str]:
    root = etree.fromstring(response.content)
    fault = root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    assert fault is not None, response.text
    return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""


def test_a_missing_soapaction_is_a_warning_only(server: ExampleServer) -> None:
    response = post(server, ENVELOPE, SOAPAction="")
    assert response.status_code == 200 and response.headers["content-type"] == "text/xml; charset=utf-8"
    assert [(f.severity.value, f.rule) for f in server.last("SubmitOrder").request_findings] == [("warning", "soap-action")]


@pytest.mark.parametrize(("headers", "status", "code", "words"), [
    ({"Content-Type": "application/json"}, 415, "soap-env:Client", "sent as text/xml"),
    ({"SOAPAction": "urn:hih:example:UploadRecord"}, 500, "soap-env:Client", "SOAPAction 'urn:hih:example:UploadRecord' is UploadRecord's"),
    ({"SOAPAction": "urn:nothing"}, 500, "soap-env:Client", "names no operation"),
])
def test_http_level_mistakes(server: ExampleServer, headers: dict[str, str], status: int, code: str, words: str) -> None:
    response = post(server, ENVELOPE, **headers)
    assert response.status_code == status
    got_code, message = fault_of(response)
    assert got_code == code and words in message


def test_a_soap_1_2_envelope_to_a_1_1_service_is_a_version_mismatch(server: ExampleServer) -> None:
    response = post(server, ENVELOPE.replace(SOAP11, "http://www.w3.org/2003/05/soap-envelope"))
    assert response.status_code == 500 and fault_of(response)[0] == "soap-env:VersionMismatch"


def test_other_methods_and_paths(server: ExampleServer) -> None:
    assert httpx.put(server.url, content=ENVELOPE).status_code == 405
    response = httpx.post(f"http://127.0.0.1:{server.port}/Elsewhere", content=ENVELOPE, headers={"Content-Type": "text/xml"})
    assert response.status_code == 404 and "no SOAP service at /Elsewhere" in fault_of(response)[1]


def test_payload_errors_can_be_faults(runtime: Runtime, example_contract: Contract) -> None:
    strict = start(runtime, example_contract, payload_errors="fault")
    client = zeep_client(strict.url)
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.UploadRecord(payload=[birth_notice(sex="3")], _soapheaders=[auth_header(client)])
    assert caught.value.code == "soap-env:Client" and "payload#/BirthNotice/sex" in caught.value.message
    assert strict.behaviour.records == []


# -- SOAP 1.2 ---------------------------------------------------------------------------------------------------------------
def test_soap_1_2_answers_and_faults(server12: ExampleServer) -> None:
    server12.reset()
    client = zeep_client(server12.url)
    reply = client.service.SubmitOrder(order=order(), _soapheaders=[auth_header(client)])
    assert reply.ResultCode == "0"
    assert server12.last("SubmitOrder").request_raw.count(b"http://www.w3.org/2003/05/soap-envelope") == 1
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.SubmitOrder(order=order(), _soapheaders=[auth_header(client, "wrong")])
    assert caught.value.code == "soap-env:Sender" and [q.localname for q in caught.value.subcodes] == ["Auth"]
    assert server12.last("SubmitOrder").status == 400
    response = httpx.post(server12.url, content=b"<a/>", headers={"Content-Type": "text/xml"})
    assert response.status_code == 415 and response.headers["content-type"].startswith("application/soap+xml")


# -- handlers that read plain data ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("wanted", ["<ex:wantedAt>", ('<ex:wantedAt xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
                                    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xsd:dateTime">')])
def test_plain_requests_hand_the_journals_form_to_the_handler(runtime: Runtime, example_contract: Contract,
                                                                wanted: str) -> None:
    """`plain_requests`: the handler gets the request as the journal keeps it, the very object of `context.body`,
    whether the body was decoded straight into that form or (an attribute in it) by zeep and then made plain."""
    from mocks.transport.soap import SoapContext, soap_app

    seen: list[tuple[Any, Any]] = []

    def submit(request: Any, context: SoapContext) -> dict[str, Any]:
        seen.append((request, context.body))
        return {"ResultCode": "0", "ResultMessage": "成功", "orderId": "EX1", "status": "RECEIVED"}

    journal = Journal()
    app = soap_app(example_contract, {"SubmitOrder": submit}, journal, FaultPlan(), plain_requests=frozenset({"SubmitOrder"}))
    listener = runtime.serve_http(app)
    body = ENVELOPE.replace("<ex:wantedAt>", wanted, 1)
    response = httpx.post(f"http://127.0.0.1:{listener.port}/ExampleService", content=body.encode(), timeout=5,
                          headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:hih:example:SubmitOrder"'})
    assert response.status_code == 200, response.text
    (request, journaled), = seen
    assert request is journaled and type(request) is dict
    assert request == {"order": {"orderNo": "ORDRAW00001", "urgency": "ROUTINE", "wantedAt": "2025-01-01T10:00:00",
                                 "item": [{"productCode": "E0001", "aboGroup": "B", "quantity": 1}], "remark": None}}
    exchange = journal.last("SubmitOrder")
    assert exchange is not None and exchange.request["body"] is request
