"""A tiny behaviour for the example SOAP contract (tests/data/soap/example): what a partner mock plugs into SoapHandler."""

from __future__ import annotations

import itertools
from typing import Any

from harness.contract.model import Contract
from mocks.transport.faults import FaultPlan
from mocks.transport.http import HttpTransport
from mocks.transport.journal import Journal
from mocks.transport.soap import SoapContext, SoapFault, soap_app

HOSPITAL = "H33010600001"
TOKEN = "example-token"


class ExampleBehaviour:
    """Orders are idempotent by number (same content, same answer; other content, result code 2001); records get ids."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.orders: dict[str, tuple[Any, dict[str, Any]]] = {}
        self.records: list[str] = []
        self._ids = itertools.count(1)

    def authenticate(self, credentials: dict[str, str], context: SoapContext) -> str | None:
        if credentials.get("HospitalCode") != HOSPITAL or credentials.get("Token") != TOKEN:
            return "医院编码或令牌无效"
        return None

    def submit_order(self, request: Any, context: SoapContext) -> dict[str, Any]:
        order = request.order
        if order.orderNo == "CRASH0000":
            raise RuntimeError("the behaviour fell over")
        if order.orderNo == "REFUSE000":
            raise SoapFault("Client.Duplicate", "订单号已作废")
        if order.orderNo == "BADANSWER":
            return {"ResultCode": "0", "ResultMessage": "成功", "status": "SHIPPED"}
        content = {"urgency": order.urgency, "items": [(i.productCode, i.aboGroup, i.quantity) for i in order.item]}
        known = self.orders.get(order.orderNo)
        if known is not None:
            if known[0] != content:
                return {"ResultCode": "2001", "ResultMessage": f"订单号 {order.orderNo} 已用于不同内容"}
            return known[1]
        answer = {"ResultCode": "0", "ResultMessage": "成功", "orderId": f"EX{next(self._ids):06d}", "status": "RECEIVED"}
        self.orders[order.orderNo] = (content, answer)
        return answer

    async def upload_record(self, request: Any, context: SoapContext) -> dict[str, Any]:
        ids: list[str] = []
        errors: list[str] = []
        for number, payload in enumerate(context.payloads, 1):
            if payload.valid:
                record_id = f"R{next(self._ids):06d}"
                self.records.append(record_id)
                ids.append(record_id)
            else:
                errors.extend(f"第 {number} 条: {f.location} {f.message}" for f in payload.findings)
        if errors:
            return {"ResultCode": "1001", "ResultMessage": f"{len(errors)} 处不符合规范", "recordId": ids, "error": errors}
        return {"ResultCode": "0", "ResultMessage": "成功", "recordId": ids}


def example_app(contract: Contract, behaviour: ExampleBehaviour, journal: Journal, faults: FaultPlan,
                **options: Any) -> HttpTransport:
    return soap_app(contract, {"SubmitOrder": behaviour.submit_order, "UploadRecord": behaviour.upload_record},
                    journal, faults, authenticate=behaviour.authenticate, **options)
