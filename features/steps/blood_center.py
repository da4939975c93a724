"""Step definitions for the blood-centre specs: the hospital acts through the connector (the port), the centre's
staff through the mock (accept, issue, decide returns, recall); Then steps check answers, journal and centre state.

Failed checks say in the blood bank's words what was expected and what happened (`SpecFailure`); sentences other
interfaces share are in `features.steps.common`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from lxml import etree
from pytest_bdd import given, parsers, then, when

from features.steps import raw_http
from features.steps.common import *  # noqa: F403 - the shared sentences are registered through this import
from features.steps.common import no_reply_hold_s
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
    table_rows,
)
from harness.contract.isbt128 import din_problem
from harness.failure import SpecFailure
from harness.ports.blood_center import (
    BloodCenterError,
    BloodOrder,
    FeeReconciliation,
    IssueNote,
    NotReceived,
    OrderItem,
    Receipt,
    Refused,
    ScannedBag,
)

PHASES = {"处理前": "before", "处理后": "after"}
NONE = "无"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


# -- helpers ------------------------------------------------------------------------------------------------------
def _attempt(ctx: dict[str, Any], action: Callable[[], Any]) -> Any:
    return attempt(ctx, action, BloodCenterError)


def _journal(mock: Any, operation: str | None = None) -> list[Any]:
    """SOAP exchanges in arrival order (reading the WSDL is not one)."""
    entries = [e for e in mock.journal.entries(operation) if e.operation]
    return sorted(entries, key=lambda e: (e.started, e.id))


def _received(mock: Any) -> list[str]:
    return [e.operation for e in _journal(mock)]


def _last(mock: Any, operation: str) -> Any:
    entries = _journal(mock, operation)
    expect(entries, f"血液中心没有收到 {operation}", transaction=operation, expected=f"至少一笔 {operation}",
           actual=f"血液中心收到 {_received(mock)}")
    return entries[-1]


def _key(mock: Any, order_no: str) -> str:
    return f"{mock.hospital}/{order_no}"


def _centre(ctx: dict[str, Any], action: Callable[[], Any]) -> Any:
    """A centre-side action; its refusal is kept for a Then step."""
    from mocks.blood_center import CentreError

    ctx["centre_error"] = None
    try:
        return action()
    except CentreError as refused:
        ctx["centre_error"] = refused
        return None


def _note(ctx: dict[str, Any]) -> IssueNote:
    notes: list[IssueNote] = ctx.get("notes") or []
    expect(notes, "没有下载到发血单", transaction="DownloadIssuedUnits", expected="至少一张发血单",
           actual=describe(ctx.get("error")) if ctx.get("error") else "没有发血单")
    return notes[0]


def _units(ctx: dict[str, Any]) -> tuple[Any, ...]:
    """The bags of the issue note, which must hold some: a check over each bag proves nothing over none."""
    return nonempty(_note(ctx).units, "发血单上没有血袋", transaction="DownloadIssuedUnits")


def _bag(ctx: dict[str, Any], n: int) -> str:
    units = _note(ctx).units
    expect(1 <= n <= len(units), f"发血单上没有第 {n} 袋", expected=f"第 {n} 袋", actual=f"共 {len(units)} 袋")
    return units[n - 1].din


def _order_of(ctx: dict[str, Any], number: str) -> BloodOrder:
    orders = ctx.get("orders", {})
    expect(number in orders, f"场景没有提交预约单 {number}", expected=number, actual=sorted(orders))
    order: BloodOrder = orders[number]
    return order


def _line(order: BloodOrder | Any, line: int) -> Any:
    items = [i for i in order.items if i.line_no == line]
    expect(items, f"预约单没有第 {line} 行", expected=f"第 {line} 行", actual=[i.line_no for i in order.items])
    return items[0]


def _scan(ctx: dict[str, Any], change: Callable[[int, ScannedBag], ScannedBag | None] | None = None) -> list[ScannedBag]:
    bags = []
    for index, unit in enumerate(_note(ctx).units, 1):
        bag: ScannedBag | None = ScannedBag(unit.din, unit.abo, unit.rhd)
        if change is not None and bag is not None:
            bag = change(index, bag)
        if bag is not None:
            bags.append(bag)
    return bags


def _naive(moment: datetime) -> datetime:
    """A time as the centre writes it (local, no zone)."""
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment


def _mistyped(din: str) -> str:
    """The same DIN with a wrong check flag (a misread or mistyped last digit)."""
    flag = int(din[-2:])
    return din[:-2] + f"{60 + (flag - 60 + 1) % 37:02d}"


def _order(ctx: dict[str, Any], number: str, rows: list[dict[str, str]], urgency: str = "ROUTINE") -> BloodOrder:
    nonempty(rows, f"预约单 {number} 没有明细行")
    ctx.setdefault("first_order_day", date.today())
    items = tuple(OrderItem(int(r.get("行") or i), r["产品"], r["ABO"], r["RhD"], Decimal(r["数量"]), r["单位"])
                  for i, r in enumerate(rows, 1))
    return BloodOrder(number, urgency, datetime.now().replace(microsecond=0) + timedelta(hours=4), "心胸外科",
                      "王医生", items)


# -- orders -------------------------------------------------------------------------------------------------------
@given(parsers.re(r'医院提交了(?:(?P<urgency>常规|紧急|特急))?预约单 "(?P<number>\w+)"：'))
def given_order(ctx: dict[str, Any], blood_center: Any, number: str, urgency: str | None, datatable: list[list[str]]) -> None:
    level = {"常规": "ROUTINE", "紧急": "URGENT", "特急": "EMERGENCY"}[urgency or "常规"]
    order = _order(ctx, number, table_rows(datatable), level)
    ctx.setdefault("orders", {})[number] = order
    ctx.setdefault("acks", []).append(blood_center.submit_order(order))


@when(parsers.re(r'提交(?:(?P<urgency>常规|紧急|特急))?预约单 "(?P<number>\w+)"：'))
def when_order(ctx: dict[str, Any], blood_center: Any, number: str, urgency: str | None, datatable: list[list[str]]) -> None:
    level = {"常规": "ROUTINE", "紧急": "URGENT", "特急": "EMERGENCY"}[urgency or "常规"]
    order = _order(ctx, number, table_rows(datatable), level)
    ctx.setdefault("orders", {})[number] = order
    ctx.setdefault("acks", []).append(_attempt(ctx, lambda: blood_center.submit_order(order)))


@when(parsers.parse('再次提交预约单 "{number}"'))
def when_resubmit(ctx: dict[str, Any], blood_center: Any, number: str) -> None:
    order = _order_of(ctx, number)
    ctx.setdefault("acks", []).append(_attempt(ctx, lambda: blood_center.submit_order(order)))


@when(parsers.parse('用相同单号提交内容不同的预约单 "{number}"，第 {line:d} 行数量改为 "{quantity}"'))
def when_resubmit_changed(ctx: dict[str, Any], blood_center: Any, number: str, line: int, quantity: str) -> None:
    order = _order_of(ctx, number)
    items = tuple(OrderItem(i.line_no, i.product_code, i.abo, i.rhd, Decimal(quantity) if i.line_no == line else i.quantity, i.unit)
                  for i in order.items)
    changed = BloodOrder(order.order_no, order.urgency, order.wanted_at, order.department, order.ordered_by, items)
    _attempt(ctx, lambda: blood_center.submit_order(changed))


@given(parsers.parse('血液中心确认了预约单 "{number}"'))
@when(parsers.parse('血液中心确认预约单 "{number}"'))
def centre_accepts(ctx: dict[str, Any], blood_center_mock: Any, number: str) -> None:
    blood_center_mock.centre.accept(_key(blood_center_mock, number))


@when(parsers.parse('血液中心部分确认预约单 "{number}"，第 {line:d} 行确认 "{quantity}"，原因 "{reason}"'))
def centre_partial(ctx: dict[str, Any], blood_center_mock: Any, number: str, line: int, quantity: str, reason: str) -> None:
    blood_center_mock.centre.accept_partially(_key(blood_center_mock, number), {line: Decimal(quantity)}, reason)


@when(parsers.parse('血液中心拒绝预约单 "{number}"，原因 "{reason}"'))
def centre_rejects(ctx: dict[str, Any], blood_center_mock: Any, number: str, reason: str) -> None:
    blood_center_mock.centre.reject(_key(blood_center_mock, number), reason)


@given(parsers.parse('血液中心为预约单 "{number}" 发了血'))
@when(parsers.parse('血液中心为预约单 "{number}" 发血'))
def centre_issues(ctx: dict[str, Any], blood_center_mock: Any, number: str) -> None:
    ctx["issued"] = _centre(ctx, lambda: blood_center_mock.centre.issue(_key(blood_center_mock, number)))


@when(parsers.parse('血液中心指定发出过期的 "{product}" "{abo}" "{rhd}" 血袋给预约单 "{number}"'))
def centre_issues_expired(ctx: dict[str, Any], blood_center_mock: Any, product: str, abo: str, rhd: str, number: str) -> None:
    centre = blood_center_mock.centre
    expired = [b for b in centre.bags(productCode=product, abo=abo, rhd=rhd) if centre.expired(b)]
    nonempty(expired, f"血液中心库存中没有过期的 {product} {abo} {rhd} 血袋")
    ctx["expired_din"] = expired[0]["din"]
    ctx["issued"] = _centre(ctx, lambda: centre.issue(_key(blood_center_mock, number), [expired[0]["din"]]))


@then(parsers.parse('血液中心不能发血，原因包含 "{text}"'))
def centre_cannot_issue(ctx: dict[str, Any], blood_center_mock: Any, text: str) -> None:
    expect(ctx.get("centre_error") is not None, "血液中心不应发血，却发出了", expected=f"拒绝发血：{text}",
           actual=ctx.get("issued"))
    refused = ctx["centre_error"]
    expect(text in refused.message, "血液中心不能发血的原因不对", expected=f"包含“{text}”", actual=refused.message)


@then("过期血袋仍在血液中心库存中，没有发出")
def expired_not_issued(ctx: dict[str, Any], blood_center_mock: Any) -> None:
    bag = blood_center_mock.centre.store.get("inventory", ctx["expired_din"])
    expect(bag["status"] == "AVAILABLE" and "issueNo" not in bag, "过期血袋被发出了", expected="在库（AVAILABLE），未发出",
           actual=f"状态 {bag['status']}，发血单 {bag.get('issueNo')}")


@given(parsers.parse('预约单 "{number}" 已发血，医院下载了发血单'))
def given_issued_and_downloaded(ctx: dict[str, Any], blood_center: Any, blood_center_mock: Any, number: str) -> None:
    blood_center_mock.centre.accept(_key(blood_center_mock, number))
    blood_center_mock.centre.issue(_key(blood_center_mock, number))
    ctx["notes"] = blood_center.issue_notes(number)
    nonempty(ctx["notes"], f"预约单 {number} 已发血，医院却没有下载到发血单", transaction="DownloadIssuedUnits")


@given(parsers.parse('预约单 "{number}" 已发血，第 {n:d} 袋在医院扫描前已过期，医院下载了发血单'))
def given_issued_one_expired(ctx: dict[str, Any], blood_center: Any, blood_center_mock: Any, number: str, n: int) -> None:
    """The bag was issued near the end of its shelf life and expired before the hospital scanned it in."""
    centre = blood_center_mock.centre
    _issue_with_bag(blood_center_mock, number, n, expiresAt=(centre.now() - timedelta(minutes=5)).isoformat())
    ctx["notes"] = blood_center.issue_notes(number)
    nonempty(ctx["notes"], f"预约单 {number} 已发血，医院却没有下载到发血单", transaction="DownloadIssuedUnits")


@given(parsers.parse('预约单 "{number}" 已发血，血液中心记录的第 {n:d} 袋血型为代码表之外的 "{abo}"'))
def given_issued_bad_group(blood_center_mock: Any, number: str, n: int, abo: str) -> None:
    """A record the centre keeps wrongly: its issue note then breaks the contract (ABO outside the code table)."""
    _issue_with_bag(blood_center_mock, number, n, abo=abo)


def _issue_with_bag(blood_center_mock: Any, number: str, n: int, **changes: str) -> None:
    """Accept and issue an order, then change what the centre records of the n-th bag issued."""
    centre = blood_center_mock.centre
    centre.accept(_key(blood_center_mock, number))
    issue = centre.issue(_key(blood_center_mock, number))
    expect(1 <= n <= len(issue["dins"]), f"发血单上没有第 {n} 袋", expected=f"第 {n} 袋", actual=f"共 {len(issue['dins'])} 袋")
    din = issue["dins"][n - 1]
    with centre.store.transaction():
        bag = centre.store.get("inventory", din)
        bag.update(changes)
        centre.store.put("inventory", din, bag)


@when(parsers.parse('查询预约单 "{number}" 的反馈'))
def when_feedback(ctx: dict[str, Any], blood_center: Any, number: str) -> None:
    ctx["feedback"] = _attempt(ctx, lambda: blood_center.order_feedback(number))


@then(parsers.parse('预约反馈状态为 "{status}"'))
def then_feedback_status(ctx: dict[str, Any], status: str) -> None:
    feedback = success(ctx)
    expect(feedback.status == status, "预约反馈的状态不对", transaction="QueryOrderFeedback", expected=status,
           actual=feedback.status)


@then(parsers.re(r'预约反馈第 (?P<line>\d+) 行确认 "(?P<quantity>[^"]+)"'))
def then_feedback_line(ctx: dict[str, Any], line: str, quantity: str) -> None:
    item = _line(held(ctx, "feedback", "预约反馈"), int(line))
    expect(item.confirmed == Decimal(quantity), f"预约反馈第 {line} 行的确认数量不对", transaction="QueryOrderFeedback",
           expected=quantity, actual=item.confirmed)


@then(parsers.parse('预约反馈第 {line:d} 行确认 "{quantity}"，原因为 "{reason}"'))
def then_feedback_line_reason(ctx: dict[str, Any], line: int, quantity: str, reason: str) -> None:
    item = _line(held(ctx, "feedback", "预约反馈"), line)
    expect((item.confirmed, item.reason) == (Decimal(quantity), reason), f"预约反馈第 {line} 行的确认数量或原因不对",
           transaction="QueryOrderFeedback", expected=f"{quantity}，{reason}", actual=f"{item.confirmed}，{item.reason}")


@then(parsers.parse('预约反馈的原因为 "{reason}"'))
def then_feedback_reason(ctx: dict[str, Any], reason: str) -> None:
    feedback = held(ctx, "feedback", "预约反馈")
    expect(feedback.reason == reason, "预约反馈的原因不对", transaction="QueryOrderFeedback", expected=reason,
           actual=feedback.reason)


@then("预约单已被血液中心接收")
def then_received(ctx: dict[str, Any]) -> None:
    ack = success(ctx)
    expect(ack.status == "RECEIVED" and ack.received_at is not None, "预约单没有被血液中心接收",
           transaction="SubmitBloodOrder", expected="RECEIVED，带接收时间", actual=f"{ack.status}，{ack.received_at}")


@then("两次提交得到相同的应答")
def then_same_answers(ctx: dict[str, Any]) -> None:
    success(ctx)
    acks = ctx.get("acks", [])
    expect(len(acks) >= 2, "没有两次提交的应答可供比较", expected="两次应答", actual=f"{len(acks)} 次")
    first, second = acks[-2:]
    expect(first == second, "重复提交同一预约单得到了不同的应答", transaction="SubmitBloodOrder", expected=first,
           actual=second)


@then(parsers.parse('血液中心上预约单 "{number}" 的状态为 "{status}"'))
def then_centre_order_status(blood_center_mock: Any, number: str, status: str) -> None:
    order = blood_center_mock.centre.store.get("orders", _key(blood_center_mock, number))
    expect(order is not None, f"血液中心没有预约单 {number}", expected=status, actual="没有这张预约单")
    expect(order["status"] == status, f"血液中心上预约单 {number} 的状态不对", expected=status, actual=order["status"])


@then(parsers.parse("血液中心共有 {count:d} 张预约单"))
def then_order_count(blood_center_mock: Any, count: int) -> None:
    got = blood_center_mock.centre.store.count("orders")
    expect(got == count, "血液中心的预约单张数不对", expected=count, actual=got)


@when(parsers.parse('取消预约单 "{number}"，原因 "{reason}"'))
def when_cancel(ctx: dict[str, Any], blood_center: Any, number: str, reason: str) -> None:
    _attempt(ctx, lambda: blood_center.cancel_order(number, reason))


@then(parsers.parse('取消后的状态为 "{status}"'))
def then_cancelled(ctx: dict[str, Any], status: str) -> None:
    got = success(ctx)
    expect(got == status, "取消后的状态不对", transaction="CancelBloodOrder", expected=status, actual=got)


# -- issue notes and receipt ----------------------------------------------------------------------------------------
@when(parsers.parse('下载预约单 "{number}" 的发血单'))
def when_download(ctx: dict[str, Any], blood_center: Any, number: str) -> None:
    ctx["notes"] = _attempt(ctx, lambda: blood_center.issue_notes(number))


@then(parsers.parse("发血单共有 {count:d} 张"))
def then_note_count(ctx: dict[str, Any], count: int) -> None:
    notes = success(ctx)
    count_of(notes, count, "发血单张数不对", transaction="DownloadIssuedUnits")


@then(parsers.parse("发血单上共有 {count:d} 袋血"))
def then_bag_count(ctx: dict[str, Any], count: int) -> None:
    count_of(_note(ctx).units, count, "发血单上的血袋数不对", transaction="DownloadIssuedUnits")


@then(parsers.parse('发出的血袋都与预约单 "{number}" 的产品和血型相符，献血码有效且未过期'))
def then_bags_match(ctx: dict[str, Any], number: str) -> None:
    order = _order_of(ctx, number)
    wanted = {(i.product_code, i.abo, i.rhd) for i in order.items}
    now = datetime.now()
    for unit in _units(ctx):
        expect((unit.product_code, unit.abo, unit.rhd) in wanted, f"血袋 {unit.din} 的产品或血型与预约单不符",
               transaction="DownloadIssuedUnits", expected=sorted(wanted), actual=(unit.product_code, unit.abo, unit.rhd))
        expect(din_problem(unit.din) is None, "血袋的献血码无效", transaction="DownloadIssuedUnits",
               expected="校验位正确的 ISBT 128 献血码", actual=f"{unit.din}：{din_problem(unit.din)}")
        expect(unit.expires_at > now, f"发出的血袋 {unit.din} 已过期", transaction="DownloadIssuedUnits",
               expected=f"晚于 {now:%Y-%m-%d %H:%M}", actual=unit.expires_at)
        expect(unit.price > 0 and unit.volume > 0, f"血袋 {unit.din} 的价格或容量不对", transaction="DownloadIssuedUnits",
               expected="大于 0", actual=f"价格 {unit.price}，容量 {unit.volume}")


@then(parsers.parse('发出的第 {line:d} 行血液共 "{quantity}" {unit}'))
def then_issued_quantity(ctx: dict[str, Any], blood_center_mock: Any, line: int, quantity: str, unit: str) -> None:
    orders = nonempty(list(ctx.get("orders", {}).values()), "场景没有提交预约单")
    item = _line(orders[0], line)
    total = Decimal(0)
    for bag in _units(ctx):
        if (bag.product_code, bag.abo, bag.rhd) == (item.product_code, item.abo, item.rhd):
            kept = blood_center_mock.centre.store.get("inventory", bag.din)
            total += Decimal(bag.volume) if unit == "mL" else Decimal(kept["units"])
    expect(total == Decimal(quantity), f"第 {line} 行发出的血液数量不对", transaction="DownloadIssuedUnits",
           expected=f"{quantity} {unit}", actual=f"{total} {unit}")


def _centre_record(mock: Any, din: str, transaction: str) -> dict[str, Any]:
    """The centre's record of a bag (its inventory), which must exist."""
    bag = mock.centre.store.get("inventory", din)
    expect(bag is not None, "医院持有的血袋血液中心没有记录", transaction=transaction, expected="血液中心登记的献血码",
           actual=din)
    return dict(bag)


def _safety_fields(bag: dict[str, Any]) -> dict[str, Any]:
    """The safety fields of the centre's record of a bag, by their business names."""
    return {"产品": bag["productCode"], "ABO 血型": bag["abo"], "RhD 血型": bag["rhd"], "容量": bag["volume"],
            "采血日期": date.fromisoformat(bag["collectedOn"]), "失效时间": datetime.fromisoformat(bag["expiresAt"])}


def _compare(din: str, hospital: dict[str, Any], centre: dict[str, Any], where: str, transaction: str) -> None:
    for label, wanted in centre.items():
        expect(hospital[label] == wanted, f"{where}血袋 {din} 的{label}与血液中心记录不一致", transaction=transaction,
               expected=wanted, actual=hospital[label])


@then("发血单的血袋与血液中心记录一致")
def then_note_matches_centre(ctx: dict[str, Any], blood_center_mock: Any) -> None:
    """Every safety field of every bag, as the hospital holds it, against the centre's record of the bag."""
    note = _note(ctx)
    for unit in _units(ctx):
        bag = _centre_record(blood_center_mock, unit.din, "DownloadIssuedUnits")
        expect(bag["status"] == "ISSUED" and bag["issueNo"] == note.issue_no, f"血袋 {unit.din} 不是这张发血单发出的",
               transaction="DownloadIssuedUnits", expected=f"已发出，发血单 {note.issue_no}",
               actual=f"{bag['status']}，发血单 {bag.get('issueNo')}")
        hospital = {"产品": unit.product_code, "ABO 血型": unit.abo, "RhD 血型": unit.rhd, "容量": unit.volume,
                    "价格": unit.price, "采血日期": unit.collected_on, "失效时间": _naive(unit.expires_at)}
        _compare(unit.din, hospital, {**_safety_fields(bag), "价格": Decimal(bag["price"])}, "医院收到的",
                 "DownloadIssuedUnits")


@then("医院库存中每袋入库血的安全信息与血液中心发出的一致")
def then_stock_matches_centre(ctx: dict[str, Any], blood_center: Any, blood_center_mock: Any) -> None:
    """What the blood bank stored at receipt (read back through the port) against what the centre issued, for every
    bag of the note the centre recorded as received: product, ABO/Rh, volume, collection date and expiry."""
    note = _note(ctx)
    received = nonempty([u.din for u in note.units if blood_center_mock.centre.store.get("received", u.din) is not None],
                        "血液中心没有记录发血单上的任何血袋入库，无从比较医院库存", transaction="ConfirmReceipt")
    for din in received:
        try:
            stored = blood_center.stored_bag(din)
        except BloodCenterError as exc:
            raise SpecFailure(f"医院库存中查不到已入库的血袋 {din}", expected="入库时保存的血袋信息",
                              actual=describe(exc)) from exc
        expect(stored.issue_no == note.issue_no, f"医院库存中血袋 {din} 的发血单号与血液中心不一致",
               transaction="ConfirmReceipt", expected=note.issue_no, actual=stored.issue_no)
        hospital = {"产品": stored.product_code, "ABO 血型": stored.abo, "RhD 血型": stored.rhd, "容量": stored.volume,
                    "采血日期": stored.collected_on, "失效时间": stored.expires_at}
        _compare(din, hospital, _safety_fields(_centre_record(blood_center_mock, din, "ConfirmReceipt")), "医院库存中",
                 "ConfirmReceipt")


@then(parsers.parse("医院库存中没有第 {n:d} 袋"))
def then_not_in_stock(blood_center: Any, ctx: dict[str, Any], n: int) -> None:
    din = _bag(ctx, n)
    try:
        stored = blood_center.stored_bag(din)
    except NotReceived:
        return
    raise SpecFailure(f"拒收的第 {n} 袋不应进入医院库存，医院却保存了它", expected=f"{din} 不在库存中（NotReceived）",
                      actual=f"库存中有 {din}，失效时间 {stored.expires_at}")


@when("扫描发血单上的全部血袋入库")
@given("医院已扫描全部血袋入库")
def when_receive_all(ctx: dict[str, Any], blood_center: Any) -> None:
    _attempt(ctx, lambda: blood_center.receive(_note(ctx), _scan(ctx)))


@when(parsers.parse("扫描发血单入库，漏扫第 {n:d} 袋"))
@given(parsers.parse("医院扫描发血单入库，漏扫第 {n:d} 袋"))
def when_receive_missing(ctx: dict[str, Any], blood_center: Any, n: int) -> None:
    bags = _scan(ctx, lambda i, bag: None if i == n else bag)
    _attempt(ctx, lambda: blood_center.receive(_note(ctx), bags))


@when(parsers.parse('扫描发血单入库，第 {n:d} 袋的血型标签读作 "{abo}" "{rhd}"'))
def when_receive_wrong_group(ctx: dict[str, Any], blood_center: Any, n: int, abo: str, rhd: str) -> None:
    bags = _scan(ctx, lambda i, bag: ScannedBag(bag.din, abo, rhd) if i == n else bag)
    _attempt(ctx, lambda: blood_center.receive(_note(ctx), bags))


@when(parsers.parse("扫描发血单入库，第 {n:d} 袋破损"))
def when_receive_damaged(ctx: dict[str, Any], blood_center: Any, n: int) -> None:
    bags = _scan(ctx, lambda i, bag: ScannedBag(bag.din, bag.abo, bag.rhd, damaged=True) if i == n else bag)
    _attempt(ctx, lambda: blood_center.receive(_note(ctx), bags))


@when(parsers.parse("扫描发血单入库，第 {n:d} 袋的献血码读成了校验位错误的号码"))
def when_receive_misread(ctx: dict[str, Any], blood_center: Any, n: int) -> None:
    ctx["misread"] = _mistyped(_bag(ctx, n))
    bags = _scan(ctx, lambda i, bag: ScannedBag(ctx["misread"], bag.abo, bag.rhd) if i == n else bag)
    _attempt(ctx, lambda: blood_center.receive(_note(ctx), bags))


@when("再次扫描同一张发血单的全部血袋入库")
def when_receive_again(ctx: dict[str, Any], blood_center: Any) -> None:
    _attempt(ctx, lambda: blood_center.receive(_note(ctx), _scan(ctx)))


@then(parsers.parse("入库确认成功，血液中心接收了 {count:d} 袋"))
def then_receipt(ctx: dict[str, Any], count: int) -> None:
    receipt: Receipt = success(ctx)
    expect(receipt.accepted == count, "血液中心接收的血袋数不对", transaction="ConfirmReceipt", expected=f"{count} 袋",
           actual=f"{receipt.accepted} 袋")
    expect(receipt.receipt_no, "入库确认没有入库单号", transaction="ConfirmReceipt", expected="入库单号", actual=receipt)


@then(parsers.parse('入库差异为 "{expected}"'))
def then_discrepancies(ctx: dict[str, Any], expected: str) -> None:
    receipt: Receipt = success(ctx)
    shown = {(d.kind, d.din) for d in receipt.discrepancies}
    wanted = set()
    if expected != NONE:
        for part in expected.split(","):
            kind, _, n = part.strip().partition(":")
            din = held(ctx, "misread", "读错的献血码") if kind == "INVALID_DIN" else _bag(ctx, int(n))
            wanted.add((kind, din))
    expect(shown == wanted, "入库差异与扫描的情况不符", transaction="ConfirmReceipt", expected=sorted(wanted),
           actual=sorted(shown))


@then(parsers.parse('入库差异第 {n:d} 袋的说明包含 "{text}"'))
def then_discrepancy_note(ctx: dict[str, Any], n: int, text: str) -> None:
    receipt: Receipt = success(ctx)
    din = _bag(ctx, n)
    notes = [d.note or "" for d in receipt.discrepancies if d.din == din]
    nonempty(notes, f"入库差异中没有第 {n} 袋", transaction="ConfirmReceipt")
    expect(any(text in note for note in notes), f"第 {n} 袋的入库差异没有说明原因", transaction="ConfirmReceipt",
           expected=f"包含“{text}”", actual=notes)


@then(parsers.parse("血液中心记录第 {n:d} 袋已入库"))
def then_bag_received(ctx: dict[str, Any], blood_center_mock: Any, n: int) -> None:
    din = _bag(ctx, n)
    expect(blood_center_mock.centre.store.get("received", din) is not None, f"血液中心没有第 {n} 袋的入库记录",
           transaction="ConfirmReceipt", expected=f"{din} 已入库", actual="没有入库记录")


@then(parsers.parse("血液中心没有记录第 {n:d} 袋入库"))
def then_bag_not_received(ctx: dict[str, Any], blood_center_mock: Any, n: int) -> None:
    din = _bag(ctx, n)
    expect(blood_center_mock.centre.store.get("received", din) is None, f"第 {n} 袋不应确认入库，血液中心却记录它已入库",
           transaction="ConfirmReceipt", expected=f"{din} 未入库", actual="已入库")


@then("血液中心记录发血单上的全部血袋已入库")
def then_all_received(ctx: dict[str, Any], blood_center_mock: Any) -> None:
    for unit in _units(ctx):
        expect(blood_center_mock.centre.store.get("received", unit.din) is not None, "血液中心缺少血袋的入库记录",
               transaction="ConfirmReceipt", expected=f"{unit.din} 已入库", actual="没有入库记录")


@then("入库确认请求中没有校验位错误的献血码")
def then_no_bad_din_sent(ctx: dict[str, Any], blood_center_mock: Any) -> None:
    body = _last(blood_center_mock, "ConfirmReceipt").request["body"]
    bad = [u["din"] for u in body.get("unit") or [] if din_problem(u["din"]) is not None]
    expect(not bad, "校验位错误的献血码被当作入库血袋发给了血液中心", transaction="ConfirmReceipt",
           expected="只确认献血码有效的血袋", actual=bad)


@then(parsers.parse("入库确认请求中没有第 {n:d} 袋"))
def then_bag_not_confirmed(ctx: dict[str, Any], blood_center_mock: Any, n: int) -> None:
    din = _bag(ctx, n)
    body = _last(blood_center_mock, "ConfirmReceipt").request["body"]
    sent = [u["din"] for u in body.get("unit") or []]
    expect(din not in sent, f"第 {n} 袋不应确认入库，却发给了血液中心", transaction="ConfirmReceipt",
           expected=f"确认的血袋中没有 {din}", actual=sent)


# -- returns ------------------------------------------------------------------------------------------------------
@when(parsers.re(r'申请退回第 (?P<n>\d+) 袋，退血单号 "(?P<number>[^"]+)"，原因 "(?P<reason>[^"]+)"'))
@given(parsers.re(r'医院申请退回第 (?P<n>\d+) 袋，退血单号 "(?P<number>[^"]+)"，原因 "(?P<reason>[^"]+)"'))
def when_return(ctx: dict[str, Any], blood_center: Any, n: str, number: str, reason: str) -> None:
    din = _bag(ctx, int(n))
    ctx["return_ack"] = _attempt(ctx, lambda: blood_center.submit_return(number, [din], reason))


@when(parsers.parse('申请退回第 {n:d} 袋，退血单号 "{number}"，原因 "{reason}"，备注 "{remark}"'))
def when_return_remark(ctx: dict[str, Any], blood_center: Any, n: int, number: str, reason: str, remark: str) -> None:
    din = _bag(ctx, n)
    ctx["return_ack"] = _attempt(ctx, lambda: blood_center.submit_return(number, [din], reason, remark))


@then(parsers.parse('血液中心收到的退血单 "{number}" 的备注为 "{remark}"'))
def then_return_remark(blood_center_mock: Any, number: str, remark: str) -> None:
    record = blood_center_mock.centre.store.get("returns", _key(blood_center_mock, number))
    expect(record is not None, f"血液中心没有退血单 {number}", transaction="SubmitReturn", expected=number,
           actual="没有这张退血单")
    expect(record["remark"] == remark, "退血单的备注没有送到血液中心", transaction="SubmitReturn", expected=remark,
           actual=record["remark"])


@then(parsers.parse('退血申请已提交，状态为 "{status}"'))
def then_return_ack(ctx: dict[str, Any], status: str) -> None:
    ack = success(ctx)
    expect(ack.status == status, "退血申请的状态不对", transaction="SubmitReturn", expected=status, actual=ack.status)


@given(parsers.parse('血液中心同意了退血单 "{number}"'))
@when(parsers.parse('血液中心同意退血单 "{number}"'))
def centre_approves(blood_center_mock: Any, number: str) -> None:
    blood_center_mock.centre.decide_return(_key(blood_center_mock, number), True)


@when(parsers.parse('血液中心拒绝退血单 "{number}"，原因 "{reason}"'))
def centre_rejects_return(blood_center_mock: Any, number: str, reason: str) -> None:
    blood_center_mock.centre.decide_return(_key(blood_center_mock, number), False, reason)


@when(parsers.parse('查询退血单 "{number}" 的审核结果'))
def when_return_status(ctx: dict[str, Any], blood_center: Any, number: str) -> None:
    _attempt(ctx, lambda: blood_center.return_status(number))


@then(parsers.parse('退血审核状态为 "{status}"'))
def then_return_status(ctx: dict[str, Any], status: str) -> None:
    result = success(ctx)
    expect(result.status == status, "退血审核状态不对", transaction="QueryReturnStatus", expected=status,
           actual=result.status)
    if status != "PENDING":
        expect(result.decided_at is not None, "已审核的退血单没有审核时间", transaction="QueryReturnStatus",
               expected="审核时间", actual="无")


@then(parsers.parse('退血审核原因为 "{reason}"'))
def then_return_reason(ctx: dict[str, Any], reason: str) -> None:
    result = success(ctx)
    expect(result.reason == reason, "退血审核原因不对", transaction="QueryReturnStatus", expected=reason,
           actual=result.reason)


# -- recalls, notices, fees, cross-match ------------------------------------------------------------------------------
@when(parsers.parse("血液中心召回第 {n:d} 袋"))
def centre_recalls_issued(ctx: dict[str, Any], blood_center_mock: Any, n: int) -> None:
    ctx["since"] = datetime.now().replace(microsecond=0) - timedelta(seconds=1)
    blood_center_mock.centre.recall([_bag(ctx, n)])


@given(parsers.parse('血液中心召回了一袋最先过期的 "{product}" "{abo}" "{rhd}" 库存血'))
def centre_recalls_stock(ctx: dict[str, Any], blood_center_mock: Any, product: str, abo: str, rhd: str) -> None:
    centre = blood_center_mock.centre
    usable = sorted((b for b in centre.bags(productCode=product, abo=abo, rhd=rhd, status="AVAILABLE") if not centre.expired(b)),
                    key=lambda b: (b["expiresAt"], b["din"]))
    nonempty(usable, f"血液中心没有可召回的 {product} {abo} {rhd} 库存血")
    ctx["recalled"] = usable[0]["din"]
    centre.recall([usable[0]["din"]])


@then("发出的血袋中没有被召回的血袋")
def then_recalled_not_issued(ctx: dict[str, Any]) -> None:
    dins = [u.din for u in _units(ctx)]
    expect(ctx["recalled"] not in dins, "被召回的血袋发出了", transaction="DownloadIssuedUnits",
           expected=f"发出的血袋中没有 {ctx['recalled']}", actual=dins)


@when("查询需要隔离的召回血袋")
def when_recalled(ctx: dict[str, Any], blood_center: Any) -> None:
    _attempt(ctx, lambda: blood_center.recalled_in_stock(ctx.get("since") or datetime.now() - timedelta(days=1)))


@then(parsers.parse("需要隔离的血袋为第 {n:d} 袋"))
def then_quarantine(ctx: dict[str, Any], n: int) -> None:
    same_items(success(ctx), [_bag(ctx, n)], "需要隔离的召回血袋不对", transaction="QueryNotices")


@then("没有需要隔离的召回血袋")
def then_nothing_to_quarantine(ctx: dict[str, Any]) -> None:
    same_items(success(ctx), [], "已退回的血袋不在库中，却被列为需要隔离", transaction="QueryNotices")


@when(parsers.parse("查询近 {days:d} 天的血站通知"))
def when_notices(ctx: dict[str, Any], blood_center: Any, days: int) -> None:
    _attempt(ctx, lambda: blood_center.notices(datetime.now().replace(microsecond=0) - timedelta(days=days)))


@when(parsers.parse('血液中心发布 "{kind}" 通知 "{title}"'))
def centre_posts(blood_center_mock: Any, kind: str, title: str) -> None:
    blood_center_mock.centre.post_notice(kind, title, f"{title}：详见血站网站。")


@then(parsers.parse('通知依次为 "{kinds}"'))
def then_notice_kinds(ctx: dict[str, Any], kinds: str) -> None:
    notices = success(ctx)
    same_items([n.kind for n in notices], [k.strip() for k in kinds.split(",")], "血站通知的种类或顺序不对",
               transaction="QueryNotices")


@then(parsers.parse('召回通知列出了第 {n:d} 袋'))
def then_recall_notice(ctx: dict[str, Any], n: int) -> None:
    recalls = nonempty([notice for notice in success(ctx) if notice.kind == "RECALL"], "没有查到召回通知",
                       transaction="QueryNotices")
    expect(_bag(ctx, n) in recalls[-1].dins, f"召回通知没有列出第 {n} 袋", transaction="QueryNotices",
           expected=_bag(ctx, n), actual=recalls[-1].dins)


@when("核对今天的出库费用")
def when_reconcile(ctx: dict[str, Any], blood_center: Any) -> None:
    # From the day the scenario's first order went in: a scenario that runs across midnight still sees its fees.
    _attempt(ctx, lambda: blood_center.reconcile_fees(ctx.get("first_order_day", date.today()), date.today()))


@when(parsers.parse('核对从 "{start}" 到 "{end}" 的出库费用'))
def when_reconcile_range(ctx: dict[str, Any], blood_center: Any, start: str, end: str) -> None:
    _attempt(ctx, lambda: blood_center.reconcile_fees(date.fromisoformat(start), date.fromisoformat(end)))


def _reconciled(result: FeeReconciliation) -> str:
    return (f"一致 {result.agreed}；收费未入库 {list(result.charged_not_received)}；"
            f"入库未收费 {list(result.received_not_charged)}；合计 {result.total}")


@then("费用核对一致，发血单上的每袋血各收费一次，合计等于发血单价格之和")
def then_fees_agree(ctx: dict[str, Any]) -> None:
    result: FeeReconciliation = success(ctx)
    units = _units(ctx)
    expect(result.agreed, "血液中心的账单与医院入库不一致", transaction="QueryUnitFees", expected="核对一致",
           actual=_reconciled(result))
    same_items(sorted(f.din for f in result.fees), sorted(u.din for u in units), "账单中的血袋与发血单上的不一致",
               transaction="QueryUnitFees")
    wanted = sum((u.price for u in units), Decimal(0))
    expect(result.total == wanted, "账单合计不等于发血单价格之和", transaction="QueryUnitFees", expected=wanted,
           actual=result.total)


@then(parsers.re(r"费用核对(?P<agreed>一致|不一致)，收费未入库的血袋为(?P<charged>[^，]+)，入库未收费的血袋为(?P<kept>.+)"))
def then_fees_outcome(ctx: dict[str, Any], agreed: str, charged: str, kept: str) -> None:
    result: FeeReconciliation = success(ctx)

    def bags(text: str) -> list[str]:
        return [] if text == NONE else sorted(_bag(ctx, int(n)) for n in text.replace("第", "").replace("袋", "").split("、"))

    outcome = (agreed == "一致", bags(charged), bags(kept))
    got = (result.agreed, sorted(result.charged_not_received), sorted(result.received_not_charged))
    expect(got == outcome, "费用核对的结论与血液中心账单和医院库存不符", transaction="QueryUnitFees",
           expected=f"{agreed}；收费未入库 {outcome[1]}；入库未收费 {outcome[2]}", actual=_reconciled(result))


@then(parsers.parse("费用核对发现收费但未入库的血袋为第 {n:d} 袋"))
def then_fees_disagree(ctx: dict[str, Any], n: int) -> None:
    result: FeeReconciliation = success(ctx)
    expect(not result.agreed and result.charged_not_received == (_bag(ctx, n),), f"费用核对没有发现第 {n} 袋收费但未入库",
           transaction="QueryUnitFees", expected=f"不一致；收费未入库 {_bag(ctx, n)}", actual=_reconciled(result))


@then(parsers.parse("费用核对不含第 {n:d} 袋，其余血袋都收费"))
def then_fees_without(ctx: dict[str, Any], n: int) -> None:
    charged = sorted(f.din for f in success(ctx).fees)
    same_items(charged, sorted(u.din for u in _units(ctx) if u.din != _bag(ctx, n)), f"账单应不含第 {n} 袋、其余都收费",
               transaction="QueryUnitFees")


@when("查询血站配型结果")
def when_crossmatch(ctx: dict[str, Any], blood_center: Any) -> None:
    _attempt(ctx, lambda: blood_center.crossmatch_results())


@when(parsers.parse('查询标本 "{sample}" 的血站配型结果'))
def when_crossmatch_of(ctx: dict[str, Any], blood_center: Any, sample: str) -> None:
    _attempt(ctx, lambda: blood_center.crossmatch_results(sample))


@then(parsers.parse('配型结果共 {count:d} 份，标本 "{sample}" 的抗体筛查为 "{screen}"，结论包含 "{text}"'))
def then_crossmatch(ctx: dict[str, Any], count: int, sample: str, screen: str, text: str) -> None:
    samples = success(ctx)
    count_of(samples, count, "配型结果份数不对", transaction="QueryCrossmatchResults")
    found = [s for s in samples if s.sample_no == sample]
    expect(found, f"配型结果中没有标本 {sample}", transaction="QueryCrossmatchResults", expected=sample,
           actual=[s.sample_no for s in samples])
    got = found[0]
    expect(got.antibody_screen == screen and text in got.conclusion and got.patient_name, f"标本 {sample} 的配型结果不对",
           transaction="QueryCrossmatchResults", expected=f"抗体筛查 {screen}，结论包含“{text}”，有患者姓名",
           actual=f"抗体筛查 {got.antibody_screen}，结论 {got.conclusion}")


# -- auth, faults, contract breaches --------------------------------------------------------------------------------
@given("血液中心更换了本院的令牌")
def centre_rotates_token(blood_center: Any, blood_center_mock: Any) -> None:
    blood_center_mock.credentials[blood_center_mock.hospital] = "a-token-the-hospital-does-not-have"


@given("血液中心注销了本院的医院编码")
def centre_drops_hospital(blood_center: Any, blood_center_mock: Any) -> None:
    blood_center_mock.credentials = {"H99999999999": "another-hospital"}


@given(parsers.re(r'血液中心对 "(?P<operation>\w+)" 注入故障 "(?P<kind>\w+)"(（(?P<phase>处理前|处理后)）)?(，连续 (?P<times>\d+) 次)?'))
def given_fault(ctx: dict[str, Any], blood_center_mock: Any, hih: Any, operation: str, kind: str, phase: str | None,
                times: str | None) -> None:
    options: dict[str, Any] = {"operation": operation, "phase": PHASES[phase or "处理后"], "times": int(times or 1)}
    if kind == "no_reply":
        options["delay_s"] = no_reply_hold_s(hih)
    if kind == "latency":
        options["delay_s"] = 0.05
    if kind == "http_status":
        options["status"] = 500
    blood_center_mock.inject(kind, **options)


@then(parsers.parse('结果代码为 "{code}"'))
def then_result_code(ctx: dict[str, Any], code: str) -> None:
    error = failure(ctx, Refused)
    expect(error.code == code, "血液中心拒绝的结果代码不对", expected=code, actual=describe(error))


@then(parsers.parse('血液中心收到 {count:d} 笔 "{operation}"'))
def then_received_count(blood_center_mock: Any, count: int, operation: str) -> None:
    count_of(_journal(blood_center_mock, operation), count, f"血液中心收到的 {operation} 笔数不对", transaction=operation,
             detail=f"血液中心收到：{_received(blood_center_mock)}")


@then(parsers.parse('血液中心没有收到 "{operation}"'))
def then_not_received(blood_center_mock: Any, operation: str) -> None:
    count_of(_journal(blood_center_mock, operation), 0, f"血液中心不应收到 {operation}，却收到了", transaction=operation)


@then(parsers.parse('血液中心对最后一笔 "{operation}" 的应答为成功'))
def then_last_ok(blood_center_mock: Any, operation: str) -> None:
    exchange = _last(blood_center_mock, operation)
    code = (exchange.response or {}).get("body", {}).get("ResultCode")
    expect(exchange.status == 200 and code == "0", f"血液中心对最后一笔 {operation} 的应答不是成功", transaction=operation,
           expected="HTTP 200，ResultCode 0", actual=f"HTTP {exchange.status}，ResultCode {code}")


@then(parsers.parse('血液中心以 "{code}" 故障拒绝了最后一笔 "{operation}"'))
def then_last_fault(blood_center_mock: Any, code: str, operation: str) -> None:
    exchange = _last(blood_center_mock, operation)
    fault = (exchange.response or {}).get("fault")
    expect(fault and fault["code"] == code, f"血液中心没有以 {code} 故障拒绝 {operation}", transaction=operation,
           expected=f"SOAP Fault {code}", actual=fault or "没有故障")


# -- requests that break the XSD (sent as written, not through the connector) ----------------------------------------
_ORDER_BODY = ("<tns:SubmitBloodOrder><tns:order><tns:orderNo>ORD9001</tns:orderNo><tns:urgency>URGENT</tns:urgency>"
               "<tns:wantedAt>2025-06-01T10:00:00</tns:wantedAt><tns:department>急诊科</tns:department>"
               "<tns:orderedBy>李医生</tns:orderedBy><tns:item><tns:lineNo>1</tns:lineNo><tns:productCode>E0001</tns:productCode>"
               "<tns:abo>A</tns:abo><tns:rhd>POS</tns:rhd><tns:quantity>2</tns:quantity><tns:unit>U</tns:unit></tns:item>"
               "</tns:order></tns:SubmitBloodOrder>")
_RECEIPT_BODY = ("<tns:ConfirmReceipt><tns:issueNo>FX25010100001</tns:issueNo><tns:receivedAt>2025-06-01T10:00:00</tns:receivedAt>"
                 "<tns:receivedBy>输血科</tns:receivedBy><tns:unit><tns:din>B32012610000180</tns:din><tns:abo>A</tns:abo>"
                 "<tns:rhd>POS</tns:rhd><tns:condition>INTACT</tns:condition></tns:unit></tns:ConfirmReceipt>")
BREACHES: dict[str, tuple[str, str, str]] = {
    "ABO 血型为 X": ("SubmitBloodOrder", "<tns:abo>A</tns:abo>", "<tns:abo>X</tns:abo>"),
    "缺少预约单号": ("SubmitBloodOrder", "<tns:orderNo>ORD9001</tns:orderNo>", ""),
    "要求送达时间不是时间": ("SubmitBloodOrder", "2025-06-01T10:00:00", "明天上午"),
    "数量为 0": ("SubmitBloodOrder", "<tns:quantity>2</tns:quantity>", "<tns:quantity>0</tns:quantity>"),
    "多出未知元素": ("SubmitBloodOrder", "<tns:unit>U</tns:unit>", "<tns:unit>U</tns:unit><tns:color>red</tns:color>"),
    "献血码少一位": ("ConfirmReceipt", "B32012610000180", "B3201261000018"),
}


@when(parsers.parse('向血液中心发送 "{breach}" 的请求'))
def when_raw_breach(ctx: dict[str, Any], blood_center_mock: Any, breach: str) -> None:
    expect(breach in BREACHES, "场景写了未知的违规请求", expected=f"{'、'.join(BREACHES)} 之一", actual=breach)
    operation, old, new = BREACHES[breach]
    body = _ORDER_BODY if operation == "SubmitBloodOrder" else _RECEIPT_BODY
    envelope = (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP11}" xmlns:tns="urn:hih:blood-center:service">'
                f"<s:Header><tns:AuthHeader><tns:HospitalCode>{blood_center_mock.hospital}</tns:HospitalCode>"
                f"<tns:Token>{blood_center_mock.token}</tns:Token></tns:AuthHeader></s:Header>"
                f"<s:Body>{body.replace(old, new)}</s:Body></s:Envelope>")
    response = raw_http.post(blood_center_mock.service_url, envelope.encode(), {
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"urn:hih:blood-center:{operation}"'}, 10.0)
    fault = etree.fromstring(response.content).find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    ctx["raw"] = (response.status_code, fault)


@then(parsers.parse('血液中心以 SOAP Fault "{code}" 拒绝，指出位置 "{location}"'))
def then_raw_fault(ctx: dict[str, Any], code: str, location: str) -> None:
    status, fault = held(ctx, "raw", "血液中心的应答")
    expect(status == 500 and fault is not None, "血液中心没有以 SOAP Fault 拒绝违规请求", expected="HTTP 500 SOAP Fault",
           actual=f"HTTP {status}")
    got = (fault.findtext("faultcode") or "").split(":")[-1]
    expect(got == code, "SOAP Fault 的代码不对", expected=code, actual=got)
    where = fault.findtext("faultstring") or ""
    expect(where.startswith(location), "SOAP Fault 没有指出出错的位置", expected=location, actual=where)


@when(parsers.parse('提交产品代码为 "{product}" 的预约单 "{number}"'))
def when_bad_product(ctx: dict[str, Any], blood_center: Any, number: str, product: str) -> None:
    order = _order(ctx, number, [{"产品": product, "ABO": "A", "RhD": "POS", "数量": "1", "单位": "U"}])
    _attempt(ctx, lambda: blood_center.submit_order(order))
