"""Step definitions for the maternal-child platform specs: drive the connector, check its results, the platform's
records and the journal of what crossed the wire."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from pytest_bdd import given, parsers, then, when

from features.steps.mch_samples import BAD_CHECK_ID, sample, with_changes
from features.steps.outcome import attempt, failure
from harness.contract import xmlsafe
from harness.ports.mch_platform import HospitalRecord, InvalidRecord, MchError, UploadResult

NONE = "无"
STATUS = {"接收": "ACCEPTED", "拒绝": "REJECTED"}
PHASES = {"处理前": "before", "处理后": "after"}
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


def _error(ctx: dict[str, Any]) -> MchError:
    return failure(ctx, MchError)


def _result(ctx: dict[str, Any]) -> UploadResult:
    if ctx.get("error") is not None:
        raise AssertionError(f"the connector raised {type(ctx['error']).__name__}: {ctx['error']}")
    result = ctx["result"]
    assert isinstance(result, UploadResult), f"the last step returned {result!r}, not one upload result"
    return result


def _remember(ctx: dict[str, Any], results: list[UploadResult]) -> None:
    for r in results:
        if r.record_id:
            ctx.setdefault("ids", {})[r.record_no] = r.record_id


def _value(text: str) -> Any:
    return None if text == NONE else text


def _record(ctx: dict[str, Any], record_type: str, record_no: str, changes: dict[str, Any] | None = None) -> HospitalRecord:
    record = sample(record_type, record_no)
    return with_changes(record, **changes) if changes else record


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
    assert key is not None and key.text, reply.text
    return key.text


def _post(mock: Any, action: str, body: bytes) -> httpx.Response:
    return httpx.post(mock.service_url, content=body, timeout=5.0,
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f"urn:hih:mch:{action}"})


def _upload_body(record_type: str, payload: str) -> str:
    escaped = payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (f"<s:UploadRecord xmlns:s='{SERVICE_NS}'><s:recordType>{record_type}</s:recordType>"
            f"<s:payload>{escaped}</s:payload></s:UploadRecord>")


# -- Given ----------------------------------------------------------------------------------------------------
@given("医院已登录妇幼平台")
def logged_in(mch_platform: Any) -> None:
    mch_platform.login()


@given(_p('平台已收到 "{record_type:q}" 记录 "{record_no:q}"'))
def already_uploaded(mch_platform: Any, ctx: dict[str, Any], record_type: str, record_no: str) -> None:
    result = mch_platform.upload(_record(ctx, record_type, record_no))
    assert result.accepted, result
    _remember(ctx, [result])


@given("平台会话已过期")
def sessions_expired(mch_platform_mock: Any) -> None:
    assert mch_platform_mock.expire_sessions() >= 1, "no open session to expire"


@given("平台上医院的密码已更换")
def password_changed(mch_platform: Any, mch_platform_mock: Any) -> None:
    """The connector keeps the password it was configured with; the platform now expects another."""
    org = next(iter(mch_platform_mock.credentials))
    mch_platform_mock.credentials[org] = "a-password-the-hospital-does-not-have"


@given(_p('平台审核时将退回记录 "{record_no:q}"，原因 "{reason:q}"'))
def will_return(mch_platform_mock: Any, record_no: str, reason: str) -> None:
    mch_platform_mock.audit_returns[record_no] = reason


@given(_p('平台对 "{operation:q}" 注入故障 "{kind:q}"（{phase}）'))
def fault(mch_platform_mock: Any, operation: str, kind: str, phase: str) -> None:
    options: dict[str, Any] = {"operation": operation, "phase": PHASES[phase]}
    if kind == "error_reply":
        options["code"] = "Server.Busy"
        options["message"] = "平台繁忙"
    if kind == "http_status":
        options["status"] = 503
    mch_platform_mock.inject(kind, **options)


@given("平台此后对所有请求都不应答")
def platform_down(mch_platform_mock: Any) -> None:
    mch_platform_mock.inject("no_reply", times=None, phase="before")


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
            raise AssertionError(f"unknown raw request {what!r}")
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
    assert result.status == STATUS[status], f"expected {STATUS[status]}, got {result}"
    if result.accepted:
        assert result.record_id, result


@then(_p('错误代码为 "{code:q}"'))
def error_code(ctx: dict[str, Any], code: str) -> None:
    result = _result(ctx)
    assert [e.code for e in result.errors][:1] == [code], result.errors


@then(_p('错误位置包含 "{text:q}"'))
def error_location(ctx: dict[str, Any], text: str) -> None:
    result = _result(ctx)
    assert any(text in e.location for e in result.errors), result.errors


@then(parsers.parse("批量结果为 接收 {accepted:d} 条、拒绝 {rejected:d} 条"))
def batch_counts(ctx: dict[str, Any], accepted: int, rejected: int) -> None:
    if ctx.get("error") is not None:
        raise AssertionError(f"the connector raised {type(ctx['error']).__name__}: {ctx['error']}")
    results = ctx["result"]
    got = (sum(r.accepted for r in results), sum(not r.accepted for r in results))
    assert got == (accepted, rejected), [(r.record_no, r.status, r.errors) for r in results]


@then(_p('记录 "{record_no:q}" 被拒绝，错误代码 "{code:q}"'))
def batch_rejected(ctx: dict[str, Any], record_no: str, code: str) -> None:
    found = [r for r in ctx["result"] if r.record_no == record_no]
    assert found and not found[0].accepted, found
    assert found[0].errors[0].code == code, found[0].errors


@then(_p('连接器在发送前拒绝该记录，指出 "{text:q}"'))
def refused_before_sending(ctx: dict[str, Any], mch_platform_mock: Any, text: str) -> None:
    error = _error(ctx)
    assert isinstance(error, InvalidRecord), f"expected InvalidRecord, got {type(error).__name__}: {error}"
    assert any(text in f.location or text in f.message for f in error.findings), error.findings
    sent = [op for op in _operations(mch_platform_mock) if op in ("UploadRecord", "UploadBatch")]
    assert not sent, f"the platform received {sent}"


@then(_p('连接器报告错误 "{name:q}"'))
def reported(ctx: dict[str, Any], name: str) -> None:
    error = _error(ctx)
    assert type(error).__name__ == name, f"expected {name}, got {type(error).__name__}: {error}"


@then(_p('平台收到记录 "{record_no:q}" 的上传 {count:d} 次'))
def uploads_of(mch_platform_mock: Any, record_no: str, count: int) -> None:
    got = mch_platform_mock.uploads_of(record_no)
    assert got == count, f"record {record_no} arrived {got} times; operations: {_operations(mch_platform_mock)}"


@then(_p('平台上记录 "{record_no:q}" 有 {count:d} 条，版本为 {version:d}'))
def platform_records(mch_platform_mock: Any, record_no: str, count: int, version: int) -> None:
    rows = mch_platform_mock.records(record_no=record_no)
    assert len(rows) == count, rows
    if rows:
        assert rows[-1]["version"] == version, rows


@then(_p('平台上记录 "{record_no:q}" 的状态为 "{status:q}"'))
def platform_status(mch_platform_mock: Any, record_no: str, status: str) -> None:
    rows = mch_platform_mock.records(record_no=record_no)
    assert rows and rows[0]["status"] == status, rows


@then(parsers.parse("平台上共有 {count:d} 条记录"))
def platform_count(mch_platform_mock: Any, count: int) -> None:
    assert len(mch_platform_mock.records()) == count


@then(_p('审核结果为 "{status:q}"'))
def audit_status(ctx: dict[str, Any], status: str) -> None:
    assert ctx.get("error") is None, f"the connector raised {ctx['error']!r}"
    assert ctx["result"].status == status, ctx["result"]


@then(_p('退回原因包含 "{text:q}"'))
def audit_reason(ctx: dict[str, Any], text: str) -> None:
    assert any(text in r for r in ctx["result"].reasons), ctx["result"]


@then(_p('撤回结果为 "{status:q}"'))
def withdraw_status(ctx: dict[str, Any], status: str) -> None:
    assert ctx.get("error") is None, f"the connector raised {ctx['error']!r}"
    assert ctx["result"] == status


@then(_p('平台拒绝的代码为 "{code:q}"'))
def refused_code(ctx: dict[str, Any], code: str) -> None:
    error = _error(ctx)
    assert getattr(error, "code", None) == code, f"{type(error).__name__}: {error}"


@then(_p('平台收到的操作依次为 "{operations:q}"'))
def operations(mch_platform_mock: Any, operations: str) -> None:
    expected = [] if operations == NONE else [o.strip() for o in operations.split(",")]
    assert _operations(mch_platform_mock) == expected


@then(parsers.parse("待发记录数为 {count:d}"))
def pending(mch_platform: Any, count: int) -> None:
    assert mch_platform.pending() == count


def _last_upload(mock: Any) -> str:
    entries = [e for e in mock.journal.entries() if e.operation in ("UploadRecord", "UploadBatch")]
    assert entries, "nothing was uploaded"
    return entries[-1].request_raw.decode("utf-8")


@then(_p('最后上传的记录含元素 "{element:q}"'))
def last_payload_has(mch_platform_mock: Any, element: str) -> None:
    assert f"&lt;{element}&gt;" in _last_upload(mch_platform_mock)


@then(_p('最后上传的记录不含元素 "{element:q}"'))
def last_payload_lacks(mch_platform_mock: Any, element: str) -> None:
    assert f"&lt;{element}&gt;" not in _last_upload(mch_platform_mock)


@then(_p('平台以 "{code:q}" 故障拒绝该请求'))
def raw_fault(ctx: dict[str, Any], code: str) -> None:
    reply = ctx["raw"]
    assert reply.status_code in (400, 404, 413, 415, 500), reply.status_code
    root = xmlsafe.parse(reply.content, 1 << 20)
    faultcode = root.find(".//faultcode")
    assert faultcode is not None and (faultcode.text or "").endswith(code), reply.text[:500]


@then(_p('平台答复该记录被拒绝，错误代码 "{code:q}"'))
def raw_rejected(ctx: dict[str, Any], code: str) -> None:
    reply = ctx["raw"]
    assert reply.status_code == 200, reply.text[:500]
    root = xmlsafe.parse(reply.content, 1 << 20)
    codes = [c.text for c in root.iter("{urn:hih:mch:common}code")] + [c.text for c in root.iter("{urn:hih:mch:service}code")]
    status = [s.text for s in root.iter() if isinstance(s.tag, str) and s.tag.endswith("}status")]
    assert status == ["REJECTED"] and code in codes, reply.text[:800]

