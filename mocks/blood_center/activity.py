"""The activity log of the console: what the hospital system sent and what it got, from the mock's journal.

One row per exchange, newest first: local time, the operation's Chinese name, the document it was about (order,
issue note, return, sample), the answer (result code and message in Chinese, a SOAP Fault, or nothing because a
fault held or cut the reply), the fault played, the time taken and the contract findings. The raw request and reply
are shown with the auth header's token and the patients' names and IDs masked, each cut at `RAW_SHOWN` characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from harness.contract import xmlsafe
from harness.contract.findings import Severity
from mocks.blood_center.drill_match import answer_fields
from mocks.blood_center.labels import Labels, local_time
from mocks.transport.journal import Exchange

RAW_SHOWN = 8_000
SUBJECTS = ("orderNo", "issueNo", "returnNo", "sampleNo")
_SECRET = re.compile(r"(<(?:[\w.-]+:)?Token\b[^>]*>)[^<]*(</)", re.I)
_PATIENT = re.compile(r"(<(?:[\w.-]+:)?Patient(?:Name|Id)\b[^>]*>)([^<]*)(</)")
NO_REPLY = {"no_reply": "无应答（故障：不应答）", "reset": "无应答（故障：连接重置）"}


@dataclass(frozen=True)
class Activity:
    id: int
    time: str
    operation: str
    key: str | None
    subject: str
    answer: str
    fault: str
    duration: str
    findings: str
    request: str
    response: str


def _mask_patient(match: re.Match[str]) -> str:
    value = match.group(2)
    shown = value[:1] + "*" * (len(value) - 1) if len(value) <= 4 else value[:2] + "*" * (len(value) - 4) + value[-2:]
    return f"{match.group(1)}{shown}{match.group(3)}"


def masked(raw: bytes | None) -> str:
    """A raw SOAP message for the page: pretty-printed when it parses, the token and patients masked, cut short."""
    if not raw:
        return ""
    text = raw.decode("utf-8", "replace")
    try:
        text = etree.tostring(xmlsafe.parse(raw), encoding="unicode", pretty_print=True)
    except (xmlsafe.XmlRefused, etree.XMLSyntaxError, ValueError):
        pass
    text = _PATIENT.sub(_mask_patient, _SECRET.sub(r"\1***\2", text))
    return text if len(text) <= RAW_SHOWN else text[:RAW_SHOWN] + f"\n…（共 {len(text)} 个字符，其余未显示）"


def _subject(exchange: Exchange) -> str:
    body = exchange.request.get("body") if isinstance(exchange.request, dict) else None
    if not isinstance(body, dict):
        return ""
    body = body.get("order", body) if isinstance(body.get("order"), dict) else body
    found = [str(body[name]) for name in SUBJECTS if body.get(name)]
    return " ".join(found)


def _answer(exchange: Exchange, labels: Labels) -> str:
    if exchange.fault in NO_REPLY and not exchange.response_raw:
        return NO_REPLY[exchange.fault]
    if exchange.meta.get("method") == "GET":
        return f"HTTP {exchange.status}"
    fields = answer_fields(exchange)
    if fields is None:
        return f"HTTP {exchange.status}" if exchange.status else "无应答"
    fault = fields.get("Fault")
    if isinstance(fault, dict):
        return f"SOAP 故障 {fault.get('faultcode', '')}：{fault.get('faultstring', '')}"
    code = str(fields.get("ResultCode", ""))
    text = f"{code} {labels.code('result', code)}"
    message = fields.get("ResultMessage")
    if message and message not in (labels.code("result", code), "成功"):
        text += f"：{message}"
    feedback = fields.get("feedback")
    status = feedback.get("status") if isinstance(feedback, dict) else fields.get("status")
    if isinstance(status, str) and status:
        kind = "order_status" if exchange.operation in ("QueryOrderFeedback", "SubmitBloodOrder", "CancelBloodOrder") else "return_status"
        text += f" · {labels.code(kind, status)}"
    return text


def activity(entries: list[Exchange], labels: Labels, fault_names: dict[str, str]) -> list[Activity]:
    """The exchanges as rows for the page, newest first."""
    rows = []
    for exchange in reversed(entries):
        if exchange.direction != "inbound":
            continue
        if exchange.meta.get("method") == "GET":
            operation = "读取 WSDL/XSD"
        else:
            operation = labels.operation(exchange.operation)
        errors = sum(1 for f in [*exchange.request_findings, *exchange.response_findings] if f.severity is Severity.ERROR)
        rows.append(Activity(
            id=exchange.id, time=local_time(exchange.started, seconds=True), operation=operation, key=exchange.operation,
            subject=_subject(exchange), answer=_answer(exchange, labels),
            fault=fault_names.get(exchange.fault, exchange.fault) if exchange.fault else "",
            duration=f"{exchange.duration_ms:.0f} ms", findings="符合" if not errors else f"{errors} 处不符合",
            request=masked(exchange.request_raw), response=masked(exchange.response_raw)))
    return rows
