"""Step definitions for the maternal-child platform specs: drive the connector, check its results, the platform's
records and the journal of what crossed the wire.

Failed checks say in the health-records office's words what was expected and what happened (`SpecFailure`);
sentences other interfaces share are in `features.steps.common`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from features.steps import raw_http
from features.steps.common import *  # noqa: F403 - the shared sentences are registered through this import
from features.steps.common import no_reply_hold_s
from features.steps.mch_samples import BAD_CHECK_ID, sample, with_changes
from features.steps.outcome import (
    attempt,
    count_of,
    describe,
    expect,
    failure,
    held,
    nonempty,
    same_items,
    success,
)
from harness.contract import xmlsafe
from harness.contract.soap_wsdl import local_name
from harness.failure import SpecFailure
from harness.ports.mch_platform import HospitalRecord, InvalidRecord, MchError, UploadResult

NONE = "无"
STATUS = {"接收": "ACCEPTED", "拒绝": "REJECTED"}
SERVICE_NS = "urn:hih:mch:service"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def _quoted(text: str) -> str:
    return text


_quoted.pattern = r'[^"]*'  # type: ignore[attr-defined]


def _p(pattern: str) -> Any:
    """A step pattern whose quoted values never run past their closing quote."""
    return parsers.parse(pattern, extra_types={"q": _quoted})


# -- helpers --------------------------------------------------------------------------------------------------
def _attempt(ctx: dict[str, Any], action: Callable[[], Any]) -> Any:
    return attempt(ctx, action, MchError)


def _result(ctx: dict[str, Any]) -> UploadResult:
    result = success(ctx)
    expect(isinstance(result, UploadResult), "上一步没有得到一条记录的上传结果", expected="一条记录的上传结果",
           actual=repr(result)[:300])
    return result


def _results(ctx: dict[str, Any]) -> list[UploadResult]:
    results = success(ctx)
    expect(isinstance(results, list), "上一步没有得到批量上传结果", expected="每条记录的上传结果", actual=repr(results)[:300])
    return nonempty(results, "批量上传没有得到任何一条记录的结果", transaction="UploadBatch")


def _remember(ctx: dict[str, Any], results: list[UploadResult]) -> None:
    for r in results:
        if r.record_id:
            ctx.setdefault("ids", {})[r.record_no] = r.record_id


def _value(text: str) -> Any:
    return None if text == NONE else text


def _record(ctx: dict[str, Any], record_type: str, record_no: str, changes: dict[str, Any] | None = None) -> HospitalRecord:
    try:
        record = sample(record_type, record_no)
    except KeyError:
        raise SpecFailure("场景写了没有样例数据的记录类型", expected="合同中的记录类型", actual=record_type) from None
    record = with_changes(record, **changes) if changes else record
    ctx.setdefault("records", {})[record_no] = record
    return record


def _operations(mock: Any) -> list[str]:
    entries = sorted(mock.journal.entries(), key=lambda e: (e.started, e.id))
    return [e.operation for e in entries if e.operation]


def _envelope(mock: Any, body: str, session: str | None) -> bytes:
    header = ""
    if session is not None:
        org = next(iter(mock.credentials))
        header = (f"<soap:Header><s:SessionHeader xmlns:s='{SERVICE_NS}'><s:orgCode>{org}</s:orgCode>"
                  f"<s:sessionKey>{session}</s:sessionKey></s:SessionHeader></soap:Header>")
    return (f"<?xml version='1.0' encoding='UTF-8'?><soap:Envelope xmlns:soap='{ENV}'>{header}"
            f"<soap:Body>{body}</soap:Body></soap:Envelope>").encode()


def _login_raw(mock: Any) -> str:
    org, password = next(iter(mock.credentials.items()))
    reply = _post(mock, "Login", _envelope(mock, f"<s:Login xmlns:s='{SERVICE_NS}'><s:orgCode>{org}</s:orgCode>"
                                                 f"<s:password>{password}</s:password></s:Login>", None))
    root = xmlsafe.parse(reply.content, 1 << 20)
    key = root.find(f".//{{{SERVICE_NS}}}sessionKey")
    expect(key is not None and key.text, "平台登录没有返回会话密钥", transaction="Login", expected="sessionKey",
           actual=reply.text[:300])
    return str(key.text)


def _post(mock: Any, action: str, body: bytes) -> httpx.Response:
    return raw_http.post(mock.service_url, body, {"Content-Type": "text/xml; charset=utf-8",
                                                  "SOAPAction": f"urn:hih:mch:{action}"}, 5.0)


def _upload_body(record_type: str, payload: str) -> str:
    escaped = payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (f"<s:UploadRecord xmlns:s='{SERVICE_NS}'><s:recordType>{record_type}</s:recordType>"
            f"<s:payload>{escaped}</s:payload></s:UploadRecord>")


# -- Given ----------------------------------------------------------------------------------------------------
@given(parsers.parse("平台发放的会话有效期只有 {seconds:d} 秒"))
def short_sessions(request: pytest.FixtureRequest, mch_platform_mock: Any, seconds: int) -> None:
    """Shorter than the connector's margin (30 s): it must log in again before each call, not wait to be refused."""
    before = mch_platform_mock.session_ttl_s
    mch_platform_mock.session_ttl_s = seconds
    request.addfinalizer(lambda: setattr(mch_platform_mock, "session_ttl_s", before))


@given(parsers.parse("登录后已过去 {seconds:g} 秒"))
def time_passes(seconds: float) -> None:
    time.sleep(seconds)


@given("医院已登录妇幼平台")
def logged_in(mch_platform: Any) -> None:
    mch_platform.login()


@given(_p('平台已收到 "{record_type:q}" 记录 "{record_no:q}"'))
def already_uploaded(mch_platform: Any, ctx: dict[str, Any], record_type: str, record_no: str) -> None:
    result = mch_platform.upload(_record(ctx, record_type, record_no))
    expect(result.accepted, f"平台没有接收记录 {record_no}", transaction="UploadRecord", expected="接收", actual=result)
    _remember(ctx, [result])


@given("平台会话已过期")
def sessions_expired(mch_platform_mock: Any) -> None:
    expect(mch_platform_mock.expire_sessions() >= 1, "平台上没有可以过期的会话", expected="至少一个会话", actual="没有")


@given("平台上医院的密码已更换")
def password_changed(mch_platform: Any, mch_platform_mock: Any) -> None:
    """The connector keeps the password it was configured with; the platform now expects another."""
    org = next(iter(mch_platform_mock.credentials))
    mch_platform_mock.credentials[org] = "a-password-the-hospital-does-not-have"


@given(_p('平台审核时将退回记录 "{record_no:q}"，原因 "{reason:q}"'))
def will_return(mch_platform_mock: Any, record_no: str, reason: str) -> None:
    mch_platform_mock.audit_returns[record_no] = reason


@given("平台此后对所有请求都不应答")
def platform_down(mch_platform_mock: Any, hih: Any) -> None:
    mch_platform_mock.inject("no_reply", times=None, phase="before", delay_s=no_reply_hold_s(hih))


@given("平台此后断开所有连接")
def platform_resets(mch_platform_mock: Any) -> None:
    mch_platform_mock.inject("reset", times=None, phase="before")


@given("平台恢复应答")
@when("平台恢复应答")
def platform_back(mch_platform_mock: Any) -> None:
    mch_platform_mock.faults.clear()


# -- When -----------------------------------------------------------------------------------------------------
@when(_p('上传 "{record_type:q}" 记录 "{record_no:q}"'))
def upload(mch_platform: Any, ctx: dict[str, Any], record_type: str, record_no: str) -> None:
    result = _attempt(ctx, lambda: mch_platform.upload(_record(ctx, record_type, record_no)))
    if result is not None:
        _remember(ctx, [result])


@when(_p('上传 "{record_type:q}" 记录 "{record_no:q}"，其中 "{element:q}" 为 "{value:q}"'))
def upload_changed(mch_platform: Any, ctx: dict[str, Any], record_type: str, record_no: str, element: str, value: str) -> None:
    record = _record(ctx, record_type, record_no, {element: _value(value)})
    result = _attempt(ctx, lambda: mch_platform.upload(record))
    if result is not None:
        _remember(ctx, [result])


@when(_p('上传逾期的 "{record_type:q}" 记录 "{record_no:q}"，迟报原因 "{reason:q}"'))
def upload_late(mch_platform: Any, ctx: dict[str, Any], record_type: str, record_no: str, reason: str) -> None:
    event = {"BIRTH_CERT_VOID": "voidDate", "NEWBORN_SCREENING": "screeningDate", "HIGH_RISK": "assessmentDate"}[record_type]
    record = _record(ctx, record_type, record_no, {event: "2020-01-01", "lateReason": reason})
    result = _attempt(ctx, lambda: mch_platform.upload(record))
    if result is not None:
        _remember(ctx, [result])


@when(_p('上传母亲身份证号校验位错误的 "{record_type:q}" 记录 "{record_no:q}"'))
def upload_bad_id(mch_platform: Any, ctx: dict[str, Any], record_type: str, record_no: str) -> None:
    record = _record(ctx, record_type, record_no, {"motherIdCard": BAD_CHECK_ID})
    _attempt(ctx, lambda: mch_platform.upload(record))


@when(_p('批量上传 {count:d} 条 "{record_type:q}" 记录，编号前缀 "{prefix:q}"'))
def upload_many(mch_platform: Any, ctx: dict[str, Any], count: int, record_type: str, prefix: str) -> None:
    records = [_record(ctx, record_type, f"{prefix}{i:04d}") for i in range(1, count + 1)]
    results = _attempt(ctx, lambda: mch_platform.upload_batch(records))
    if results is not None:
        _remember(ctx, results)


@when(_p('批量上传 "{record_type:q}" 记录 "{numbers:q}"'))
def upload_listed(mch_platform: Any, ctx: dict[str, Any], record_type: str, numbers: str) -> None:
    records = [_record(ctx, record_type, n.strip()) for n in numbers.split(",")]
    results = _attempt(ctx, lambda: mch_platform.upload_batch(records))
    if results is not None:
        _remember(ctx, results)


@when(_p('批量上传不同类型的记录 "{pairs:q}"'))
def upload_mixed(mch_platform: Any, ctx: dict[str, Any], pairs: str) -> None:
    """`TYPE 编号, TYPE 编号`: the platform's batch carries one record type, so this batch must not leave."""
    records = [_record(ctx, kind, number) for kind, number in (pair.split() for pair in pairs.split(","))]
    results = _attempt(ctx, lambda: mch_platform.upload_batch(records))
    if results is not None:
        _remember(ctx, results)


@when(_p('上传 "{record_type:q}" 记录 "{record_no:q}"，其中 "{element:q}" 为 "{value:q}"，"{other:q}" 为 "{other_value:q}"'))
def upload_two_changes(mch_platform: Any, ctx: dict[str, Any], record_type: str, record_no: str, element: str, value: str,
                       other: str, other_value: str) -> None:
    record = _record(ctx, record_type, record_no, {element: _value(value), other: _value(other_value)})
    _attempt(ctx, lambda: mch_platform.upload(record))


@when(_p('以更正方式上传 "{record_type:q}" 记录 "{record_no:q}"，其中 "{element:q}" 为 "{value:q}"'))
def correct(mch_platform: Any, ctx: dict[str, Any], record_type: str, record_no: str, element: str, value: str) -> None:
    record = _record(ctx, record_type, record_no, {element: _value(value)})
    result = _attempt(ctx, lambda: mch_platform.correct(record, "核对病历后更正"))
    if result is not None:
        _remember(ctx, [result])


@when(_p('查询记录 "{record_no:q}" 的审核结果'))
def query(mch_platform: Any, ctx: dict[str, Any], record_no: str) -> None:
    record_id = ctx.get("ids", {}).get(record_no, "MCH2099010199999999")
    _attempt(ctx, lambda: mch_platform.query(record_id))


@when(_p('撤回记录 "{record_no:q}"，原因 "{reason:q}"'))
def withdraw(mch_platform: Any, ctx: dict[str, Any], record_no: str, reason: str) -> None:
    record_id = ctx.get("ids", {}).get(record_no, "MCH2099010199999999")
    _attempt(ctx, lambda: mch_platform.withdraw(record_id, reason))


@when("连接器处理待发记录")
def flush(mch_platform: Any, ctx: dict[str, Any]) -> None:
    results = _attempt(ctx, mch_platform.flush)
    if results is not None:
        _remember(ctx, results)


@when(_p('绕过连接器向平台发送 "{what:q}"'))
def raw_send(mch_platform_mock: Any, ctx: dict[str, Any], what: str) -> None:
    mock = mch_platform_mock
    if what == "无会话头的上传":
        body, session = _upload_body("DELIVERY", "<DeliveryRecord xmlns='urn:hih:mch:records'/>"), None
    elif what == "伪造会话密钥的上传":
        body, session = _upload_body("DELIVERY", "<DeliveryRecord xmlns='urn:hih:mch:records'/>"), "0" * 32
    else:
        session = _login_raw(mock)
        if what == "身份证号校验位错误的记录":
            body = _upload_body("HEARING_SCREENING", _raw_hearing(mock))
        elif what == "含外部实体的请求":
            ctx["raw"] = _post(mock, "UploadRecord", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"
                                                     + _envelope(mock, _upload_body("DELIVERY", "&e;"), session)[21:])
            return
        elif what == "含实体膨胀的记录":
            bomb = ("<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]>"
                    "<DeliveryRecord xmlns='urn:hih:mch:records'>&lol2;</DeliveryRecord>")
            body = _upload_body("DELIVERY", bomb)
        elif what == "不是 XML 的记录":
            body = _upload_body("DELIVERY", "这不是一条记录")
        elif what == "超过大小限制的请求":
            body = _upload_body("DELIVERY", "<DeliveryRecord xmlns='urn:hih:mch:records'>" + "x" * (5 * 1024 * 1024) + "</DeliveryRecord>")
        else:
            raise SpecFailure("场景写了这个步骤不认识的请求", expected="已定义的绕过连接器的请求", actual=what)
    ctx["raw"] = _post(mock, "UploadRecord", _envelope(mock, body, session))


def _raw_hearing(mock: Any) -> str:
    """A hearing screening record valid against its XSD whose mother's ID number has a wrong check character."""
    from datetime import date, timedelta

    today = date.today()
    org = next(iter(mock.credentials))
    return ("<HearingScreening xmlns='urn:hih:mch:records'><recordNo>RAW0001</recordNo><operation>1</operation>"
            f"<uploadSerial>RAWSERIAL0001</uploadSerial><orgCode>{org}</orgCode><orgName>示例市妇幼保健院</orgName>"
            f"<reportDate>{today}</reportDate><sex>1</sex><birthDate>{today - timedelta(days=3)}</birthDate>"
            f"<motherName>李秀英</motherName><motherIdType>01</motherIdType><motherIdCard>{BAD_CHECK_ID}</motherIdCard>"
            f"<motherPhone>13812345678</motherPhone><screeningDate>{today - timedelta(days=1)}</screeningDate>"
            "<stage>1</stage><method>OAE</method><leftEar>1</leftEar><rightEar>1</rightEar></HearingScreening>")


# -- Then -----------------------------------------------------------------------------------------------------
@then(_p('上传结果为 "{status:q}"'))
def upload_status(ctx: dict[str, Any], status: str) -> None:
    result = _result(ctx)
    expect(result.status == STATUS[status], f"记录 {result.record_no} 的上传结果不对", transaction="UploadRecord",
           expected=status, actual=f"{result.status} {list(result.errors)}")
    if result.accepted:
        expect(result.record_id, "平台接收了记录，连接器却没有记下平台的记录编号", transaction="UploadRecord",
               expected="平台记录编号", actual=result)


@then(_p('错误代码为 "{code:q}"'))
def error_code(ctx: dict[str, Any], code: str) -> None:
    result = _result(ctx)
    same_items([e.code for e in result.errors][:1], [code], "平台拒绝记录的错误代码不对", transaction="UploadRecord")


@then(_p('错误位置包含 "{text:q}"'))
def error_location(ctx: dict[str, Any], text: str) -> None:
    result = _result(ctx)
    expect(any(text in e.location for e in result.errors), "平台拒绝记录时没有指出位置", transaction="UploadRecord",
           expected=f"位置包含“{text}”", actual=[e.location for e in result.errors])


@then(parsers.parse("批量结果为 接收 {accepted:d} 条、拒绝 {rejected:d} 条"))
def batch_counts(ctx: dict[str, Any], accepted: int, rejected: int) -> None:
    results = _results(ctx)
    got = (sum(r.accepted for r in results), sum(not r.accepted for r in results))
    expect(got == (accepted, rejected), "批量上传的接收、拒绝条数不对", transaction="UploadBatch",
           expected=f"接收 {accepted} 条、拒绝 {rejected} 条", actual=f"接收 {got[0]} 条、拒绝 {got[1]} 条",
           detail="; ".join(f"{r.record_no} {r.status}" for r in results if not r.accepted)[:500])


@then(_p('记录 "{record_no:q}" 被拒绝，错误代码 "{code:q}"'))
def batch_rejected(ctx: dict[str, Any], record_no: str, code: str) -> None:
    found = [r for r in _results(ctx) if r.record_no == record_no]
    expect(found, f"批量结果中没有记录 {record_no}", transaction="UploadBatch", expected=record_no,
           actual=[r.record_no for r in _results(ctx)])
    expect(not found[0].accepted, f"记录 {record_no} 应被拒绝，却被接收", transaction="UploadBatch", expected="拒绝",
           actual=found[0].status)
    same_items([e.code for e in found[0].errors][:1], [code], f"记录 {record_no} 被拒绝的错误代码不对",
               transaction="UploadBatch")


@then(_p("连接器在发送前拒绝该记录，错误信息说明第一处问题并注明另有 {more:d} 处"))
def refused_message(ctx: dict[str, Any], more: int) -> None:
    """What the operator reads: the first problem (its element and why, together) and how many more there are."""
    error = failure(ctx, InvalidRecord)
    first = nonempty(error.findings, "连接器拒绝了记录，却没有列出问题")[0]
    wanted = f"{first.location}: {first.message} (and {more} more)"
    expect(len(error.findings) == more + 1 and wanted in str(error), "连接器拒绝记录的说明与它列出的问题不一致",
           expected=wanted, actual=f"{error}（共列出 {len(error.findings)} 处）"[:500])


@then(_p('连接器在发送前拒绝该记录，指出 "{text:q}"'))
def refused_before_sending(ctx: dict[str, Any], mch_platform_mock: Any, text: str) -> None:
    error = failure(ctx, InvalidRecord)
    expect(any(text in f.location or text in f.message for f in error.findings), "连接器拒绝了记录，但没有指出出错的元素",
           expected=f"指出“{text}”", actual=[f"{f.location} {f.message}" for f in error.findings][:5])
    sent = [op for op in _operations(mch_platform_mock) if op in ("UploadRecord", "UploadBatch")]
    expect(not sent, "不合格的记录被发给了平台", expected="平台没有收到上传", actual=sent)


@then(_p('平台收到记录 "{record_no:q}" 的上传 {count:d} 次'))
def uploads_of(mch_platform_mock: Any, record_no: str, count: int) -> None:
    got = mch_platform_mock.uploads_of(record_no)
    expect(got == count, f"平台收到记录 {record_no} 的次数不对", expected=f"{count} 次", actual=f"{got} 次",
           detail=f"平台收到的操作：{_operations(mch_platform_mock)}")


@then(_p('平台上记录 "{record_no:q}" 有 {count:d} 条，版本为 {version:d}'))
def platform_records(mch_platform_mock: Any, record_no: str, count: int, version: int) -> None:
    rows = mch_platform_mock.records(record_no=record_no)
    count_of(rows, count, f"平台上记录 {record_no} 的条数不对", detail=f"{[(r['id'], r['status']) for r in rows]}")
    if rows:
        expect(rows[-1]["version"] == version, f"平台上记录 {record_no} 的版本不对", expected=version,
               actual=rows[-1]["version"])


@then(_p('平台上记录 "{record_no:q}" 的状态为 "{status:q}"'))
def platform_status(mch_platform_mock: Any, record_no: str, status: str) -> None:
    rows = nonempty(mch_platform_mock.records(record_no=record_no), f"平台上没有记录 {record_no}")
    expect(rows[0]["status"] == status, f"平台上记录 {record_no} 的状态不对", expected=status, actual=rows[0]["status"])


@then(_p('平台上记录 "{record_no:q}" 的内容与医院记录一致'))
def platform_content(ctx: dict[str, Any], mch_platform_mock: Any, record_no: str) -> None:
    """Every value the hospital holds for the record, as the platform stored it (dates, IDs, weights ...)."""
    records: dict[str, HospitalRecord] = ctx.get("records", {})
    expect(record_no in records, f"场景没有上传记录 {record_no}", expected=record_no, actual=sorted(records))
    record = records[record_no]
    rows = nonempty(mch_platform_mock.records(record_no=record_no), f"平台上没有记录 {record_no}")
    stored = xmlsafe.parse(rows[-1]["payload"].encode("utf-8"), 1 << 22)
    held_there = _flat(stored)
    known = _declared(mch_platform_mock, record.record_type)
    checked = 0
    for name, value in _flat_values(record.data):
        if name.split("[")[0] not in known:
            continue  # the contract in force has no such element: the connector leaves it out
        expect(name in held_there, f"平台上的记录 {record_no} 缺少医院记录中的 {name}", expected=_text_of(value),
               actual="没有该元素")
        expect(held_there[name] == _text_of(value), f"平台上的记录 {record_no} 的 {name} 与医院记录不一致",
               expected=_text_of(value), actual=held_there[name])
        checked += 1
    expect(checked, f"记录 {record_no} 没有可以比较的内容", expected="至少一个元素", actual="没有")


def _declared(mock: Any, record_type: str) -> set[str]:
    """Element names the record type's XSD in force declares (and the shared types.xsd beside it)."""
    payload = mock.spec.payload_types.get(record_type)
    expect(payload is not None, "合同中没有这种记录类型", expected="合同中的记录类型", actual=record_type)
    schema = mock.contract.folder / payload.schema
    names: set[str] = set()
    for path in (schema, schema.parent / "types.xsd"):
        if not path.is_file():
            continue
        tree = xmlsafe.parse(path.read_bytes(), 1 << 22)
        names |= {e.get("name", "") for e in tree.iter("{http://www.w3.org/2001/XMLSchema}element")}
    return names


def _flat_values(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """The hospital's values by path, each element numbered (`newborn[0]/sex[0]`) as `_flat` numbers the XML."""
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            name = f"{prefix}{key}[{index}]"
            if isinstance(item, dict):
                out.extend(_flat_values(item, name + "/"))
            else:
                out.append((name, item))
    return out


def _flat(root: Any, prefix: str = "") -> dict[str, str]:
    """The text of every leaf element of a record by path, each element numbered among its namesakes."""
    counts: dict[str, int] = {}
    out: dict[str, str] = {}
    for child in root:
        if not isinstance(child.tag, str):
            continue
        name = local_name(child.tag)
        key = f"{prefix}{name}[{counts.get(name, 0)}]"
        counts[name] = counts.get(name, 0) + 1
        if len(child):
            out.update(_flat(child, key + "/"))
        else:
            out[key] = (child.text or "").strip()
    return out


def _text_of(value: Any) -> str:
    """A value as the record's XML must carry it (xs:dateTime to the second, xs:date, numbers as written)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@then("平台收到的每条记录的上报日期都与平台时钟一致")
def report_dates_agree(mch_platform_mock: Any) -> None:
    uploads = nonempty([e for e in mch_platform_mock.journal.entries() if e.operation in ("UploadRecord", "UploadBatch")],
                       "平台没有收到任何上传，无从核对上报日期")
    skewed = [f"{e.operation} {f.location}：{f.message}" for e in uploads for f in e.request_findings
              if f.rule == "clock_skew"]
    expect(not skewed, "记录的上报日期与平台的日期不符：系统的时钟、时区或日期格式有误", expected="平台的今天",
           actual="；".join(skewed)[:500])


@then(parsers.parse("平台上共有 {count:d} 条记录"))
def platform_count(mch_platform_mock: Any, count: int) -> None:
    count_of(mch_platform_mock.records(), count, "平台上的记录条数不对")


@then(_p('审核结果为 "{status:q}"'))
def audit_status(ctx: dict[str, Any], status: str) -> None:
    result = success(ctx)
    expect(result.status == status, "平台的审核结果不对", transaction="QueryUploadResult", expected=status,
           actual=result.status)


@then(_p('退回原因包含 "{text:q}"'))
def audit_reason(ctx: dict[str, Any], text: str) -> None:
    result = success(ctx)
    expect(any(text in r for r in result.reasons), "平台退回的原因不对", transaction="QueryUploadResult",
           expected=f"包含“{text}”", actual=list(result.reasons))


@then(_p('撤回结果为 "{status:q}"'))
def withdraw_status(ctx: dict[str, Any], status: str) -> None:
    result = success(ctx)
    expect(result == status, "撤回结果不对", transaction="WithdrawRecord", expected=status, actual=result)


@then(_p('平台拒绝的代码为 "{code:q}"'))
def refused_code(ctx: dict[str, Any], code: str) -> None:
    error = failure(ctx, MchError)
    expect(getattr(error, "code", None) == code, "平台拒绝的代码不对", expected=code, actual=describe(error))


@then(_p('平台收到的操作依次为 "{operations:q}"'))
def operations(mch_platform_mock: Any, operations: str) -> None:
    expected = [] if operations == NONE else [o.strip() for o in operations.split(",")]
    same_items(_operations(mch_platform_mock), expected, "平台收到的操作或其顺序不对")


@then(parsers.parse("待发记录数为 {count:d}"))
def pending(mch_platform: Any, count: int) -> None:
    got = mch_platform.pending()
    expect(got == count, "待发箱中的记录数不对", expected=count, actual=got)


def _last_upload(mock: Any) -> str:
    entries = [e for e in mock.journal.entries() if e.operation in ("UploadRecord", "UploadBatch")]
    nonempty(entries, "平台没有收到任何上传")
    return str(entries[-1].request_raw.decode("utf-8"))


@then(_p('最后上传的记录含元素 "{element:q}"'))
def last_payload_has(mch_platform_mock: Any, element: str) -> None:
    expect(f"&lt;{element}&gt;" in _last_upload(mch_platform_mock), f"最后上传的记录缺少元素 {element}",
           transaction="UploadRecord", expected=f"含 {element}", actual="没有该元素")


@then(_p('最后上传的记录不含元素 "{element:q}"'))
def last_payload_lacks(mch_platform_mock: Any, element: str) -> None:
    expect(f"&lt;{element}&gt;" not in _last_upload(mch_platform_mock), f"最后上传的记录不应含元素 {element}",
           transaction="UploadRecord", expected=f"不含 {element}", actual="含有该元素")


@then(_p('平台以 "{code:q}" 故障拒绝该请求'))
def raw_fault(ctx: dict[str, Any], code: str) -> None:
    reply = held(ctx, "raw", "绕过连接器发出的请求的应答")
    expect(reply.status_code in (400, 404, 413, 415, 500), "平台没有以故障拒绝该请求", expected=f"SOAP Fault {code}",
           actual=f"HTTP {reply.status_code}")
    root = xmlsafe.parse(reply.content, 1 << 20)
    faultcode = root.find(".//faultcode")
    got = (faultcode.text or "") if faultcode is not None else ""
    expect(got.endswith(code), "平台拒绝该请求的故障代码不对", expected=code, actual=got or reply.text[:300])


@then(_p('平台答复该记录被拒绝，错误代码 "{code:q}"'))
def raw_rejected(ctx: dict[str, Any], code: str) -> None:
    reply = held(ctx, "raw", "绕过连接器发出的请求的应答")
    expect(reply.status_code == 200, "平台没有按记录答复", expected="HTTP 200", actual=f"HTTP {reply.status_code}")
    root = xmlsafe.parse(reply.content, 1 << 20)
    codes = [c.text for c in root.iter("{urn:hih:mch:common}code")] + [c.text for c in root.iter("{urn:hih:mch:service}code")]
    status = [s.text for s in root.iter() if isinstance(s.tag, str) and s.tag.endswith("}status")]
    expect(status == ["REJECTED"] and code in codes, "平台对该记录的答复不对", expected=f"REJECTED，错误代码 {code}",
           actual=f"{status}，错误代码 {codes}")
