"""Step definitions for the insurance specs: drive the connector through its port, check the journal and the ledger.

Every failed check says, in the charge desk's words, what was expected and what happened (`SpecFailure`, through
`features.steps.outcome`); sentences other interfaces share (操作成功, 连接器报告错误 ...) are in
`features.steps.common`."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from pytest_bdd import given, parsers, then, when

from features.steps.common import *  # noqa: F403 - the shared sentences are registered through this import
from features.steps.outcome import (
    attempt,
    count_of,
    expect,
    failure,
    held,
    nonempty,
    same_items,
    table_rows,
)
from harness.failure import SpecFailure
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
    try:
        body = json.loads(exchange.request_raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SpecFailure("平台收到的请求不是 JSON", expected="JSON 请求报文", actual=str(exc),
                          transaction=exchange.operation) from None
    expect(isinstance(body, dict), "平台收到的请求不是 JSON 对象", expected="JSON 对象", actual=type(body).__name__,
           transaction=exchange.operation)
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


def _received(mock: Any) -> list[str | None]:
    """The transactions received, as the specs name them (2207 for a region's 2207A)."""
    return [_named(mock, e.operation) for e in _journal(mock)]


def _last(mock: Any, operation: str) -> Any:
    entries = _journal(mock, operation)
    expect(entries, f"平台没有收到 {operation} 交易", expected=f"至少一笔 {operation}", actual=f"平台收到 {_received(mock)}",
           transaction=operation)
    return entries[-1]


MISSING = object()


def _pointer(body: Any, path: str) -> Any:
    """The value at `input.data.card_sn` (dots; list items by index), or MISSING."""
    node = body
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return MISSING
    return node


def _field(mock: Any, operation: str, path: str) -> Any:
    value = _pointer(_sent(_last(mock, operation)), path)
    expect(value is not MISSING, f"{operation} 请求缺少字段 {path}", expected=f"{path} 有值", actual="请求中没有该字段",
           transaction=operation)
    return value


def _same(actual: Any, expected: str) -> bool:
    if isinstance(actual, bool) or actual is None:
        return str(actual) == expected
    if isinstance(actual, int | float):
        try:
            return Decimal(str(actual)) == Decimal(expected)
        except InvalidOperation:
            return False
    return str(actual) == expected


def _certificate(patient: Any, cert_type: str, with_card_sn: bool = True) -> Certificate:
    if cert_type == "01":
        return Certificate("01", patient.ec_token)
    if cert_type == "02":
        return Certificate("02", patient.certno)
    if cert_type == "03":
        return Certificate("03", patient.card_no, patient.card_sn if with_card_sn else None)
    raise SpecFailure("场景写了未知的就诊凭证类型", expected="01、02 或 03", actual=cert_type)


def _batch(ctx: dict[str, Any], batch: str) -> list[FeeItem]:
    batches = ctx.get("batches", {})
    expect(batch in batches, f"场景没有定义收费批次 {batch}", expected=f"收费批次 {batch} 的费用明细",
           actual=f"已定义的批次 {sorted(batches)}")
    items: list[FeeItem] = batches[batch]
    return items


def _batch_total(ctx: dict[str, Any], batch: str) -> Decimal:
    """What the charge desk bills: each line to the fen, rounded half up (四舍五入), then added up."""
    return sum((item.amount if item.amount is not None else
                (item.cnt * item.pric).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) for item in _batch(ctx, batch)),
               Decimal(0))


def _next_otp(ctx: dict[str, Any]) -> str:
    ctx["otp_seq"] = ctx.get("otp_seq", 0) + 1
    return f"MZ{ctx['otp_seq']:06d}"


# -- Given: people, certificates, session ---------------------------------------------------------------------
@given(parsers.parse('参保人是"{role}"'))
def given_patient(ctx: dict[str, Any], insurance_mock: Any, role: str) -> None:
    expect(role in ROLES, "场景写了平台上没有的参保人类别", expected=f"{'、'.join(ROLES)} 之一", actual=role)
    patient = insurance_mock.person(ROLES[role])
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
    ctx["person"] = insurance.query_person(held(ctx, "cert", "参保人出示的就诊凭证"))


@given("已办理门诊挂号")
def given_visit(ctx: dict[str, Any], insurance: Any) -> None:
    ctx["visit"] = insurance.register_visit(held(ctx, "person", "参保人信息"), ctx["cert"], _next_otp(ctx))


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
    ctx["fees"] = insurance.upload_fees(held(ctx, "visit", "门诊挂号"), batch, _batch(ctx, batch))
    ctx["uploaded_batch"] = batch


@given(parsers.parse('已结算收费批次 "{batch}"'))
def given_settled(ctx: dict[str, Any], insurance: Any, batch: str) -> None:
    ctx["settlement"] = insurance.settle(held(ctx, "visit", "门诊挂号"), ctx["cert"], batch, _batch_total(ctx, batch))


@given("已撤销该结算")
def given_refunded(ctx: dict[str, Any], insurance: Any) -> None:
    ctx["refund"] = insurance.cancel_settlement(held(ctx, "settlement", "结算"), ctx["visit"])


@given("已按原报文ID冲正该结算")
def given_reversed(ctx: dict[str, Any], insurance: Any) -> None:
    settlement = held(ctx, "settlement", "结算")
    insurance.reverse(ctx["visit"], settlement.msgid, "2207")


@given("已撤销门诊挂号")
def given_visit_cancelled(ctx: dict[str, Any], insurance: Any) -> None:
    insurance.cancel_visit(held(ctx, "visit", "门诊挂号"))


@given("已记下平台收到的交易数")
def given_journal_mark(ctx: dict[str, Any], insurance_mock: Any) -> None:
    ctx["journal_mark"] = len(insurance_mock.journal)


# -- Given: faults armed on the platform -----------------------------------------------------------------------
@given(parsers.parse('平台对 "{operation}" 返回 HTTP {status:d}'))
def given_http_status(insurance_mock: Any, operation: str, status: int) -> None:
    insurance_mock.inject("http_status", operation=operation, status=status, phase="after")


@given(parsers.parse('平台拒绝下一笔 "{operation}"，失败信息为 "{message}"'))
def given_error_reply(insurance_mock: Any, operation: str, message: str) -> None:
    insurance_mock.inject("error_reply", operation=operation, phase="before", message=message)


@given(parsers.parse('平台对 "{operation}" 的应答延迟为连接器超时的 {percent:d}%'))
def given_latency(insurance_mock: Any, hih: Any, operation: str, percent: int) -> None:
    expect(0 < percent < 100, "应答延迟必须小于连接器的超时", expected="1% 到 99%", actual=f"{percent}%")
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
    cert = held(ctx, "cert", "参保人出示的就诊凭证")
    ctx["person"] = _attempt(ctx, lambda: insurance.query_person(cert))


@when("办理门诊挂号")
def when_register(ctx: dict[str, Any], insurance: Any) -> None:
    person = held(ctx, "person", "参保人信息")
    ctx["visit"] = _attempt(ctx, lambda: insurance.register_visit(person, ctx["cert"], _next_otp(ctx)))


@when(parsers.parse('办理门诊挂号，门诊号 "{otp}"'))
def when_register_otp(ctx: dict[str, Any], insurance: Any, otp: str) -> None:
    person = held(ctx, "person", "参保人信息")
    visit = _attempt(ctx, lambda: insurance.register_visit(person, ctx["cert"], otp))
    if visit is not None:
        ctx["visit"] = visit


@when("上传就诊信息")
def when_visit_info(ctx: dict[str, Any], insurance: Any) -> None:
    visit = held(ctx, "visit", "门诊挂号")
    _attempt(ctx, lambda: insurance.upload_visit_info(visit, *DIAGNOSIS))


@when(parsers.parse('上传收费批次 "{batch}" 的费用明细'))
def when_upload_fees(ctx: dict[str, Any], insurance: Any, batch: str) -> None:
    visit, items = held(ctx, "visit", "门诊挂号"), _batch(ctx, batch)
    ctx["fees"] = _attempt(ctx, lambda: insurance.upload_fees(visit, batch, items))


@when(parsers.parse('撤销收费批次 "{batch}" 的费用明细'))
def when_cancel_fees(ctx: dict[str, Any], insurance: Any, batch: str) -> None:
    visit = held(ctx, "visit", "门诊挂号")
    _attempt(ctx, lambda: insurance.cancel_fees(visit, batch))


@when("撤销门诊挂号")
def when_cancel_visit(ctx: dict[str, Any], insurance: Any) -> None:
    visit = held(ctx, "visit", "门诊挂号")
    _attempt(ctx, lambda: insurance.cancel_visit(visit))


@when(parsers.re(r'(按总额 "(?P<total>[\d.]+)" )?预结算收费批次 "(?P<batch>\w+)"'))
def when_pre_settle(ctx: dict[str, Any], insurance: Any, batch: str, total: str | None) -> None:
    amount = Decimal(total) if total else _batch_total(ctx, batch)
    visit = held(ctx, "visit", "门诊挂号")
    ctx["pre"] = _attempt(ctx, lambda: insurance.pre_settle(visit, ctx["cert"], batch, amount))


@when(parsers.re(r'(按总额 "(?P<total>[\d.]+)" )?结算收费批次 "(?P<batch>\w+)"(?P<no_account>，不使用个人账户)?'))
def when_settle(ctx: dict[str, Any], insurance: Any, batch: str, total: str | None, no_account: str | None) -> None:
    amount = Decimal(total) if total else _batch_total(ctx, batch)
    visit = held(ctx, "visit", "门诊挂号")
    settlement = _attempt(ctx, lambda: insurance.settle(visit, ctx["cert"], batch, amount, use_account=not no_account))
    if settlement is not None:
        ctx["settlement"] = settlement


@when("撤销该结算")
def when_cancel_settlement(ctx: dict[str, Any], insurance: Any) -> None:
    settlement = held(ctx, "settlement", "结算")
    ctx["refund"] = _attempt(ctx, lambda: insurance.cancel_settlement(settlement, ctx["visit"]))


@when("按原报文ID冲正该结算")
def when_reverse(ctx: dict[str, Any], insurance: Any) -> None:
    settlement = held(ctx, "settlement", "结算")
    _attempt(ctx, lambda: insurance.reverse(ctx["visit"], settlement.msgid, "2207"))


@when(parsers.parse('以该凭证办理交易 "{operation}"'))
def when_operation_with_cert(ctx: dict[str, Any], insurance: Any, operation: str) -> None:
    """1101 and 2201 for the queried person; 2206 and 2207 on the batch uploaded last."""
    cert, batch = held(ctx, "cert", "参保人出示的就诊凭证"), ctx.get("uploaded_batch", "")
    actions: dict[str, Callable[[], Any]] = {
        "1101": lambda: insurance.query_person(cert),
        "2201": lambda: insurance.register_visit(ctx["person"], cert, _next_otp(ctx)),
        "2206": lambda: insurance.pre_settle(ctx["visit"], cert, batch, _batch_total(ctx, batch)),
        "2207": lambda: insurance.settle(ctx["visit"], cert, batch, _batch_total(ctx, batch)),
    }
    expect(operation in actions, "场景写了这个步骤不支持的交易", expected=f"{'、'.join(actions)} 之一", actual=operation)
    _attempt(ctx, actions[operation])


# -- Then: what the connector reported --------------------------------------------------------------------------
@then(parsers.parse('错误指出字段 "{name}"'))
def then_error_field(ctx: dict[str, Any], name: str) -> None:
    error = failure(ctx, port.InvalidInput)
    expect(name in error.field or name in error.message, "连接器拒绝发送，但没有指出出错的字段",
           expected=f"指出字段 {name}", actual=f"字段 {error.field}：{error.message}")


@then(parsers.re(r"连接器报告结算未完成，(?P<outcome>已冲正|平台未处理)"))
def then_not_completed(ctx: dict[str, Any], insurance_mock: Any, outcome: str) -> None:
    error = failure(ctx, port.SettlementNotCompleted)
    expect(error.reversed is (outcome == "已冲正"), "连接器对结算是否已冲正的判断与平台不符", transaction="2207",
           expected=outcome, actual="已冲正" if error.reversed else "平台未处理")
    sent = _sent(_last(insurance_mock, "2207"))
    expect(error.msgid == sent["msgid"], "连接器报告的结算报文ID不是发出的那一笔", transaction="2207",
           expected=sent["msgid"], actual=error.msgid)


@then("连接器报告结算未完成，平台没有收到结算")
def then_not_completed_never_sent(ctx: dict[str, Any], insurance_mock: Any) -> None:
    """No connection could be made: the settlement never reached the platform, so the patient was not charged and
    there is nothing to reverse (no 2601 either)."""
    error = failure(ctx, port.SettlementNotCompleted)
    expect(not error.reversed, "连接器对结算是否已冲正的判断与平台不符", transaction="2207", expected="平台未处理",
           actual="已冲正")
    arrived = [code for code in _received(insurance_mock) if code in ("2207", "2601")]
    expect(not arrived, "平台不接受连接，却收到了结算或冲正", transaction="2207", expected="没有 2207、2601",
           actual=arrived)


@then("连接器报告结算状态不确定")
def then_uncertain(ctx: dict[str, Any], insurance_mock: Any) -> None:
    error = failure(ctx, port.SettlementUncertain)
    sent = _sent(_last(insurance_mock, "2207"))
    expect(error.msgid == sent["msgid"], "连接器报告的结算报文ID不是发出的那一笔", transaction="2207",
           expected=sent["msgid"], actual=error.msgid)


@then("签到取得了签到流水号")
def then_signed_in(ctx: dict[str, Any], insurance_mock: Any) -> None:
    sign_in = held(ctx, "sign_in", "签到结果")
    expect(sign_in.sign_no, "签到没有取得签到流水号", transaction="9001", expected="签到流水号", actual=sign_in)
    reply = _last(insurance_mock, "9001").response
    given_no = reply["output"]["signinoutb"]["sign_no"]
    expect(given_no == sign_in.sign_no, "连接器记下的签到流水号不是平台给的", transaction="9001",
           expected=given_no, actual=sign_in.sign_no)


@then("返回的参保人与平台登记一致")
def then_person_matches(ctx: dict[str, Any]) -> None:
    person, patient = held(ctx, "person", "参保人信息"), ctx["patient"]
    for label, got, wanted in (("人员编号", person.psn_no, patient.psn_no), ("姓名", person.psn_name, patient.psn_name),
                               ("身份证号", person.certno, patient.certno), ("险种", person.insutype, patient.insutype),
                               ("参保地医保区划", person.insuplc_admdvs, patient.insuplc_admdvs),
                               ("出生日期", person.brdy, patient.brdy)):
        expect(got == wanted, f"连接器返回的参保人{label}与平台登记的不一致", transaction="1101",
               expected=wanted, actual=got)
    expect(person.balance == ctx["balance_before"], "连接器返回的个人账户余额与平台账户不一致", transaction="1101",
           expected=ctx["balance_before"], actual=person.balance)


@then(parsers.re(r"参保状态为(?P<state>正常|暂停)"))
def then_insured(ctx: dict[str, Any], state: str) -> None:
    person = held(ctx, "person", "参保人信息")
    expect(person.insured is (state == "正常"), "连接器返回的参保状态不对", transaction="1101",
           expected=state, actual="正常" if person.insured else "暂停")


@then(parsers.parse('返回的个人账户余额为 "{amount}"'))
def then_person_balance(ctx: dict[str, Any], amount: str) -> None:
    person = held(ctx, "person", "参保人信息")
    expect(person.balance == Decimal(amount), "连接器返回的个人账户余额不对", transaction="1101",
           expected=amount, actual=person.balance)


@then("门诊挂号返回了就诊ID")
def then_visit(ctx: dict[str, Any], insurance_mock: Any) -> None:
    visit = held(ctx, "visit", "门诊挂号结果")
    expect(visit.mdtrt_id, "门诊挂号没有返回就诊ID", transaction="2201", expected="就诊ID", actual=visit)
    expect(visit.psn_no == ctx["patient"].psn_no, "门诊挂号返回的人员编号不是该参保人", transaction="2201",
           expected=ctx["patient"].psn_no, actual=visit.psn_no)
    expect(insurance_mock.visit(visit.mdtrt_id) is not None, "连接器返回的就诊ID平台上没有", transaction="2201",
           expected="平台登记的就诊ID", actual=visit.mdtrt_id)


@then("返回的费用明细结果为：")
def then_fee_results(ctx: dict[str, Any], datatable: list[list[str]]) -> None:
    results = {r.feedetl_sn: r for r in held(ctx, "fees", "费用明细上传结果")}
    rows = nonempty(table_rows(datatable), "场景没有列出期望的费用明细结果")
    same_items(sorted(results), sorted(row["流水号"] for row in rows), "连接器返回的费用明细与上传的不是同一批",
               transaction="2204")
    for row in rows:
        result = results[row["流水号"]]
        for label, got, wanted in (("金额", result.amount, Decimal(row["金额"])), ("收费项目等级", result.chrgitm_lv, row["等级"]),
                                   ("自付比例", result.selfpay_prop, Decimal(row["自付比例"])),
                                   ("符合范围金额", result.inscp_scp_amt, Decimal(row["符合范围金额"]))):
            expect(got == wanted, f"费用明细 {result.feedetl_sn} 的{label}不对", transaction="2204",
                   expected=wanted, actual=got)


@then(parsers.re(r"返回的(?P<which>预结算|结算|撤销结算)金额为："))
def then_amounts(ctx: dict[str, Any], which: str, datatable: list[list[str]]) -> None:
    code = {"预结算": "2206", "结算": "2207", "撤销结算": "2208"}[which]
    settlement = held(ctx, {"预结算": "pre", "结算": "settlement", "撤销结算": "refund"}[which], f"{which}结果")
    rows = nonempty(table_rows(datatable), f"场景没有列出期望的{which}金额")
    for name, value in rows[0].items():
        expect(name in SETTLEMENT_FIELDS, "场景写了结算结果中没有的金额", expected=f"{'、'.join(SETTLEMENT_FIELDS)} 之一",
               actual=name)
        actual = getattr(settlement, name)
        expect(actual == Decimal(value), f"连接器返回的{which}金额 {name} 不对", transaction=code,
               expected=value, actual=actual)
    expect(settlement.medfee_sumamt == settlement.fund_pay_sumamt + settlement.psn_part_amt,
           f"{which}的医疗费总额不等于基金支付与个人负担之和", transaction=code,
           expected=f"{settlement.fund_pay_sumamt} + {settlement.psn_part_amt}", actual=settlement.medfee_sumamt)
    expect(settlement.psn_part_amt == settlement.acct_pay + settlement.psn_cash_pay,
           f"{which}的个人负担不等于个人账户与现金支付之和", transaction=code,
           expected=f"{settlement.acct_pay} + {settlement.psn_cash_pay}", actual=settlement.psn_part_amt)


@then("预结算没有结算ID")
def then_pre_has_no_setl_id(ctx: dict[str, Any]) -> None:
    pre = held(ctx, "pre", "预结算结果")
    expect(pre.setl_id is None, "预结算只试算，却带回了结算ID", transaction="2206", expected="没有结算ID", actual=pre.setl_id)


@then(parsers.re(r"(?P<which>预结算|结算)的 medins_setl_id 等于其请求的报文ID"))
def then_medins_setl_id(ctx: dict[str, Any], insurance_mock: Any, which: str) -> None:
    code = "2206" if which == "预结算" else "2207"
    settlement = held(ctx, "pre" if which == "预结算" else "settlement", f"{which}结果")
    sent = _sent(_last(insurance_mock, code))
    expect(settlement.medins_setl_id == settlement.msgid == sent["msgid"], f"{which}的医药机构结算ID不是其请求的报文ID",
           transaction=code, expected=sent["msgid"], actual=f"medins_setl_id {settlement.medins_setl_id}，msgid {settlement.msgid}")


@then("撤销结算返回原结算的相反金额")
def then_refund_negated(ctx: dict[str, Any]) -> None:
    settlement, refund = held(ctx, "settlement", "结算"), held(ctx, "refund", "撤销结算结果")
    expect(refund.setl_id == settlement.setl_id, "撤销结算返回的结算ID不是原结算", transaction="2208",
           expected=settlement.setl_id, actual=refund.setl_id)
    for name in SETTLEMENT_FIELDS[:-1]:
        expect(getattr(refund, name) == -getattr(settlement, name), f"撤销结算的 {name} 不是原结算的相反数",
               transaction="2208", expected=-getattr(settlement, name), actual=getattr(refund, name))


# -- Then: the platform's ledger ------------------------------------------------------------------------------------
@then(parsers.parse('平台上个人账户余额为 "{amount}"'))
def then_balance(ctx: dict[str, Any], insurance_mock: Any, amount: str) -> None:
    actual = insurance_mock.balance(ctx["patient"].psn_no)
    expect(actual == Decimal(amount), "平台上个人账户余额不对", expected=amount, actual=actual)


@then("平台上个人账户余额不变")
def then_balance_unchanged(ctx: dict[str, Any], insurance_mock: Any) -> None:
    actual = insurance_mock.balance(ctx["patient"].psn_no)
    expect(actual == ctx["balance_before"], "平台上个人账户余额变了：参保人可能被多扣或多退了钱",
           expected=ctx["balance_before"], actual=actual)


@then("返回的余额与平台账户一致")
def then_returned_balance(ctx: dict[str, Any], insurance_mock: Any) -> None:
    settlement = ctx.get("refund") or held(ctx, "settlement", "结算")
    actual = insurance_mock.balance(ctx["patient"].psn_no)
    expect(settlement.balance == actual, "连接器返回的余额与平台账户不一致", expected=actual, actual=settlement.balance)


@then(parsers.re(r"平台上该就诊有 (?P<count>\d+) 笔(?P<status>已结算|已撤销|已冲正)的结算"))
def then_settlement_count(ctx: dict[str, Any], insurance_mock: Any, count: str, status: str) -> None:
    rows = insurance_mock.settlements(held(ctx, "visit", "门诊挂号").mdtrt_id, SETTLEMENT_STATUS[status])
    count_of(rows, int(count), f"平台上该就诊{status}的结算笔数不对", detail=f"结算ID {[r['setl_id'] for r in rows]}")


@then("平台上该就诊没有任何结算")
def then_no_settlement(ctx: dict[str, Any], insurance_mock: Any) -> None:
    rows = insurance_mock.settlements(held(ctx, "visit", "门诊挂号").mdtrt_id)
    expect(rows == [], "平台上该就诊不应有结算，却有", expected="没有结算",
           actual=[(r["setl_id"], r["status"]) for r in rows])


@then(parsers.parse('平台上该结算的状态为"{status}"'))
def then_settlement_status(ctx: dict[str, Any], insurance_mock: Any, status: str) -> None:
    setl_id = held(ctx, "settlement", "结算").setl_id
    rows = [r for r in insurance_mock.settlements(ctx["visit"].mdtrt_id) if r["setl_id"] == setl_id]
    count_of(rows, 1, "平台上找不到该结算", detail=f"结算ID {setl_id}")
    expect(rows[0]["status"] == SETTLEMENT_STATUS[status], "平台上该结算的状态不对", expected=status,
           actual=rows[0]["status"])


@then(parsers.parse('平台上该就诊的状态为"{status}"'))
def then_visit_status(ctx: dict[str, Any], insurance_mock: Any, status: str) -> None:
    visit = insurance_mock.visit(held(ctx, "visit", "门诊挂号").mdtrt_id)
    expect(visit is not None, "平台上没有该就诊", expected=status, actual="没有就诊记录")
    expect(visit["status"] == VISIT_STATUS[status], "平台上该就诊的状态不对", expected=status, actual=visit["status"])


@then("平台上该参保人没有有效的就诊")
def then_no_open_visit(ctx: dict[str, Any], insurance_mock: Any) -> None:
    psn_no = held(ctx, "person", "参保人信息").psn_no
    open_visits = [v["mdtrt_id"] for v in insurance_mock.visits(psn_no) if v["status"] in ("registered", "settled")]
    expect(not open_visits, "平台上还留着收费处不知道的有效就诊", expected="没有有效就诊", actual=open_visits)


@given("平台的签到会话已过期")
def given_sessions_expired(insurance_mock: Any) -> None:
    expect(insurance_mock.expire_sessions() >= 1, "平台上没有可以过期的签到会话", expected="至少一个签到会话", actual="没有")


@given("平台重启后已不记得医院的签到会话")
def given_sessions_forgotten(insurance_mock: Any) -> None:
    expect(insurance_mock.forget_sessions() >= 1, "平台上没有可以忘记的签到会话", expected="至少一个签到会话", actual="没有")


@then("平台上没有仍然有效的签到会话")
def then_no_open_session(insurance_mock: Any) -> None:
    """Every session the hospital's requests carried (sign_no) is over on the platform."""
    used = nonempty(sorted({str(sign_no) for e in _journal(insurance_mock) if (sign_no := _sent(e).get("sign_no"))}),
                    "医院的请求都没有携带签到流水号，无从检查会话是否已结束")
    still_open = [sign_no for sign_no in used if (insurance_mock.store.peek("sessions", sign_no) or {}).get("active")]
    expect(not still_open, "签退后平台上还留着有效的签到会话（连接器为签退重新签到，却没有结束新的会话）",
           transaction="9002", expected="医院用过的签到会话都已结束", actual=f"仍然有效的签到流水号 {still_open}")


@then(parsers.parse('平台上该就诊的费用明细为 "{sns}"'))
def then_visit_fees(ctx: dict[str, Any], insurance_mock: Any, sns: str) -> None:
    visit = insurance_mock.visit(held(ctx, "visit", "门诊挂号").mdtrt_id)
    expect(visit is not None, "平台上没有该就诊", expected=f"费用明细 {sns}", actual="没有就诊记录")
    same_items(sorted(visit["fees"]), sorted(_codes(sns)), "平台上该就诊的费用明细不对")


# -- Then: the journal ---------------------------------------------------------------------------------------------
@then(parsers.parse('平台收到的交易依次为 "{operations}"'))
def then_journal_sequence(insurance_mock: Any, operations: str) -> None:
    same_items(_received(insurance_mock), _codes(operations), "平台收到的交易或其顺序不对")


@then(parsers.parse('此后平台收到的交易依次为 "{operations}"'))
def then_journal_since_mark(ctx: dict[str, Any], insurance_mock: Any, operations: str) -> None:
    same_items(_received(insurance_mock)[held(ctx, "journal_mark", "记下的交易数"):], _codes(operations),
               "此后平台收到的交易或其顺序不对")


@then("平台没有收到任何交易")
def then_journal_empty(insurance_mock: Any) -> None:
    same_items(_received(insurance_mock), [], "连接器不应发出任何交易，平台却收到了")


@then(parsers.parse('平台收到 {count:d} 笔 "{operation}"'))
def then_journal_count(insurance_mock: Any, count: int, operation: str) -> None:
    count_of(_journal(insurance_mock, operation), count, f"平台收到的 {operation} 笔数不对", transaction=operation,
             detail=f"平台收到的交易：{_received(insurance_mock)}")


@then(parsers.parse('平台没有收到 "{operation}"'))
def then_journal_absent(insurance_mock: Any, operation: str) -> None:
    then_journal_count(insurance_mock, 0, operation)


@then(parsers.parse('"{operation}" 请求的 "{path}" 为 "{value}"'))
def then_request_field(insurance_mock: Any, operation: str, path: str, value: str) -> None:
    actual = _field(insurance_mock, operation, path)
    expect(_same(actual, value), f"{operation} 请求的 {path} 不对", transaction=operation, expected=value, actual=actual)


@then(parsers.parse('"{operation}" 请求的 "{path}" 取值为 "{values}" 之一'))
def then_request_field_in(insurance_mock: Any, operation: str, path: str, values: str) -> None:
    actual = _field(insurance_mock, operation, path)
    expect(str(actual) in _codes(values), f"{operation} 请求的 {path} 不在允许的取值中", transaction=operation,
           expected=f"{values} 之一", actual=actual)


@then(parsers.parse('"{operation}" 请求不含 "{path}"'))
def then_request_field_absent(insurance_mock: Any, operation: str, path: str) -> None:
    actual = _pointer(_sent(_last(insurance_mock, operation)), path)
    expect(actual is MISSING, f"{operation} 请求不应含 {path}，却含有", transaction=operation, expected="没有该字段",
           actual=actual)


@then(parsers.re(r'"(?P<operation>\w+)" 请求的 "(?P<path>[\w.]+)" 为(?P<owner>参保人|该就诊|该结算)的(?P<attribute>\w+)'))
def then_request_field_from(ctx: dict[str, Any], insurance_mock: Any, operation: str, path: str, owner: str,
                            attribute: str) -> None:
    sources = {"参保人": "patient", "该就诊": "visit", "该结算": "settlement"}
    expect(attribute in ATTRIBUTES, "场景写了未知的属性", expected=f"{'、'.join(ATTRIBUTES)} 之一", actual=attribute)
    expected = getattr(held(ctx, sources[owner], owner), ATTRIBUTES[attribute])
    actual = _field(insurance_mock, operation, path)
    expect(actual == expected, f"{operation} 请求的 {path} 不是{owner}的{attribute}", transaction=operation,
           expected=expected, actual=actual)


@then(parsers.parse('冲正请求引用了 "{operation}" 请求的报文ID'))
def then_reversal_refers(ctx: dict[str, Any], insurance_mock: Any, operation: str) -> None:
    original = _sent(_last(insurance_mock, operation))
    reversal = _sent(_last(insurance_mock, "2601"))
    data = reversal["input"]["data"]
    for label, got, wanted in (("原报文ID omsgid", data.get("omsgid"), original["msgid"]),
                               ("原交易编号 oinfno", data.get("oinfno"), original["infno"]),  # the form it went as: 2207 or 2207A
                               ("人员编号 psn_no", data.get("psn_no"), ctx["patient"].psn_no)):
        expect(got == wanted, f"冲正请求的{label}不对", transaction="2601", expected=wanted, actual=got)
    journal = _journal(insurance_mock)
    expect(journal.index(_last(insurance_mock, "2601")) > journal.index(_last(insurance_mock, operation)),
           "冲正请求在原交易之前发出", transaction="2601", expected=f"先 {operation} 后 2601", actual=_received(insurance_mock))


@then(parsers.re(r'平台对最后一笔 "(?P<operation>\w+)" 的应答为(?P<outcome>成功|失败)(，信息包含 "(?P<text>[^"]+)")?'))
def then_reply(insurance_mock: Any, operation: str, outcome: str, text: str | None) -> None:
    reply = _last(insurance_mock, operation).response
    expect(isinstance(reply, dict), f"平台对 {operation} 没有可读的应答", transaction=operation, expected=outcome,
           actual="没有应答")
    succeeded = str(reply.get("infcode")) == "0"
    expect(succeeded is (outcome == "成功"), f"平台对 {operation} 的应答不是{outcome}", transaction=operation,
           expected=outcome, actual=f"infcode {reply.get('infcode')}：{reply.get('err_msg')}")
    if text:
        said = f"{reply.get('err_msg')} {reply.get('warn_msg')}"
        expect(text in said, f"平台对 {operation} 的应答没有说明原因", transaction=operation,
               expected=f"包含“{text}”", actual=said)


@then(parsers.parse('平台收到的 "{operation}" 报文ID互不相同'))
def then_distinct_msgids(insurance_mock: Any, operation: str) -> None:
    msgids = [_sent(e)["msgid"] for e in _journal(insurance_mock, operation)]
    expect(len(msgids) > 1, f"平台只收到 {len(msgids)} 笔 {operation}，无从比较报文ID", transaction=operation,
           expected="至少两笔", actual=len(msgids))
    expect(len(set(msgids)) == len(msgids), f"连接器重复使用了 {operation} 的报文ID", transaction=operation,
           expected="报文ID互不相同", actual=msgids)


@then("平台收到的所有报文ID互不相同")
def then_all_msgids_distinct(insurance_mock: Any) -> None:
    msgids = [_sent(e)["msgid"] for e in nonempty(_journal(insurance_mock), "平台没有收到任何交易")]
    repeated = sorted({m for m in msgids if msgids.count(m) > 1})
    expect(not repeated, "连接器重复使用了报文ID：平台会把后一笔当作重复提交拒绝", expected="报文ID互不相同",
           actual=f"重复的报文ID {repeated}")


@then("平台收到的每笔请求的时间都与平台时钟一致")
def then_times_agree(insurance_mock: Any) -> None:
    journal = nonempty(_journal(insurance_mock), "平台没有收到任何交易，无从核对时间")
    skewed = [f"{e.operation} {f.location}：{f.message}" for e in journal for f in e.request_findings
              if f.rule == "clock_skew"]
    expect(not skewed, "请求中的时间与平台时钟不符：收费系统的时钟、时区或日期格式有误", expected="相差不超过 300 秒",
           actual="；".join(skewed)[:500])


@then("每笔业务交易都携带当前的签到流水号")
def then_sign_no_carried(insurance_mock: Any) -> None:
    current = None
    business = 0
    for exchange in _journal(insurance_mock):
        body = _sent(exchange)
        if exchange.operation == "9001":
            current = exchange.response["output"]["signinoutb"]["sign_no"]
            continue
        business += 1
        expect(current is not None, f"{exchange.operation} 在签到之前就发出了", transaction=exchange.operation,
               expected="先签到（9001）", actual=_received(insurance_mock))
        expect(body.get("sign_no") == current, f"{exchange.operation} 没有携带当前的签到流水号",
               transaction=exchange.operation, expected=current, actual=body.get("sign_no"))
    expect(business, "平台没有收到任何业务交易，无从检查签到流水号", expected="至少一笔业务交易", actual=_received(insurance_mock))


@then("带人员编号的请求都携带参保人的参保地医保区划")
def then_insuplc(ctx: dict[str, Any], insurance_mock: Any) -> None:
    checked = 0
    for exchange in _journal(insurance_mock):
        body = _sent(exchange)
        if "psn_no" in json.dumps(body.get("input", {})):
            checked += 1
            expect(body.get("insuplc_admdvs") == ctx["patient"].insuplc_admdvs,
                   f"{exchange.operation} 的参保地医保区划不是参保人的参保地", transaction=exchange.operation,
                   expected=ctx["patient"].insuplc_admdvs, actual=body.get("insuplc_admdvs"))
    expect(checked, "没有一笔请求带人员编号，无从检查参保地医保区划", expected="至少一笔带 psn_no 的请求",
           actual=_received(insurance_mock))


@then(parsers.parse('签退请求携带签到取得的签到流水号'))
def then_sign_out_sign_no(ctx: dict[str, Any], insurance_mock: Any) -> None:
    body = _sent(_last(insurance_mock, "9002"))
    wanted = held(ctx, "sign_in", "签到结果").sign_no
    expect(body["input"]["signOut"]["sign_no"] == body["sign_no"] == wanted, "签退请求没有携带签到取得的签到流水号",
           transaction="9002", expected=wanted,
           actual=f"signOut.sign_no {body['input']['signOut']['sign_no']}，sign_no {body['sign_no']}")


@then(parsers.parse('最后一笔 "{operation}" 携带重新签到取得的签到流水号'))
def then_renewed_sign_no(insurance_mock: Any, operation: str) -> None:
    sign_ins = _journal(insurance_mock, "9001")
    expect(len(sign_ins) >= 2, "签到会话失效后连接器没有重新签到", transaction="9001", expected="至少两笔 9001",
           actual=f"{len(sign_ins)} 笔")
    renewed = sign_ins[-1].response["output"]["signinoutb"]["sign_no"]
    first = sign_ins[0].response["output"]["signinoutb"]["sign_no"]
    expect(renewed != first, "重新签到取得的签到流水号与原来的相同", transaction="9001", expected=f"不同于 {first}",
           actual=renewed)
    carried = _sent(_last(insurance_mock, operation))["sign_no"]
    expect(carried == renewed, f"最后一笔 {operation} 没有携带重新签到取得的签到流水号", transaction=operation,
           expected=renewed, actual=carried)
