"""Step definitions for the LIS specs: patients and laboratory orders through the connector, results from the mock
LIS to the connector's listener. The steps both interfaces share are in features/steps/hl7.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from features.steps.hl7 import *  # noqa: F403 - the shared HL7 steps are registered through this import
from features.steps.hl7 import (
    Hl7World,
    attempt,
    blank,
    codes,
    locked_push,
    patient,
    patient_dict,
    push,
    result_of,
)
from features.steps.outcome import count_of, expect, nonempty
from harness.ports.lis import LabOrder

ORDER_STATUS = {"已接收": "received", "已撤销": "cancelled", "初步报告": "preliminary", "最终报告": "final",
                "已更正": "corrected"}


@pytest.fixture
def hl7(request: pytest.FixtureRequest, lis_mock: Any) -> Hl7World:
    """The LIS world of one scenario; the connector is built only when a step needs it."""
    return Hl7World("lis", lis_mock, lambda: request.getfixturevalue("lis"),
                    {"检验医嘱": lis_mock.order_type, "患者消息": "ADT^A01", "批量": "BATCH"},
                    {"结果": "stored_results"}, ("HH", "LL"))


def _order(ctx: dict[str, Any], placer: str, test: str = "CBC") -> LabOrder:
    names = {"CBC": "血常规", "K": "血钾", "GLU": "葡萄糖"}
    order = LabOrder(placer, patient(ctx), ((test, names.get(test, test)),))
    ctx.setdefault("orders", {})[placer] = order
    return order


def _template(ctx: dict[str, Any], hl7: Hl7World, placer: str) -> None:
    ctx["template"] = lambda: hl7.mock.result_message(placer, "F")


# -- the hospital sends ---------------------------------------------------------------------------------------
@when(parsers.parse('医院发送患者 "{event}" 消息'))
def when_patient(ctx: dict[str, Any], hl7: Hl7World, event: str) -> None:
    attempt(ctx, lambda: hl7.connector.send_patient(patient(ctx), event.split("^")[-1]))


@when(parsers.re(r'医院(以 "(?P<charset>[^"]+)" )?开立检验医嘱 "(?P<placer>[^"]+)"(（检验项目 "(?P<test>\w+)"）)?'))
def when_order(ctx: dict[str, Any], hl7: Hl7World, placer: str, charset: str | None, test: str | None) -> None:
    order = _order(ctx, placer, test or "CBC")
    _template(ctx, hl7, placer)
    attempt(ctx, lambda: hl7.connector.place_order(order, charset=charset))


@given(parsers.parse('已开立检验医嘱 "{placer}"'))
def given_order(ctx: dict[str, Any], hl7: Hl7World, placer: str) -> None:
    ack = hl7.connector.place_order(_order(ctx, placer))
    expect(ack.accepted, f"LIS 没有接受检验医嘱 {placer}", transaction="OML^O21", expected="AA，医嘱已接收", actual=ack)
    _template(ctx, hl7, placer)


@when(parsers.parse('医院撤销检验医嘱 "{placer}"'))
def when_cancel(ctx: dict[str, Any], hl7: Hl7World, placer: str) -> None:
    order = ctx.get("orders", {}).get(placer) or _order(ctx, placer)
    attempt(ctx, lambda: hl7.connector.cancel_order(order))


@when(parsers.parse('医院以批量方式开立检验医嘱 "{placers}"'))
def when_batch(ctx: dict[str, Any], hl7: Hl7World, placers: str) -> None:
    orders = [_order(ctx, p) for p in codes(placers)]
    attempt(ctx, lambda: hl7.connector.place_orders(orders))


@then(parsers.parse('LIS 应答医嘱控制码为 "{order_control}"'))
def then_order_control(ctx: dict[str, Any], order_control: str) -> None:
    result = result_of(ctx)
    results = nonempty(result if isinstance(result, list) else [result], "连接器没有得到 LIS 的医嘱应答")
    expect(all(r.code == "AA" for r in results), "LIS 没有全部接受医嘱", expected="AA", actual=[r.code for r in results])
    expect([r.order_control for r in results] == [order_control] * len(results), "LIS 应答的医嘱控制码不对",
           expected=order_control, actual=[r.order_control for r in results])
    if order_control == "OK":
        expect(all(r.filler_no for r in results), "LIS 接受的医嘱没有带回执行单号（ORC-3）", expected="执行单号",
               actual=[r.filler_no for r in results])


def _held_order(hl7: Hl7World, placer: str) -> dict[str, Any]:
    orders = {o["placer_no"]: o for o in hl7.mock.orders()}
    expect(placer in orders, f"LIS 上没有医嘱 {placer}", expected=placer, actual=sorted(orders))
    return orders[placer]


@then(parsers.parse('LIS 登记的医嘱 "{placer}" 的检验项目、标本类型和申请时间与医院开立的一致'))
def then_order_same(ctx: dict[str, Any], hl7: Hl7World, placer: str) -> None:
    """Each test in its own OBR numbered from 1 (OBR-1), the specimen type, and a requested time (TQ1-7 in v2.5.1,
    ORC-7.4 in v2.4) close to now: the LIS schedules the collection from it."""
    held = _held_order(hl7, placer)
    order: LabOrder = ctx["orders"][placer]
    numbers = [str(n) for n in range(1, len(order.tests) + 1)]
    ours = {"检验项目": [list(t) for t in order.tests], "OBR 序号": numbers, "标本类型": order.specimen}
    theirs = {"检验项目": [list(t) for t in held["tests"]], "OBR 序号": held["set_ids"], "标本类型": held["specimen"]}
    wrong = [what for what in ours if ours[what] != theirs[what]]
    expect(not wrong, f"LIS 登记的医嘱 {placer} 与医院开立的不一致（{'、'.join(wrong)}）",
           expected={w: ours[w] for w in wrong}, actual={w: theirs[w] for w in wrong})
    requested = held["requested_at"]
    try:
        moment = datetime.strptime(requested[:14], "%Y%m%d%H%M%S")
    except ValueError:
        moment = None
    expect(moment is not None and abs((moment - datetime.now()).total_seconds()) < 3600,
           f"LIS 登记的医嘱 {placer} 没有可用的申请时间（TQ1-7 / ORC-7.4），无法安排采样",
           expected="一小时之内的申请时间", actual=requested or "没有")


@then(parsers.parse('LIS 登记的医嘱 "{placer}" 的开单医生（OBR-16）与医院开立的一致'))
def then_order_doctor(ctx: dict[str, Any], hl7: Hl7World, placer: str) -> None:
    held = _held_order(hl7, placer)
    order: LabOrder = ctx["orders"][placer]
    expect(list(held["ordering_provider"]) == list(order.doctor), f"LIS 登记的医嘱 {placer} 的开单医生与医院开立的不一致",
           expected=list(order.doctor), actual=held["ordering_provider"])


@then(parsers.parse('LIS 上医嘱 "{placer}" 的状态为 "{status}"'))
def then_order_status(hl7: Hl7World, placer: str, status: str) -> None:
    held = _held_order(hl7, placer)
    expect(held["status"] == ORDER_STATUS.get(status, status), f"LIS 上医嘱 {placer} 的状态不对", expected=status,
           actual=held["status"])


@then(parsers.parse('LIS 持有 {n:d} 条医嘱'))
def then_order_count(hl7: Hl7World, n: int) -> None:
    count_of(hl7.mock.orders(), n, "LIS 持有的医嘱条数不对", detail=f"{[o['placer_no'] for o in hl7.mock.orders()]}")


@then(parsers.parse('LIS 保存的患者 "{mrn}" 姓名为 "{name}"，事件依次为 "{events}"'))
def then_patient(hl7: Hl7World, mrn: str, name: str, events: str) -> None:
    held = hl7.mock.patient(mrn)
    expect(held is not None, f"LIS 上没有患者 {mrn}", expected=mrn, actual=[p.get("mrn") for p in hl7.mock.patients()])
    expect(held["name"] == name, f"LIS 保存的患者 {mrn} 的姓名不对", expected=name, actual=held["name"])
    expected = [hl7.operations.get(e, e) for e in codes(events)]
    expect(held["events"] == expected, f"LIS 收到的患者 {mrn} 的事件不对", expected=expected, actual=held["events"])


# -- the LIS sends --------------------------------------------------------------------------------------------
@given(parsers.parse('LIS 已持有医嘱 "{placer}"'))
def given_held(ctx: dict[str, Any], hl7: Hl7World, placer: str) -> None:
    hl7.mock.hold_order(placer, patient_dict(patient(ctx)))
    _template(ctx, hl7, placer)


@when(parsers.re(r'LIS 回传医嘱 "(?P<placer>[^"]+)" 的 "(?P<status>[PFC])" 结果'
                 r'(（危急值 "(?P<critical>HH|LL)"）)?(（字符集 "(?P<charset>[^"]+)"）)?(，但 "(?P<path>[^"]+)" 为空)?$'))
def when_result(ctx: dict[str, Any], hl7: Hl7World, placer: str, status: str, critical: str | None,
                charset: str | None, path: str | None) -> None:
    if path:
        push(ctx, hl7, blank(hl7.mock.result_message(placer, status, critical or "", charset), path), charset)
        return
    pushed = hl7.mock.send_result(placer, status, critical or "", to=hl7.listener(), charset=charset)
    ctx.setdefault("pushes", []).append(pushed)
    ctx["push"] = pushed
    ctx["last_text"], ctx["last_charset"] = hl7.mock.last_sent, charset


@when(parsers.parse('LIS 在医院的结果库被锁住时回传医嘱 "{placer}" 的 "{status}" 结果'))
def when_result_locked(ctx: dict[str, Any], hl7: Hl7World, placer: str, status: str) -> None:
    locked_push(ctx, hl7, lambda: hl7.mock.send_result(placer, status, to=hl7.listener()))


@given(parsers.parse('LIS 已回传医嘱 "{placer}" 的 "{status}" 结果'))
def given_result(ctx: dict[str, Any], hl7: Hl7World, placer: str, status: str) -> None:
    pushed = hl7.mock.send_result(placer, status, to=hl7.listener())
    ctx.setdefault("pushes", []).append(pushed)
    expect(pushed.code == "AA", f"医院没有确认医嘱 {placer} 的结果", transaction="ORU^R01", expected="AA",
           actual=f"{pushed.code or '没有确认'} {pushed.problem}")


@when(parsers.parse('LIS 以批量方式回传医嘱 "{placers}" 的 "{status}" 结果'))
def when_result_batch(ctx: dict[str, Any], hl7: Hl7World, placers: str, status: str) -> None:
    texts = [hl7.mock.result_message(p, status) for p in codes(placers)]
    pushed = hl7.mock.push_batch(texts, hl7.listener())
    ctx.setdefault("pushes", []).append(pushed)
    ctx["push"] = pushed


@then(parsers.parse('LIS 记录的结果确认依次为 "{acks}"'))
def then_result_acks(hl7: Hl7World, acks: str) -> None:
    got = [e.response.get("code") if e.response else "" for e in hl7.mock.journal.entries()
           if e.direction == "outbound"]
    expect(got == codes(acks), "LIS 记录的医院确认不对", expected=codes(acks), actual=got)

