"""Step definitions for the insurance specs: drive the connector through its port, check the journal and the ledger."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from features.steps.outcome import attempt, failure, table_rows
from harness.ports import insurance as port
from harness.ports.insurance import Certificate, FeeItem, InsuranceError
from mocks.insurance import CATALOGUE

ROLES = {
    "职工": "employee",
    "城乡居民": "resident",
    "暂停参保": "suspended",
    "个人账户余额不足": "low-balance",
    "普通参保": "regular",
}
SETTLEMENT_STATUS = {"已结算": "settled", "已撤销": "refunded", "已冲正": "reversed"}
VISIT_STATUS = {"已挂号": "registered", "已撤销": "cancelled", "已结算": "settled", "已冲正": "reversed"}
PHASES = {"处理前": "before", "处理后": "after"}
SETTLEMENT_FIELDS = ("medfee_sumamt", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "balance")
DIAGNOSIS = ("J06.900", "急性上呼吸道感染")
NONE = "无"
ATTRIBUTES = {
    "社会保障卡号": "card_no", "卡识别码": "card_sn", "身份证号": "certno", "电子凭证令牌": "ec_token",
    "人员编号": "psn_no", "参保地医保区划": "insuplc_admdvs", "险种": "insutype",
    "就诊ID": "mdtrt_id", "门诊号": "ipt_otp_no", "结算ID": "setl_id",
}


# -- helpers --------------------------------------------------------------------------------------------------
def _attempt(ctx: dict[str, Any], action: Callable[[], Any]) -> Any:
    return attempt(ctx, action, InsuranceError)


def _codes(text: str) -> list[str]:
    text = text.strip()
    return [] if text in ("", NONE) else [part.strip() for part in text.replace("，", ",").split(",")]


def _sent(exchange: Any) -> dict[str, Any]:
    """The request body as it crossed the wire (read from the raw bytes the mock received)."""
    body = json.loads(exchange.request_raw.decode("utf-8"))
    assert isinstance(body, dict), f"{exchange.operation}: request is not a JSON object"
    return body


def _named(mock: Any, operation: str | None) -> str | None:
    """An exchange's transaction as the specs name it: 2207 for the 2207A a region's platform takes instead."""
    named: str | None = mock.transaction_of(operation)
    return named


def _journal(mock: Any, operation: str | None = None) -> list[Any]:
    """Exchanges in the order the requests arrived (faulted exchanges are recorded when they end); those of
    `operation` include its variants."""
    entries = mock.journal.entries()
    if operation is not None:
        entries = [e for e in entries if e.operation == operation or _named(mock, e.operation) == operation]
    return sorted(entries, key=lambda e: (e.started, e.id))


def _last(mock: Any, operation: str) -> Any:
    entries = _journal(mock, operation)
    assert entries, f"the platform received no {operation}; it received {[e.operation for e in _journal(mock)]}"
    return entries[-1]


def _pointer(body: Any, path: str) -> Any:
    node = body
    for part in path.split("."):
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(path)
    return node


def _same(actual: Any, expected: str) -> bool:
    if isinstance(actual, bool) or actual is None:
        return str(actual) == expected
    if isinstance(actual, int | float):
        return Decimal(str(actual)) == Decimal(expected)
    return str(actual) == expected


def _certificate(patient: Any, cert_type: str, with_card_sn: bool = True) -> Certificate:
    if cert_type == "01":
        return Certificate("01", patient.ec_token)
    if cert_type == "02":
        return Certificate("02", patient.certno)
    if cert_type == "03":
        return Certificate("03", patient.card_no, patient.card_sn if with_card_sn else None)
    raise ValueError(f"unknown certificate type {cert_type!r}")


def _batch_total(ctx: dict[str, Any], batch: str) -> Decimal:
    return sum((item.amount if item.amount is not None else item.cnt * item.pric for item in ctx["batches"][batch]),
               Decimal(0)).quantize(Decimal("0.01"))


def _next_otp(ctx: dict[str, Any]) -> str:
    ctx["otp_seq"] = ctx.get("otp_seq", 0) + 1
    return f"MZ{ctx['otp_seq']:06d}"


def _error(ctx: dict[str, Any]) -> InsuranceError:
    return failure(ctx, InsuranceError)


def _message(error: InsuranceError) -> str:
    for attribute in ("message", "reason"):
        value = getattr(error, attribute, None)
        if isinstance(value, str):
            return value
    return str(error)


# -- Given: people, certificates, session ---------------------------------------------------------------------
@given(parsers.parse('参保人是"{role}"'))
def given_patient(ctx: dict[str, Any], insurance_mock: Any, role: str) -> None:
    patient = insurance_mock.person(ROLES.get(role, role))
    ctx["patient"] = patient
    ctx["balance_before"] = insurance_mock.balance(patient.psn_no)
    ctx["cert"] = _certificate(patient, "02")


@given(parsers.parse('参保人出示就诊凭证 "{cert_type}"'))
def given_certificate(ctx: dict[str, Any], cert_type: str) -> None:
    ctx["cert"] = _certificate(ctx["patient"], cert_type)


@given("参保人出示未带卡识别码的社会保障卡")
def given_card_without_sn(ctx: dict[str, Any]) -> None:
    ctx["cert"] = _certificate(ctx["patient"], "03", with_card_sn=False)


@given(parsers.parse('参保人出示身份证号 "{certno}"'))
def given_id_number(ctx: dict[str, Any], certno: str) -> None:
    ctx["cert"] = Certificate("02", certno)


@given(parsers.parse('参保人出示类型为 "{cert_type}" 的凭证 "{cert_no}"'))
def given_raw_certificate(ctx: dict[str, Any], cert_type: str, cert_no: str) -> None:
    ctx["cert"] = Certificate(cert_type, cert_no)


@given("医院已签到")
def given_signed_in(ctx: dict[str, Any], insurance: Any) -> None:
    ctx["sign_in"] = insurance.sign_in()


@given("已查询参保人信息")
def given_person(ctx: dict[str, Any], insurance: Any) -> None:
    ctx["person"] = insurance.query_person(ctx["cert"])


@given("已办理门诊挂号")
def given_visit(ctx: dict[str, Any], insurance: Any) -> None:
    ctx["visit"] = insurance.register_visit(ctx["person"], ctx["cert"], _next_otp(ctx))


@given(parsers.parse('收费批次 "{batch}" 包含费用明细：'))
def given_batch(ctx: dict[str, Any], batch: str, datatable: list[list[str]]) -> None:
    items = []
    for row in table_rows(datatable):
        code = row["目录编码"]
        name = CATALOGUE[code][0] if code in CATALOGUE else "目录外项目"
        amount = row.get("明细金额") or None
        items.append(FeeItem(row["流水号"], code, row.get("院内编码") or f"HN{row['流水号']}", name,
                             Decimal(row["数量"]), Decimal(row["单价"]), Decimal(amount) if amount else None))
    ctx.setdefault("batches", {})[batch] = items


@given(parsers.parse('已上传收费批次 "{batch}" 的费用明细'))
def given_fees_uploaded(ctx: dict[str, Any], insurance: Any, batch: str) -> None:
    ctx["fees"] = insurance.upload_fees(ctx["visit"], batch, ctx["batches"][batch])
    ctx["uploaded_batch"] = batch


@given(parsers.parse('已结算收费批次 "{batch}"'))
def given_settled(ctx: dict[str, Any], insurance: Any, batch: str) -> None:
    ctx["settlement"] = insurance.settle(ctx["visit"], ctx["cert"], batch, _batch_total(ctx, batch))


@given("已撤销该结算")
def given_refunded(ctx: dict[str, Any], insurance: Any) -> None:
    ctx["refund"] = insurance.cancel_settlement(ctx["settlement"], ctx["visit"])


@given("已撤销门诊挂号")
def given_visit_cancelled(ctx: dict[str, Any], insurance: Any) -> None:
    insurance.cancel_visit(ctx["visit"])


@given("已记下平台收到的交易数")
def given_journal_mark(ctx: dict[str, Any], insurance_mock: Any) -> None:
    ctx["journal_mark"] = len(insurance_mock.journal)


# -- Given: faults armed on the platform -----------------------------------------------------------------------
@given(parsers.re(r'平台对 "(?P<operation>\w+)" 注入故障 "(?P<kind>\w+)"(（(?P<phase>处理前|处理后)）)?'
                  r'(，连续 (?P<times>\d+) 次)?'))
def given_fault(insurance_mock: Any, operation: str, kind: str, phase: str | None, times: str | None) -> None:
    insurance_mock.inject(kind, operation=operation, phase=PHASES[phase or "处理后"], times=int(times or 1))


@given(parsers.parse('平台对 "{operation}" 返回 HTTP {status:d}'))
def given_http_status(insurance_mock: Any, operation: str, status: int) -> None:
    insurance_mock.inject("http_status", operation=operation, status=status, phase="after")


@given(parsers.parse('平台拒绝下一笔 "{operation}"，失败信息为 "{message}"'))
def given_error_reply(insurance_mock: Any, operation: str, message: str) -> None:
    insurance_mock.inject("error_reply", operation=operation, phase="before", message=message)


@given(parsers.parse('平台对 "{operation}" 的应答延迟为连接器超时的 {percent:d}%'))
def given_latency(insurance_mock: Any, hih: Any, operation: str, percent: int) -> None:
    assert 0 < percent < 100, "the delay must stay below the connector's timeout"
    insurance_mock.inject("latency", operation=operation, delay_s=hih.timeout_s * percent / 100)


# -- When: the connector does its work ----------------------------------------------------------------------------
@when("医院签到")
def when_sign_in(ctx: dict[str, Any], insurance: Any) -> None:
    ctx["sign_in"] = _attempt(ctx, insurance.sign_in)


@when("医院签退")
def when_sign_out(ctx: dict[str, Any], insurance: Any) -> None:
    _attempt(ctx, insurance.sign_out)


@when("查询参保人信息")
def when_query_person(ctx: dict[str, Any], insurance: Any) -> None:
    ctx["person"] = _attempt(ctx, lambda: insurance.query_person(ctx["cert"]))


@when("办理门诊挂号")
def when_register(ctx: dict[str, Any], insurance: Any) -> None:
    ctx["visit"] = _attempt(ctx, lambda: insurance.register_visit(ctx["person"], ctx["cert"], _next_otp(ctx)))


@when(parsers.parse('办理门诊挂号，门诊号 "{otp}"'))
def when_register_otp(ctx: dict[str, Any], insurance: Any, otp: str) -> None:
    visit = _attempt(ctx, lambda: insurance.register_visit(ctx["person"], ctx["cert"], otp))
    if visit is not None:
        ctx["visit"] = visit


@when("上传就诊信息")
def when_visit_info(ctx: dict[str, Any], insurance: Any) -> None:
    _attempt(ctx, lambda: insurance.upload_visit_info(ctx["visit"], *DIAGNOSIS))


@when(parsers.parse('上传收费批次 "{batch}" 的费用明细'))
def when_upload_fees(ctx: dict[str, Any], insurance: Any, batch: str) -> None:
    ctx["fees"] = _attempt(ctx, lambda: insurance.upload_fees(ctx["visit"], batch, ctx["batches"][batch]))


@when(parsers.parse('撤销收费批次 "{batch}" 的费用明细'))
def when_cancel_fees(ctx: dict[str, Any], insurance: Any, batch: str) -> None:
    _attempt(ctx, lambda: insurance.cancel_fees(ctx["visit"], batch))


@when("撤销门诊挂号")
def when_cancel_visit(ctx: dict[str, Any], insurance: Any) -> None:
    _attempt(ctx, lambda: insurance.cancel_visit(ctx["visit"]))


@when(parsers.re(r'(按总额 "(?P<total>[\d.]+)" )?预结算收费批次 "(?P<batch>\w+)"'))
def when_pre_settle(ctx: dict[str, Any], insurance: Any, batch: str, total: str | None) -> None:
    amount = Decimal(total) if total else _batch_total(ctx, batch)
    ctx["pre"] = _attempt(ctx, lambda: insurance.pre_settle(ctx["visit"], ctx["cert"], batch, amount))


@when(parsers.re(r'(按总额 "(?P<total>[\d.]+)" )?结算收费批次 "(?P<batch>\w+)"(?P<no_account>，不使用个人账户)?'))
def when_settle(ctx: dict[str, Any], insurance: Any, batch: str, total: str | None, no_account: str | None) -> None:
    amount = Decimal(total) if total else _batch_total(ctx, batch)
    settlement = _attempt(ctx, lambda: insurance.settle(ctx["visit"], ctx["cert"], batch, amount,
                                                        use_account=not no_account))
    if settlement is not None:
        ctx["settlement"] = settlement


@when("撤销该结算")
def when_cancel_settlement(ctx: dict[str, Any], insurance: Any) -> None:
    ctx["refund"] = _attempt(ctx, lambda: insurance.cancel_settlement(ctx["settlement"], ctx["visit"]))


@when("按原报文ID冲正该结算")
def when_reverse(ctx: dict[str, Any], insurance: Any) -> None:
    _attempt(ctx, lambda: insurance.reverse(ctx["visit"], ctx["settlement"].msgid, "2207"))


@when(parsers.parse('以该凭证办理交易 "{operation}"'))
def when_operation_with_cert(ctx: dict[str, Any], insurance: Any, operation: str) -> None:
    """1101 and 2201 for the queried person; 2206 and 2207 on the batch uploaded last."""
    cert, batch = ctx["cert"], ctx.get("uploaded_batch", "")
    actions: dict[str, Callable[[], Any]] = {
        "1101": lambda: insurance.query_person(cert),
        "2201": lambda: insurance.register_visit(ctx["person"], cert, _next_otp(ctx)),
        "2206": lambda: insurance.pre_settle(ctx["visit"], cert, batch, _batch_total(ctx, batch)),
        "2207": lambda: insurance.settle(ctx["visit"], cert, batch, _batch_total(ctx, batch)),
    }
    _attempt(ctx, actions[operation])


# -- Then: what the connector reported --------------------------------------------------------------------------
@then("操作成功")
def then_success(ctx: dict[str, Any]) -> None:
    assert ctx.get("error") is None, f"the connector raised {ctx['error']!r}"
    assert "result" in ctx, "no When step called the connector"


@then(parsers.parse('连接器报告错误 "{name}"'))
def then_error(ctx: dict[str, Any], name: str) -> None:
    expected = getattr(port, name)
    error = _error(ctx)
    assert isinstance(error, expected), f"expected {name}, got {type(error).__name__}: {error}"


@then(parsers.parse('错误信息包含 "{text}"'))
def then_error_text(ctx: dict[str, Any], text: str) -> None:
    message = _message(_error(ctx))
    assert text in message, f"{text!r} not in {message!r}"


@then(parsers.parse('错误指出字段 "{name}"'))
def then_error_field(ctx: dict[str, Any], name: str) -> None:
    error = _error(ctx)
    assert isinstance(error, port.InvalidInput), f"expected InvalidInput, got {error!r}"
    assert name in error.field or name in error.message, f"{name!r} not named by {error.field!r}: {error.message!r}"


@then(parsers.re(r"连接器报告结算未完成，(?P<outcome>已冲正|平台未处理)"))
def then_not_completed(ctx: dict[str, Any], insurance_mock: Any, outcome: str) -> None:
    error = _error(ctx)
    assert isinstance(error, port.SettlementNotCompleted), f"expected SettlementNotCompleted, got {error!r}"
    assert error.reversed is (outcome == "已冲正"), f"reversed is {error.reversed}"
    sent = _sent(_last(insurance_mock, "2207"))
    assert error.msgid == sent["msgid"], f"the error names msgid {error.msgid}, the 2207 carried {sent['msgid']}"


@then("连接器报告结算状态不确定")
def then_uncertain(ctx: dict[str, Any], insurance_mock: Any) -> None:
    error = _error(ctx)
    assert isinstance(error, port.SettlementUncertain), f"expected SettlementUncertain, got {error!r}"
    assert error.msgid == _sent(_last(insurance_mock, "2207"))["msgid"]


@then("签到取得了签到流水号")
def then_signed_in(ctx: dict[str, Any], insurance_mock: Any) -> None:
    sign_in = ctx["sign_in"]
    assert sign_in is not None and sign_in.sign_no, "no sign_no"
    reply = _last(insurance_mock, "9001").response
    assert reply["output"]["signinoutb"]["sign_no"] == sign_in.sign_no


@then("返回的参保人与平台登记一致")
def then_person_matches(ctx: dict[str, Any], insurance_mock: Any) -> None:
    person, patient = ctx["person"], ctx["patient"]
    assert person is not None, f"no person; error {ctx.get('error')!r}"
    assert (person.psn_no, person.psn_name, person.certno) == (patient.psn_no, patient.psn_name, patient.certno)
    assert (person.insutype, person.insuplc_admdvs, person.brdy) == (patient.insutype, patient.insuplc_admdvs, patient.brdy)
    assert person.balance == ctx["balance_before"], f"balance {person.balance}, the platform had {ctx['balance_before']}"


@then(parsers.re(r"参保状态为(?P<state>正常|暂停)"))
def then_insured(ctx: dict[str, Any], state: str) -> None:
    assert ctx["person"].insured is (state == "正常")


@then(parsers.parse('返回的个人账户余额为 "{amount}"'))
def then_person_balance(ctx: dict[str, Any], amount: str) -> None:
    assert ctx["person"].balance == Decimal(amount), f"balance {ctx['person'].balance}"


@then("门诊挂号返回了就诊ID")
def then_visit(ctx: dict[str, Any], insurance_mock: Any) -> None:
    visit = ctx["visit"]
    assert visit is not None and visit.mdtrt_id, f"no visit; error {ctx.get('error')!r}"
    assert visit.psn_no == ctx["patient"].psn_no
    assert insurance_mock.visit(visit.mdtrt_id) is not None, "the platform does not know this mdtrt_id"


@then("返回的费用明细结果为：")
def then_fee_results(ctx: dict[str, Any], datatable: list[list[str]]) -> None:
    results = {r.feedetl_sn: r for r in ctx["fees"]}
    rows = table_rows(datatable)
    assert sorted(results) == sorted(row["流水号"] for row in rows)
    for row in rows:
        result = results[row["流水号"]]
        assert result.amount == Decimal(row["金额"]), f"{result.feedetl_sn}: amount {result.amount}"
        assert result.chrgitm_lv == row["等级"], f"{result.feedetl_sn}: level {result.chrgitm_lv}"
        assert result.selfpay_prop == Decimal(row["自付比例"]), f"{result.feedetl_sn}: {result.selfpay_prop}"
        assert result.inscp_scp_amt == Decimal(row["符合范围金额"]), f"{result.feedetl_sn}: {result.inscp_scp_amt}"


@then(parsers.re(r"返回的(?P<which>预结算|结算|撤销结算)金额为："))
def then_amounts(ctx: dict[str, Any], which: str, datatable: list[list[str]]) -> None:
    settlement = ctx[{"预结算": "pre", "结算": "settlement", "撤销结算": "refund"}[which]]
    assert settlement is not None, f"no {which} result; error {ctx.get('error')!r}"
    for name, value in table_rows(datatable)[0].items():
        assert name in SETTLEMENT_FIELDS, f"unknown amount {name}"
        actual = getattr(settlement, name)
        assert actual == Decimal(value), f"{name}: {actual} != {value}"
    assert settlement.medfee_sumamt == settlement.fund_pay_sumamt + settlement.psn_part_amt
    assert settlement.psn_part_amt == settlement.acct_pay + settlement.psn_cash_pay


@then("预结算没有结算ID")
def then_pre_has_no_setl_id(ctx: dict[str, Any]) -> None:
    assert ctx["pre"].setl_id is None


@then(parsers.re(r"(?P<which>预结算|结算)的 medins_setl_id 等于其请求的报文ID"))
def then_medins_setl_id(ctx: dict[str, Any], insurance_mock: Any, which: str) -> None:
    settlement = ctx["pre" if which == "预结算" else "settlement"]
    sent = _sent(_last(insurance_mock, "2206" if which == "预结算" else "2207"))
    assert settlement.medins_setl_id == settlement.msgid == sent["msgid"]


@then("撤销结算返回原结算的相反金额")
def then_refund_negated(ctx: dict[str, Any]) -> None:
    settlement, refund = ctx["settlement"], ctx["refund"]
    assert refund is not None, f"no refund; error {ctx.get('error')!r}"
    assert refund.setl_id == settlement.setl_id
    for name in SETTLEMENT_FIELDS[:-1]:
        assert getattr(refund, name) == -getattr(settlement, name), f"{name}: {getattr(refund, name)}"


# -- Then: the platform's ledger ------------------------------------------------------------------------------------
@then(parsers.parse('平台上个人账户余额为 "{amount}"'))
def then_balance(ctx: dict[str, Any], insurance_mock: Any, amount: str) -> None:
    actual = insurance_mock.balance(ctx["patient"].psn_no)
    assert actual == Decimal(amount), f"balance {actual}"


@then("平台上个人账户余额不变")
def then_balance_unchanged(ctx: dict[str, Any], insurance_mock: Any) -> None:
    actual = insurance_mock.balance(ctx["patient"].psn_no)
    assert actual == ctx["balance_before"], f"balance {actual}, was {ctx['balance_before']}"


@then("返回的余额与平台账户一致")
def then_returned_balance(ctx: dict[str, Any], insurance_mock: Any) -> None:
    settlement = ctx.get("refund") or ctx["settlement"]
    assert settlement.balance == insurance_mock.balance(ctx["patient"].psn_no)


@then(parsers.re(r"平台上该就诊有 (?P<count>\d+) 笔(?P<status>已结算|已撤销|已冲正)的结算"))
def then_settlement_count(ctx: dict[str, Any], insurance_mock: Any, count: str, status: str) -> None:
    rows = insurance_mock.settlements(ctx["visit"].mdtrt_id, SETTLEMENT_STATUS[status])
    assert len(rows) == int(count), f"{len(rows)} {status}: {[r['setl_id'] for r in rows]}"


@then("平台上该就诊没有任何结算")
def then_no_settlement(ctx: dict[str, Any], insurance_mock: Any) -> None:
    rows = insurance_mock.settlements(ctx["visit"].mdtrt_id)
    assert rows == [], f"settlements: {[(r['setl_id'], r['status']) for r in rows]}"


@then(parsers.parse('平台上该结算的状态为"{status}"'))
def then_settlement_status(ctx: dict[str, Any], insurance_mock: Any, status: str) -> None:
    setl_id = ctx["settlement"].setl_id
    rows = [r for r in insurance_mock.settlements(ctx["visit"].mdtrt_id) if r["setl_id"] == setl_id]
    assert len(rows) == 1 and rows[0]["status"] == SETTLEMENT_STATUS[status], f"{rows and rows[0]['status']}"


@then(parsers.parse('平台上该就诊的状态为"{status}"'))
def then_visit_status(ctx: dict[str, Any], insurance_mock: Any, status: str) -> None:
    visit = insurance_mock.visit(ctx["visit"].mdtrt_id)
    assert visit is not None and visit["status"] == VISIT_STATUS[status], f"visit status {visit and visit['status']}"


@then("平台上该参保人没有有效的就诊")
def then_no_open_visit(ctx: dict[str, Any], insurance_mock: Any) -> None:
    psn_no = ctx["person"].psn_no
    open_visits = [v["mdtrt_id"] for v in insurance_mock.visits(psn_no) if v["status"] in ("registered", "settled")]
    assert not open_visits, f"visits still open on the platform: {open_visits}"


@given("平台的签到会话已过期")
def given_sessions_expired(insurance_mock: Any) -> None:
    assert insurance_mock.expire_sessions() >= 1, "no open sign-in to expire"


@then(parsers.parse('平台上该就诊的费用明细为 "{sns}"'))
def then_visit_fees(ctx: dict[str, Any], insurance_mock: Any, sns: str) -> None:
    visit = insurance_mock.visit(ctx["visit"].mdtrt_id)
    assert visit is not None
    assert sorted(visit["fees"]) == sorted(_codes(sns)), f"fee details on the platform: {sorted(visit['fees'])}"


# -- Then: the journal ---------------------------------------------------------------------------------------------
@then(parsers.parse('平台收到的交易依次为 "{operations}"'))
def then_journal_sequence(insurance_mock: Any, operations: str) -> None:
    actual = [_named(insurance_mock, e.operation) for e in _journal(insurance_mock)]
    assert actual == _codes(operations), f"the platform received {actual}"


@then(parsers.parse('此后平台收到的交易依次为 "{operations}"'))
def then_journal_since_mark(ctx: dict[str, Any], insurance_mock: Any, operations: str) -> None:
    actual = [_named(insurance_mock, e.operation) for e in _journal(insurance_mock)][ctx["journal_mark"]:]
    assert actual == _codes(operations), f"since the mark the platform received {actual}"


@then("平台没有收到任何交易")
def then_journal_empty(insurance_mock: Any) -> None:
    actual = [e.operation for e in _journal(insurance_mock)]
    assert actual == [], f"the platform received {actual}"


@then(parsers.parse('平台收到 {count:d} 笔 "{operation}"'))
def then_journal_count(insurance_mock: Any, count: int, operation: str) -> None:
    actual = len(_journal(insurance_mock, operation))
    assert actual == count, f"{actual} × {operation}; journal {[e.operation for e in _journal(insurance_mock)]}"


@then(parsers.parse('平台没有收到 "{operation}"'))
def then_journal_absent(insurance_mock: Any, operation: str) -> None:
    then_journal_count(insurance_mock, 0, operation)


@then(parsers.parse('"{operation}" 请求的 "{path}" 为 "{value}"'))
def then_request_field(insurance_mock: Any, operation: str, path: str, value: str) -> None:
    actual = _pointer(_sent(_last(insurance_mock, operation)), path)
    assert _same(actual, value), f"{operation} {path} is {actual!r}, expected {value!r}"


@then(parsers.parse('"{operation}" 请求的 "{path}" 取值为 "{values}" 之一'))
def then_request_field_in(insurance_mock: Any, operation: str, path: str, values: str) -> None:
    actual = _pointer(_sent(_last(insurance_mock, operation)), path)
    assert str(actual) in _codes(values), f"{operation} {path} is {actual!r}"


@then(parsers.parse('"{operation}" 请求不含 "{path}"'))
def then_request_field_absent(insurance_mock: Any, operation: str, path: str) -> None:
    body = _sent(_last(insurance_mock, operation))
    with pytest.raises(KeyError):
        _pointer(body, path)


@then(parsers.re(r'"(?P<operation>\w+)" 请求的 "(?P<path>[\w.]+)" 为(?P<owner>参保人|该就诊|该结算)的(?P<attribute>\w+)'))
def then_request_field_from(ctx: dict[str, Any], insurance_mock: Any, operation: str, path: str, owner: str,
                            attribute: str) -> None:
    sources = {"参保人": "patient", "该就诊": "visit", "该结算": "settlement"}
    expected = getattr(ctx[sources[owner]], ATTRIBUTES[attribute])
    actual = _pointer(_sent(_last(insurance_mock, operation)), path)
    assert actual == expected, f"{operation} {path} is {actual!r}, expected {owner}的{attribute} {expected!r}"


@then(parsers.parse('冲正请求引用了 "{operation}" 请求的报文ID'))
def then_reversal_refers(ctx: dict[str, Any], insurance_mock: Any, operation: str) -> None:
    original = _sent(_last(insurance_mock, operation))
    reversal = _sent(_last(insurance_mock, "2601"))
    assert reversal["input"]["data"]["omsgid"] == original["msgid"]
    assert reversal["input"]["data"]["oinfno"] == original["infno"]  # the form it went as: 2207, or 2207A
    assert reversal["input"]["data"]["psn_no"] == ctx["patient"].psn_no
    assert _journal(insurance_mock).index(_last(insurance_mock, "2601")) > _journal(insurance_mock).index(
        _last(insurance_mock, operation)), "the reversal went out before the original"


@then(parsers.re(r'平台对最后一笔 "(?P<operation>\w+)" 的应答为(?P<outcome>成功|失败)(，信息包含 "(?P<text>[^"]+)")?'))
def then_reply(insurance_mock: Any, operation: str, outcome: str, text: str | None) -> None:
    reply = _last(insurance_mock, operation).response
    assert isinstance(reply, dict), f"{operation}: no parsed reply"
    assert (str(reply.get("infcode")) == "0") is (outcome == "成功"), f"{operation}: {reply.get('err_msg')}"
    if text:
        assert text in str(reply.get("err_msg")) + str(reply.get("warn_msg")), f"{operation}: {reply}"


@then(parsers.parse('平台收到的 "{operation}" 报文ID互不相同'))
def then_distinct_msgids(insurance_mock: Any, operation: str) -> None:
    msgids = [_sent(e)["msgid"] for e in _journal(insurance_mock, operation)]
    assert len(set(msgids)) == len(msgids) > 1, f"{operation} msgids {msgids}"


@then("每笔业务交易都携带当前的签到流水号")
def then_sign_no_carried(insurance_mock: Any) -> None:
    current = None
    for exchange in _journal(insurance_mock):
        body = _sent(exchange)
        if exchange.operation == "9001":
            current = exchange.response["output"]["signinoutb"]["sign_no"]
            continue
        assert current is not None, f"{exchange.operation} went out before any sign-in"
        assert body.get("sign_no") == current, f"{exchange.operation} carried sign_no {body.get('sign_no')!r}"


@then("带人员编号的请求都携带参保人的参保地医保区划")
def then_insuplc(ctx: dict[str, Any], insurance_mock: Any) -> None:
    checked = 0
    for exchange in _journal(insurance_mock):
        body = _sent(exchange)
        if "psn_no" in json.dumps(body.get("input", {})):
            checked += 1
            assert body.get("insuplc_admdvs") == ctx["patient"].insuplc_admdvs, f"{exchange.operation}"
    assert checked, "no request carried psn_no"


@then(parsers.parse('签退请求携带签到取得的签到流水号'))
def then_sign_out_sign_no(ctx: dict[str, Any], insurance_mock: Any) -> None:
    body = _sent(_last(insurance_mock, "9002"))
    assert body["input"]["signOut"]["sign_no"] == body["sign_no"] == ctx["sign_in"].sign_no


@then(parsers.parse('最后一笔 "{operation}" 携带重新签到取得的签到流水号'))
def then_renewed_sign_no(insurance_mock: Any, operation: str) -> None:
    sign_ins = _journal(insurance_mock, "9001")
    assert len(sign_ins) >= 2, "the connector did not sign in again"
    renewed = sign_ins[-1].response["output"]["signinoutb"]["sign_no"]
    first = sign_ins[0].response["output"]["signinoutb"]["sign_no"]
    assert renewed != first
    assert _sent(_last(insurance_mock, operation))["sign_no"] == renewed
