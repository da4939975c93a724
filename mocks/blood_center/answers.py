"""The blood centre's answers built from its records: what each query operation sends back for a stored order, issue
note, return, cross-match sample or notice.

One place for them, because two parts use them: the SOAP operations answer with them, and the vetting checks every
record the trainer or the hospital changes (and every record loaded from a state file) by building the very answer
it feeds and validating that against the contract.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from lxml import etree

from mocks.blood_center.inventory import PRODUCTS

SERVICE_NS = "urn:hih:blood-center:service"
_NS = f"{{{SERVICE_NS}}}"
SUCCESS = {"ResultCode": "0", "ResultMessage": "成功"}


def no_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def leaf(parent: etree._Element, name: str, text: str) -> None:
    etree.SubElement(parent, _NS + name).text = text


SUBMITTED = ("ResultCode", "ResultMessage", "orderNo", "status", "receivedAt")
"""SubmitBloodOrderResponse's elements, in the schema's order."""
_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
_SUBMITTED = etree.Element(f"{{{_SOAP11}}}Envelope", nsmap={"soap-env": _SOAP11})
_SUBMITTED_REPLY = etree.SubElement(etree.SubElement(_SUBMITTED, f"{{{_SOAP11}}}Body"), f"{_NS}SubmitBloodOrderResponse",
                                    nsmap={"ns0": SERVICE_NS})
for _name in SUBMITTED:
    etree.SubElement(_SUBMITTED_REPLY, _NS + _name)


def submitted(order_no: str, status: str, received_at: str) -> etree._Element:
    """SubmitBloodOrder's answer for an order taken: a copy of the answer's shape with its texts set (the hot write of
    the interface; creating its elements one by one cost several times the copy), inside the SOAP 1.1 envelope it
    goes out in, so that the transport sends that envelope as it is (it makes its own for another SOAP version)."""
    reply = copy.deepcopy(_SUBMITTED)[0][0]
    for node, text in zip(reply, (SUCCESS["ResultCode"], SUCCESS["ResultMessage"], order_no, status, received_at),
                          strict=True):
        node.text = text
    return reply


def quantity(value: Any) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def feedback(order: dict[str, Any]) -> dict[str, Any]:
    """QueryOrderFeedback's fields for an order."""
    return {"feedback": no_none({
        "orderNo": order["orderNo"], "status": order["status"], "updatedAt": order["updatedAt"],
        "reason": order["reason"],
        "item": [no_none({"lineNo": i["lineNo"], "productCode": i["productCode"], "abo": i["abo"], "rhd": i["rhd"],
                          "requested": i["requested"], "confirmed": i["confirmed"], "unit": i["unit"],
                          "reason": i["reason"]}) for i in order["items"]],
    })}


def issued_units(notes: list[dict[str, Any]]) -> etree._Element:
    """DownloadIssuedUnits' answer for issue notes (each with its bags under `units`), built with lxml: the hot read
    of the interface (zeep's encoder costs half the call)."""
    reply = etree.Element(f"{_NS}DownloadIssuedUnitsResponse", nsmap={"ns0": SERVICE_NS})
    leaf(reply, "ResultCode", SUCCESS["ResultCode"])
    leaf(reply, "ResultMessage", SUCCESS["ResultMessage"])
    for note in notes:
        issue = etree.SubElement(reply, f"{_NS}issue")
        for name in ("issueNo", "orderNo", "issuedAt"):
            leaf(issue, name, note[name])
        for bag in note["units"]:
            unit = etree.SubElement(issue, f"{_NS}unit")
            for name, value in (("din", bag["din"]), ("productCode", bag["productCode"]),
                                ("productName", PRODUCTS[bag["productCode"]].name), ("abo", bag["abo"]),
                                ("rhd", bag["rhd"]), ("volume", str(bag["volume"])), ("collectedOn", bag["collectedOn"]),
                                ("expiresAt", bag["expiresAt"]), ("price", bag["price"])):
                leaf(unit, name, value)
    return reply


def return_status(record: dict[str, Any]) -> dict[str, Any]:
    """QueryReturnStatus' fields for a return."""
    return no_none({"returnNo": record["returnNo"], "status": record["status"], "reason": record["decision"],
                    "decidedAt": record["decidedAt"], "din": record["din"]})


def samples(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """QueryCrossmatchResults' fields for cross-match samples."""
    return {"sample": [no_none({
        "sampleNo": s["sampleNo"], "PatientId": s["PatientId"], "PatientName": s["PatientName"], "abo": s["abo"],
        "rhd": s["rhd"], "antibodyScreen": s["antibodyScreen"], "antibody": s["antibody"], "unit": s["units"],
        "conclusion": s["conclusion"], "reportedAt": s["reportedAt"]}) for s in rows]}


def notices(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """QueryNotices' fields for notices."""
    return {"notice": [no_none(n) for n in rows]}
