"""Step definitions for the LIS specs: patients and laboratory orders through the connector, results from the mock
LIS to the connector's listener. The steps both interfaces share are in features/steps/hl7.py."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from features.steps.hl7 import *  # noqa: F403 - the shared HL7 steps are registered through this import
from features.steps.hl7 import Hl7World, attempt, blank, codes, patient, patient_dict, push, result_of
from harness.ports.lis import LabOrder

ORDER_STATUS = {"已接收": "received", "已撤销": "cancelled", "初步报告": "preliminary", "最终报告": "final",
                "已更正": "corrected"}


@pytest.fixture
def hl7(request: pytest.FixtureRequest, lis_mock: Any) -> Hl7World:
    """The LIS world of one scenario; the connector is built only when a step needs it."""
    return Hl7World("lis", lis_mock, lambda: request.getfixturevalue("lis"),
                    {"检验医嘱": lis_mock.order_type, "患者消息": "ADT^A01", "批量": "BATCH"},
                    {"结果": "stored_results"})


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
    assert ack.accepted, ack
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
    results = result if isinstance(result, list) else [result]
    assert results and all(r.code == "AA" for r in results), results
    assert [r.order_control for r in results] == [order_control] * len(results), results
    if order_control == "OK":
        assert all(r.filler_no for r in results), "an accepted order carries the LIS's filler number (ORC-3)"


@then(parsers.parse('LIS 上医嘱 "{placer}" 的状态为 "{status}"'))
def then_order_status(hl7: Hl7World, placer: str, status: str) -> None:
    held = hl7.mock.order(placer)
    assert held["status"] == ORDER_STATUS[status], f"order {placer} is {held['status']}; expected {status}"


@then(parsers.parse('LIS 持有 {n:d} 条医嘱'))
def then_order_count(hl7: Hl7World, n: int) -> None:
    assert len(hl7.mock.orders()) == n, [o["placer_no"] for o in hl7.mock.orders()]


@then(parsers.parse('LIS 保存的患者 "{mrn}" 姓名为 "{name}"，事件依次为 "{events}"'))
def then_patient(hl7: Hl7World, mrn: str, name: str, events: str) -> None:
    held = hl7.mock.patient(mrn)
    assert held is not None, f"the LIS holds no patient {mrn}: {[p.get('mrn') for p in hl7.mock.patients()]}"
    assert held["name"] == name, f"the LIS holds the name {held['name']!r}; expected {name!r}"
    expected = [hl7.operations.get(e, e) for e in codes(events)]
    assert held["events"] == expected, f"the LIS holds events {held['events']}; expected {expected}"


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


@given(parsers.parse('LIS 已回传医嘱 "{placer}" 的 "{status}" 结果'))
def given_result(ctx: dict[str, Any], hl7: Hl7World, placer: str, status: str) -> None:
    pushed = hl7.mock.send_result(placer, status, to=hl7.listener())
    ctx.setdefault("pushes", []).append(pushed)
    assert pushed.code == "AA", pushed


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
    assert got == codes(acks), f"the LIS journal holds ACKs {got}; expected {codes(acks)}"

