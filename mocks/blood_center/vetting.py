"""Every record the blood centre keeps is checked as the answer it feeds, before it is kept and again when a state file
is loaded.

A trainer's notice with a control character, a recall naming 201 DINs or a 300-character reject reason used to be
kept, and from then on every QueryNotices or QueryOrderFeedback answered a SOAP fault or broke its contract, even
after a restart. Here a record is turned into the very answer it feeds (`answers.py`) and that answer is encoded and
validated against the contract like any answer the mock sends: lengths, list sizes, code tables, patterns and types
come from the WSDL, not from a second copy of its rules. A problem is refused with a Chinese message naming the field
(the console shows it on the form); a stored record with a problem is set aside (`BloodCentre.damaged`), shown on
the console and never served.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import InvalidOperation
from typing import Any

from lxml import etree

from harness.contract.findings import Finding, Severity, clip
from mocks.blood_center import answers
from mocks.blood_center.centre import CentreError
from mocks.state import Store
from mocks.transport.soap import SoapHandler

REFUSED = "1001"
FIELD_ZH = {
    "title": "标题", "content": "内容", "din": "献血码", "reason": "原因", "type": "通知类型", "confirmed": "确认数量",
    "requested": "申请数量", "status": "状态", "orderNo": "预约单号", "returnNo": "退血单号", "noticeId": "通知编号",
    "publishedAt": "发布时间", "updatedAt": "更新时间", "decidedAt": "审核时间", "item": "明细行", "unit": "血袋",
    "issue": "发血单", "issueNo": "发血单号", "issuedAt": "发血时间", "productCode": "产品代码", "abo": "ABO 血型",
    "rhd": "RhD 血型", "volume": "容量", "collectedOn": "采血日期", "expiresAt": "有效期", "price": "价格",
    "sample": "配型样本", "sampleNo": "样本号", "PatientName": "患者姓名", "PatientId": "患者编号", "conclusion": "结论",
    "reportedAt": "报告时间", "antibody": "抗体", "antibodyScreen": "抗体筛查", "lineNo": "行号", "notice": "通知",
    "feedback": "预约反馈",
}
TYPE_ZH = {"decimal": "数值", "dateTime": "日期时间", "date": "日期", "positiveInteger": "正整数", "integer": "整数"}
# XML 1.0 has no place for C0 controls but tab, line feed and carriage return; C1 controls and non-characters are
# refused too (a trainer never means them, and many clients choke on them).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
_LINE_BREAK = re.compile("[\t\n\r\x85\u2028\u2029]")
_MAX_LENGTH = re.compile(r"\[facet 'maxLength'\] The value has a length of '(\d+)'; this exceeds the allowed maximum length of '(\d+)'")
_MAX_OCCURS = re.compile(r"Expected at most (\d+) items \(maxOccurs check\) (\d+) items found\.")
_ENUMERATION = re.compile(r"\[facet 'enumeration'\] The value '(.*)' is not an element of the set \{(.*)\}", re.S)
_PATTERN = re.compile(r"\[facet 'pattern'\] The value '(.*)' is not accepted by the pattern", re.S)
_ATOMIC = re.compile(r"'(.*)' is not a valid value of the atomic type 'xs:(\w+)'", re.S)
_ZEEP_PATH = re.compile(r"\(([\w.]+)\)\s*$")

_DUMMY_NOTE = {"issueNo": "FX000000000", "orderNo": "ORD000000", "issuedAt": "2000-01-01T00:00:00"}
KINDS: dict[str, tuple[str, Callable[[Any], dict[str, Any] | etree._Element]]] = {
    "order": ("QueryOrderFeedback", answers.feedback),
    "return": ("QueryReturnStatus", answers.return_status),
    "notice": ("QueryNotices", lambda notice: answers.notices([notice])),
    "sample": ("QueryCrossmatchResults", lambda sample: answers.samples([sample])),
    "issue": ("DownloadIssuedUnits", lambda note: answers.issued_units([note])),
    "bag": ("DownloadIssuedUnits", lambda bag: answers.issued_units([{**_DUMMY_NOTE, "units": [bag]}])),
}
"""What each kind of record feeds: the operation and how its answer is built from the record."""
TABLES = {"orders": "order", "returns": "return", "notices": "notice", "crossmatch": "sample", "inventory": "bag",
          "issues": "issue"}
"""The stored tables whose records feed answers, and their kind."""
TIMES = {"notice": ("publishedAt",), "sample": ("reportedAt",), "issue": ("issuedAt",), "bag": ("expiresAt",),
         "order": ("updatedAt", "receivedAt")}
"""Times the centre itself reads back (to sort, to compare), beside what the contract checks."""


def _field(finding: Finding) -> str:
    if finding.rule == "encode":
        path = _ZEEP_PATH.search(finding.message)
        return path.group(1).rsplit(".", 1)[-1] if path else ""
    return finding.location.rsplit("/", 1)[-1].split("[", 1)[0]


def in_chinese(finding: Finding) -> str:
    """What an answer's contract finding means for the field the trainer filled in, in Chinese."""
    field = _field(finding)
    label = FIELD_ZH.get(field, field or "记录")
    message = finding.message
    if found := _MAX_LENGTH.search(message):
        return f"{label}最长 {found.group(2)} 个字符，现为 {found.group(1)} 个"
    if found := _MAX_OCCURS.search(message):
        return f"{label}最多 {found.group(1)} 个，现为 {found.group(2)} 个"
    if found := _ENUMERATION.search(message):
        return f"{label} {clip(found.group(1), 40)} 不在代码表中（可选：{found.group(2).replace(chr(39), '')}）"
    if found := _PATTERN.search(message):
        return f"{label} {clip(found.group(1), 40)} 格式不符"
    if found := _ATOMIC.search(message):
        return f"{label} {clip(found.group(1), 40)} 不是有效的{TYPE_ZH.get(found.group(2), found.group(2))}"
    return f"{label}不符合接口规范：{clip(message, 160)}"


def _control_characters(value: Any, field: str = "") -> None:
    if isinstance(value, str):
        found = _CONTROL.search(value)
        if found:
            label = FIELD_ZH.get(field, field or "内容")
            raise CentreError(REFUSED, f"{label}含有控制字符 U+{ord(found.group()):04X}（第 {found.start() + 1} 个字符），"
                                       "请删除后重试")
    elif isinstance(value, dict):
        for key, item in value.items():
            _control_characters(item, str(key))
    elif isinstance(value, list):
        for item in value:
            _control_characters(item, field)


def checked_text(value: str, label: str, max_length: int, required: bool = True) -> str:
    """A short text the trainer typed that feeds no answer (a snapshot name, a trainee): stripped, one line within
    `max_length` characters, without control characters; CentreError (1001, naming `label`) otherwise."""
    text = value.strip()
    if required and not text:
        raise CentreError(REFUSED, f"请填写{label}")
    if len(text) > max_length:
        raise CentreError(REFUSED, f"{label}最长 {max_length} 个字符，现为 {len(text)} 个")
    found = _CONTROL.search(text) or _LINE_BREAK.search(text)
    if found:
        raise CentreError(REFUSED, f"{label}含有控制字符 U+{ord(found.group()):04X}（第 {found.start() + 1} 个字符），"
                                   "请删除后重试")
    return text


class AnswerVetting:
    """A `Vet` for the centre: raises CentreError (1001, a Chinese message) when a record cannot feed its answer."""

    def __init__(self, handler: SoapHandler) -> None:
        self.handler = handler

    def __call__(self, kind: str, record: dict[str, Any]) -> None:
        operation, build = KINDS[kind]
        _control_characters(record)
        try:
            for name in TIMES.get(kind, ()):
                if record.get(name) is not None:
                    datetime.fromisoformat(record[name])
            answer = build(record)
        except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
            raise CentreError(REFUSED, f"记录不完整或格式错误（{type(exc).__name__}: {clip(str(exc), 120)}）") from None
        data: dict[str, Any] | etree._Element = answer if isinstance(answer, etree._Element) else {**answers.SUCCESS, **answer}
        reply = self.handler.encode(operation, data)
        errors = [f for f in reply.findings if f.severity is Severity.ERROR]
        if errors:
            raise CentreError(REFUSED, in_chinese(errors[0]))


def check_state(store: Store, vet: Callable[[str, dict[str, Any]], None]) -> dict[tuple[str, str], str]:
    """The stored records that cannot be served, with why: every answer-feeding row of a loaded state file, vetted
    as the answer it feeds, and the rows the store could not read at all."""
    damaged = {(p.table, p.key): p.reason for p in store.problems}
    bags = dict(store.items("inventory"))
    for table, kind in TABLES.items():
        for key, row in store.items(table):
            try:
                if not isinstance(row, dict):
                    raise CentreError(REFUSED, f"记录不是一个对象（{type(row).__name__}）")
                if kind == "issue":
                    row = {**row, "units": [bags[din] for din in row["dins"]]}
                vet(kind, row)
            except CentreError as refused:
                damaged[(table, key)] = refused.message
            except (KeyError, TypeError, ValueError) as exc:
                damaged[(table, key)] = f"记录不完整或格式错误（{type(exc).__name__}: {clip(str(exc), 120)}）"
    return damaged
