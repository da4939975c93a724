"""Step definitions for the PACS specs: imaging orders through the connector (OMI^O23 v2.5.1 or ORM^O01 v2.4),
status updates and reports from the mock PACS to the connector's listener. Shared steps: features/steps/hl7.py."""

from __future__ import annotations

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
from harness.failure import SpecFailure
from harness.ports.pacs import ImagingOrder

ORDER_STATUS = {"已登记": "scheduled", "检查中": "in progress", "已完成": "completed", "已撤销": "cancelled",
                "初步报告": "preliminary", "最终报告": "final", "已更正": "corrected"}
VERSION = r'(（HL7 "(?P<version>2\.4|2\.5\.1)"）)?'


@pytest.fixture
def hl7(request: pytest.FixtureRequest, pacs_mock: Any) -> Hl7World:
    """The PACS world of one scenario; the connector is built only when a step needs it."""
    return Hl7World("pacs", pacs_mock, lambda: request.getfixturevalue("pacs"),
                    {"检查申请": "OMI^O23", "批量": "BATCH"},
                    {"报告": "stored_reports", "状态": "stored_statuses"}, ("AA", "HH", "LL"))


def _order(ctx: dict[str, Any], placer: str) -> ImagingOrder:
    order = ctx.setdefault("orders", {}).get(placer) or ImagingOrder(placer, patient(ctx))
    ctx["orders"][placer] = order
    return order


def _template(ctx: dict[str, Any], hl7: Hl7World, placer: str) -> None:
    ctx["template"] = lambda: hl7.mock.report_message(placer, "F")


# -- the hospital sends ---------------------------------------------------------------------------------------
@when(parsers.re(r'医院(以 "(?P<charset>[^"]+)" )?开立检查申请 "(?P<placer>[^"]+)"' + VERSION + "$"))
def when_order(ctx: dict[str, Any], hl7: Hl7World, placer: str, charset: str | None, version: str | None) -> None:
    order = _order(ctx, placer)
    _template(ctx, hl7, placer)
    attempt(ctx, lambda: hl7.connector.place_order(order, version or "2.5.1", charset=charset))


@given(parsers.re(r'已开立检查申请 "(?P<placer>[^"]+)"' + VERSION + "$"))
def given_order(ctx: dict[str, Any], hl7: Hl7World, placer: str, version: str | None) -> None:
    delivered = hl7.connector.place_order(_order(ctx, placer), version or "2.5.1")
    expect(delivered.code == "AA", f"PACS 没有接受检查申请 {placer}", transaction="OMI^O23", expected="AA",
           actual=delivered)
    _template(ctx, hl7, placer)


@when(parsers.re(r'医院撤销检查申请 "(?P<placer>[^"]+)"' + VERSION + "$"))
def when_cancel(ctx: dict[str, Any], hl7: Hl7World, placer: str, version: str | None) -> None:
    order = _order(ctx, placer)
    attempt(ctx, lambda: hl7.connector.cancel_order(order, version or "2.5.1"))


@when(parsers.re(r'医院以批量方式开立检查申请 "(?P<placers>[^"]+)"' + VERSION + "$"))
def when_batch(ctx: dict[str, Any], hl7: Hl7World, placers: str, version: str | None) -> None:
    orders = [_order(ctx, p) for p in codes(placers)]
    attempt(ctx, lambda: hl7.connector.place_orders(orders, version or "2.5.1"))


def _held_order(hl7: Hl7World, placer: str) -> dict[str, Any]:
    orders = {o["placer_no"]: o for o in hl7.mock.orders()}
    expect(placer in orders, f"PACS 上没有检查申请 {placer}", expected=placer, actual=sorted(orders))
    return orders[placer]


@then(parsers.parse('PACS 上医嘱 "{placer}" 的状态为 "{status}"'))
def then_order_status(hl7: Hl7World, placer: str, status: str) -> None:
    held = _held_order(hl7, placer)
    expect(held["status"] == ORDER_STATUS.get(status, status), f"PACS 上检查申请 {placer} 的状态不对", expected=status,
           actual=held["status"])


@then(parsers.parse('PACS 持有 {n:d} 条检查申请'))
def then_order_count(hl7: Hl7World, n: int) -> None:
    count_of(hl7.mock.orders(), n, "PACS 持有的检查申请条数不对", detail=f"{[o['placer_no'] for o in hl7.mock.orders()]}")


@then(parsers.parse('PACS 登记的检查申请 "{placer}" 有检查号和 Study Instance UID，患者姓名为 "{name}"'))
def then_order_registered(ctx: dict[str, Any], hl7: Hl7World, placer: str, name: str) -> None:
    delivery = result_of(ctx)
    held = _held_order(hl7, placer)
    order: ImagingOrder = ctx["orders"][placer]
    expect(list(held["procedure"]) == list(order.procedure), f"PACS 登记的检查申请 {placer} 的检查项目与医院开立的不一致",
           transaction=held["message_type"], expected=list(order.procedure), actual=held["procedure"])
    expect(held["modality"] == order.modality, f"PACS 登记的检查申请 {placer} 的检查设备类型不对",
           transaction=held["message_type"], expected=order.modality, actual=held["modality"])
    expect(list(held["ordering_provider"]) == list(order.doctor),
           f"PACS 登记的检查申请 {placer} 的开单医生（OBR-16）与医院开立的不一致", transaction=held["message_type"],
           expected=list(order.doctor), actual=held["ordering_provider"])
    expect(delivery.message_type == held["message_type"], "连接器报告的所发消息类型与 PACS 收到的不一致",
           expected=held["message_type"], actual=delivery.message_type)
    expect(held["accession_no"] and held["study_uid"], f"PACS 登记的检查申请 {placer} 缺少检查号或 Study Instance UID",
           expected="检查号和 Study Instance UID", actual=f"检查号 {held['accession_no']}，UID {held['study_uid']}")
    expect(held["patient"]["name"] == name, f"PACS 登记的检查申请 {placer} 的患者姓名不对", expected=name,
           actual=held["patient"]["name"])


@then(parsers.parse('PACS 登记的检查申请 "{placers}" 的检查号和 Study Instance UID 各不相同'))
def then_orders_distinct(hl7: Hl7World, placers: str) -> None:
    held = [_held_order(hl7, p) for p in nonempty(codes(placers), "场景没有列出要比较的检查申请")]
    for key, what in (("accession_no", "检查号"), ("study_uid", "Study Instance UID")):
        values = [o[key] for o in held]
        expect(len(set(values)) == len(values), f"PACS 登记的几条检查申请的{what}有重复，影像会挂到别的申请上",
               expected=f"{len(values)} 个不同的{what}", actual=dict(zip(codes(placers), values, strict=True)))


@then("连接器报告的每条检查申请的消息类型与 PACS 登记的一致")
def then_batch_types(ctx: dict[str, Any], hl7: Hl7World) -> None:
    result = result_of(ctx)
    deliveries = nonempty(result if isinstance(result, list) else [result], "连接器没有报告任何一条检查申请的确认")
    by_control = {o["control_id"]: o for o in hl7.mock.orders()}
    for delivery in deliveries:
        order = by_control.get(delivery.control_id)
        if order is None:
            raise SpecFailure(f"连接器报告的确认 {delivery.control_id} 不对应 PACS 登记的任何检查申请",
                              expected=sorted(by_control), actual=delivery.control_id)
        expect(delivery.message_type == order["message_type"],
               f"连接器报告检查申请 {order['placer_no']} 的消息类型与 PACS 收到的不一致",
               expected=order["message_type"], actual=delivery.message_type)


# -- the PACS sends -------------------------------------------------------------------------------------------
@given(parsers.re(r'PACS 已持有检查申请 "(?P<placer>[^"]+)"' + VERSION + "$"))
def given_held(ctx: dict[str, Any], hl7: Hl7World, placer: str, version: str | None) -> None:
    hl7.mock.hold_order(placer, patient_dict(patient(ctx)), version or "2.5.1")
    _template(ctx, hl7, placer)


def _kept(ctx: dict[str, Any], hl7: Hl7World, pushed: Any, charset: str | None) -> None:
    ctx.setdefault("pushes", []).append(pushed)
    ctx["push"] = pushed
    ctx["last_text"], ctx["last_charset"] = hl7.mock.last_sent, charset


@when(parsers.parse('PACS 发送检查申请 "{placer}" 的检查状态 "{status}"'))
def when_status(ctx: dict[str, Any], hl7: Hl7World, placer: str, status: str) -> None:
    _kept(ctx, hl7, hl7.mock.send_status(placer, status, to=hl7.listener()), None)


@given(parsers.parse('PACS 已发送检查申请 "{placer}" 的检查状态 "{status}"'))
def given_status(ctx: dict[str, Any], hl7: Hl7World, placer: str, status: str) -> None:
    pushed = hl7.mock.send_status(placer, status, to=hl7.listener())
    ctx.setdefault("pushes", []).append(pushed)
    expect(pushed.code == "AA", f"医院没有确认检查申请 {placer} 的状态", transaction="OMG^O19", expected="AA",
           actual=f"{pushed.code or '没有确认'} {pushed.problem}")


@when(parsers.re(r'PACS 发送检查申请 "(?P<placer>[^"]+)" 的 "(?P<status>[PFC])" 报告'
                 r'(?P<critical>（危急）)?(（字符集 "(?P<charset>[^"]+)"）)?(，但 "(?P<path>[^"]+)" 为空)?$'))
def when_report(ctx: dict[str, Any], hl7: Hl7World, placer: str, status: str, critical: str | None,
                charset: str | None, path: str | None) -> None:
    if path:
        push(ctx, hl7, blank(hl7.mock.report_message(placer, status, charset=charset), path), charset)
        return
    pushed = hl7.mock.send_report(placer, status, to=hl7.listener(), charset=charset, critical=bool(critical))
    _kept(ctx, hl7, pushed, charset)


@when(parsers.parse('PACS 在医院的报告库被锁住时发送检查申请 "{placer}" 的 "{status}" 报告'))
def when_report_locked(ctx: dict[str, Any], hl7: Hl7World, placer: str, status: str) -> None:
    locked_push(ctx, hl7, lambda: hl7.mock.send_report(placer, status, to=hl7.listener()))


@given(parsers.parse('PACS 已发送检查申请 "{placer}" 的 "{status}" 报告'))
def given_report(ctx: dict[str, Any], hl7: Hl7World, placer: str, status: str) -> None:
    pushed = hl7.mock.send_report(placer, status, to=hl7.listener())
    ctx.setdefault("pushes", []).append(pushed)
    expect(pushed.code == "AA", f"医院没有确认检查申请 {placer} 的报告", transaction="ORU^R01", expected="AA",
           actual=f"{pushed.code or '没有确认'} {pushed.problem}")


@when(parsers.parse('PACS 以批量方式发送检查申请 "{placers}" 的 "{status}" 报告'))
def when_report_batch(ctx: dict[str, Any], hl7: Hl7World, placers: str, status: str) -> None:
    pushed = hl7.mock.push_batch([hl7.mock.report_message(p, status) for p in codes(placers)], hl7.listener())
    ctx.setdefault("pushes", []).append(pushed)
    ctx["push"] = pushed


@then(parsers.parse('连接器保存的最后一条报告含检查所见 "{findings}" 和检查印象 "{impression}"'))
def then_report_text(hl7: Hl7World, findings: str, impression: str) -> None:
    observations = dict(hl7.last_stored("报告").observations)
    expect(findings in observations.get("59776-5", ""), "连接器保存的报告缺少检查所见", transaction="ORU^R01",
           expected=f"包含“{findings}”", actual=observations.get("59776-5", "没有检查所见"))
    expect(impression in observations.get("19005-8", ""), "连接器保存的报告缺少检查印象", transaction="ORU^R01",
           expected=f"包含“{impression}”", actual=observations.get("19005-8", "没有检查印象"))
    expect(observations.get("113014"), "连接器保存的报告缺少 Study Instance UID（OBX 113014）", transaction="ORU^R01",
           expected="Study Instance UID", actual="没有")
