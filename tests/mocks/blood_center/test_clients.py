"""Outside SOAP clients read the served WSDL and call the mock: suds (not what hih's connectors use) and raw HTTP;
auth and contract breaches are precise SOAP Faults."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import httpx
import pytest
from lxml import etree
from suds import WebFault
from suds.client import Client

from mocks.blood_center import BloodCenterMock
from tests.mocks.blood_center.conftest import Caller

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
logging.getLogger("suds").setLevel(logging.CRITICAL)


@pytest.fixture
def suds_client(centre: BloodCenterMock) -> Client:
    client = Client(f"{centre.service_url}?wsdl", cache=None, timeout=5)
    header = client.factory.create("{urn:hih:blood-center:service}AuthHeader")
    header.HospitalCode, header.Token = centre.hospital, centre.token
    client.set_options(soapheaders=header)
    return client


def test_suds_reads_the_wsdl_and_orders_blood(centre: BloodCenterMock, suds_client: Client) -> None:
    assert len(suds_client.wsdl.services[0].ports[0].methods) == 10
    order = suds_client.factory.create("{urn:hih:blood-center:service}BloodOrder")
    order.orderNo, order.urgency, order.wantedAt = "SUDS0001", "EMERGENCY", datetime(2026, 1, 1, 8)
    order.department, order.orderedBy = "急诊科", "赵医生"
    item = suds_client.factory.create("{urn:hih:blood-center:service}OrderItem")
    item.lineNo, item.productCode, item.abo, item.rhd, item.quantity, item.unit = 1, "E0005", "O", "POS", 1, "TQ"
    order.item = [item]
    reply = suds_client.service.SubmitBloodOrder(order)
    assert (reply.ResultCode, reply.status, reply.orderNo) == ("0", "RECEIVED", "SUDS0001")
    assert centre.centre.store.get("orders", f"{centre.hospital}/SUDS0001")["urgency"] == "EMERGENCY"
    notices = suds_client.service.QueryNotices(datetime.now() - timedelta(days=3))
    assert [n.type for n in notices.notice] == ["POLICY", "SHORTAGE"]
    assert all(not e.request_findings for e in centre.journal.entries() if e.operation)


def test_suds_sees_a_client_auth_fault_for_a_wrong_token(centre: BloodCenterMock, suds_client: Client) -> None:
    header = suds_client.factory.create("{urn:hih:blood-center:service}AuthHeader")
    header.HospitalCode, header.Token = centre.hospital, "wrong"
    suds_client.set_options(soapheaders=header)
    with pytest.raises(WebFault) as caught:
        suds_client.service.QueryOrderFeedback("ORD0001")
    assert caught.value.fault.faultcode.endswith("Client.Auth") and "令牌无效" in caught.value.fault.faultstring
    exchange = centre.journal.last("QueryOrderFeedback")
    assert exchange is not None and exchange.response["fault"]["code"] == "Client.Auth"


def test_zeep_gets_result_codes_not_faults_for_business_refusals(call: Caller) -> None:
    reply = call("CancelBloodOrder", orderNo="NOSUCH1", reason="x")
    assert (reply.ResultCode, reply.ResultMessage) == ("2002", "预约单 NOSUCH1 不存在")


def raw(centre: BloodCenterMock, body: str, action: str, header: str | None = None) -> tuple[int, str, str]:
    auth = header if header is not None else (
        f"<tns:AuthHeader><tns:HospitalCode>{centre.hospital}</tns:HospitalCode><tns:Token>{centre.token}</tns:Token></tns:AuthHeader>")
    envelope = (f'<s:Envelope xmlns:s="{SOAP11}" xmlns:tns="urn:hih:blood-center:service"><s:Header>{auth}</s:Header>'
                f"<s:Body>{body}</s:Body></s:Envelope>")
    response = httpx.post(centre.service_url, content=envelope.encode(), timeout=5,
                          headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"urn:hih:blood-center:{action}"'})
    fault = etree.fromstring(response.content).find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    assert fault is not None, response.text[:300]
    return response.status_code, fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""


def test_a_missing_or_unknown_auth_header_is_client_auth_before_the_schema(centre: BloodCenterMock) -> None:
    status, code, _ = raw(centre, "<tns:QueryOrderFeedback><tns:orderNo>x</tns:orderNo></tns:QueryOrderFeedback>",
                          "QueryOrderFeedback", header="")
    assert (status, code) == (500, "soap-env:Client.Auth")
    stranger = "<tns:AuthHeader><tns:HospitalCode>H00000000000</tns:HospitalCode><tns:Token>t</tns:Token></tns:AuthHeader>"
    status, code, message = raw(centre, "<tns:QueryOrderFeedback><tns:orderNo>x</tns:orderNo></tns:QueryOrderFeedback>",
                                "QueryOrderFeedback", header=stranger)
    assert code == "soap-env:Client.Auth" and "未在血液中心登记" in message


def test_a_request_that_breaks_the_xsd_is_a_client_fault_naming_the_place(centre: BloodCenterMock) -> None:
    status, code, message = raw(centre, "<tns:QueryOrderFeedback><tns:orderNo>lower-case</tns:orderNo></tns:QueryOrderFeedback>",
                                "QueryOrderFeedback")
    assert (status, code) == (500, "soap-env:Client")
    assert message.startswith("/Envelope/Body/QueryOrderFeedback/orderNo: ") and "pattern" in message


def test_an_injected_fault_is_a_server_fault(centre: BloodCenterMock, call: Caller) -> None:
    centre.inject("error_reply", operation="QueryNotices", message="血站系统维护中")
    status, code, message = raw(centre, "<tns:QueryNotices><tns:since>2026-01-01T00:00:00</tns:since></tns:QueryNotices>",
                                "QueryNotices")
    assert (status, code, message) == (500, "soap-env:Server", "血站系统维护中")
