"""Step definitions for the blood-centre specs: the hospital acts through the connector (the port), the centre's
staff through the mock (accept, issue, decide returns, recall); Then steps check answers, journal and centre state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from lxml import etree
from pytest_bdd import given, parsers, then, when

from features.steps.outcome import attempt, failure, success, table_rows
from harness.contract.isbt128 import din_problem
from harness.ports.blood_center import BloodCenterError, BloodOrder, IssueNote, OrderItem, Refused, ScannedBag

PHASES = {"处理前": "before", "处理后": "after"}
NONE = "无"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


# -- helpers ------------------------------------------------------------------------------------------------------
def _attempt(ctx: dict[str, Any], action: Callable[[], Any]) -> Any:
    return attempt(ctx, action, BloodCenterError)


def _error(ctx: dict[str, Any]) -> BloodCenterError:
    return failure(ctx, BloodCenterError)


def _journal(mock: Any, operation: str | None = None) -> list[Any]:
    """SOAP exchanges in arrival order (reading the WSDL is not one)."""
    entries = [e for e in mock.journal.entries(operation) if e.operation]
    return sorted(entries, key=lambda e: (e.started, e.id))


def _last(mock: Any, operation: str) -> Any:
    entries = _journal(mock, operation)
    assert entries, f"the centre received no {operation}; it received {[e.operation for e in _journal(mock)]}"
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
    notes = ctx.get("notes")
    assert notes, "no issue note was downloaded"
    note: IssueNote = notes[0]
    return note


def _bag(ctx: dict[str, Any], n: int) -> str:
    units = _note(ctx).units
    assert 1 <= n <= len(units), f"the issue note has {len(units)} bags, not {n}"
    return units[n - 1].din


def _scan(ctx: dict[str, Any], change: Callable[[int, ScannedBag], ScannedBag | None] | None = None) -> list[ScannedBag]:
    bags = []
    for index, unit in enumerate(_note(ctx).units, 1):
        bag: ScannedBag | None = ScannedBag(unit.din, unit.abo, unit.rhd)
        if change is not None and bag is not None:
            bag = change(index, bag)
        if bag is not None:
            bags.append(bag)
    return bags


def _mistyped(din: str) -> str:
    """The same DIN with a wrong check flag (a misread or mistyped last digit)."""
    flag = int(din[-2:])
    return din[:-2] + f"{60 + (flag - 60 + 1) % 37:02d}"


def _order(ctx: dict[str, Any], number: str, rows: list[dict[str, str]], urgency: str = "ROUTINE") -> BloodOrder:
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
    order = ctx["orders"][number]
    ctx.setdefault("acks", []).append(_attempt(ctx, lambda: blood_center.submit_order(order)))


@when(parsers.parse('用相同单号提交内容不同的预约单 "{number}"，第 {line:d} 行数量改为 "{quantity}"'))
def when_resubmit_changed(ctx: dict[str, Any], blood_center: Any, number: str, line: int, quantity: str) -> None:
    order: BloodOrder = ctx["orders"][number]
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
    assert expired, f"the seeded inventory has no expired {product} {abo} {rhd} bag"
    ctx["expired_din"] = expired[0]["din"]
    ctx["issued"] = _centre(ctx, lambda: centre.issue(_key(blood_center_mock, number), [expired[0]["din"]]))


@then(parsers.parse('血液中心不能发血，原因包含 "{text}"'))
def centre_cannot_issue(ctx: dict[str, Any], blood_center_mock: Any, text: str) -> None:
    refused = ctx.get("centre_error")
    assert refused is not None, f"the centre issued {ctx.get('issued')!r}"
    assert text in refused.message, refused.message


@then("过期血袋仍在血液中心库存中，没有发出")
def expired_not_issued(ctx: dict[str, Any], blood_center_mock: Any) -> None:
    bag = blood_center_mock.centre.store.get("inventory", ctx["expired_din"])
    assert bag["status"] == "AVAILABLE" and "issueNo" not in bag, bag


@given(parsers.parse('预约单 "{number}" 已发血，医院下载了发血单'))
def given_issued_and_downloaded(ctx: dict[str, Any], blood_center: Any, blood_center_mock: Any, number: str) -> None:
    blood_center_mock.centre.accept(_key(blood_center_mock, number))
    blood_center_mock.centre.issue(_key(blood_center_mock, number))
    ctx["notes"] = blood_center.issue_notes(number)
    assert ctx["notes"], "the issued order has no issue note"


@when(parsers.parse('查询预约单 "{number}" 的反馈'))
def when_feedback(ctx: dict[str, Any], blood_center: Any, number: str) -> None:
    ctx["feedback"] = _attempt(ctx, lambda: blood_center.order_feedback(number))


@then(parsers.parse('预约反馈状态为 "{status}"'))
def then_feedback_status(ctx: dict[str, Any], status: str) -> None:
    feedback = success(ctx)
    assert feedback.status == status, feedback


@then(parsers.parse('预约反馈第 {line:d} 行确认 "{quantity}"'))
def then_feedback_line(ctx: dict[str, Any], line: int, quantity: str) -> None:
    item = next(i for i in ctx["feedback"].items if i.line_no == line)
    assert item.confirmed == Decimal(quantity), item


@then(parsers.parse('预约反馈第 {line:d} 行确认 "{quantity}"，原因为 "{reason}"'))
def then_feedback_line_reason(ctx: dict[str, Any], line: int, quantity: str, reason: str) -> None:
    item = next(i for i in ctx["feedback"].items if i.line_no == line)
    assert (item.confirmed, item.reason) == (Decimal(quantity), reason), item


@then(parsers.parse('预约反馈的原因为 "{reason}"'))
def then_feedback_reason(ctx: dict[str, Any], reason: str) -> None:
    assert ctx["feedback"].reason == reason, ctx["feedback"]


@then("预约单已被血液中心接收")
def then_received(ctx: dict[str, Any]) -> None:
    ack = success(ctx)
    assert ack.status == "RECEIVED" and ack.received_at is not None, ack


@then("两次提交得到相同的应答")
def then_same_answers(ctx: dict[str, Any]) -> None:
    success(ctx)
    first, second = ctx["acks"][-2:]
    assert first == second, (first, second)


@then(parsers.parse('血液中心上预约单 "{number}" 的状态为 "{status}"'))
def then_centre_order_status(blood_center_mock: Any, number: str, status: str) -> None:
    order = blood_center_mock.centre.store.get("orders", _key(blood_center_mock, number))
    assert order is not None, f"the centre has no order {number}"
    assert order["status"] == status, order["status"]


@then(parsers.parse("血液中心共有 {count:d} 张预约单"))
def then_order_count(blood_center_mock: Any, count: int) -> None:
    assert blood_center_mock.centre.store.count("orders") == count


@when(parsers.parse('取消预约单 "{number}"，原因 "{reason}"'))
def when_cancel(ctx: dict[str, Any], blood_center: Any, number: str, reason: str) -> None:
    _attempt(ctx, lambda: blood_center.cancel_order(number, reason))


@then(parsers.parse('取消后的状态为 "{status}"'))
def then_cancelled(ctx: dict[str, Any], status: str) -> None:
    assert success(ctx) == status


# -- issue notes and receipt ----------------------------------------------------------------------------------------
@when(parsers.parse('下载预约单 "{number}" 的发血单'))
def when_download(ctx: dict[str, Any], blood_center: Any, number: str) -> None:
    ctx["notes"] = _attempt(ctx, lambda: blood_center.issue_notes(number))


@then(parsers.parse("发血单共有 {count:d} 张"))
def then_note_count(ctx: dict[str, Any], count: int) -> None:
    notes = success(ctx)
    assert len(notes) == count, notes


@then(parsers.parse("发血单上共有 {count:d} 袋血"))
def then_bag_count(ctx: dict[str, Any], count: int) -> None:
    assert len(_note(ctx).units) == count, _note(ctx).units


@then(parsers.parse('发出的血袋都与预约单 "{number}" 的产品和血型相符，献血码有效且未过期'))
def then_bags_match(ctx: dict[str, Any], number: str) -> None:
    order: BloodOrder = ctx["orders"][number]
    wanted = {(i.product_code, i.abo, i.rhd) for i in order.items}
    now = datetime.now()
    for unit in _note(ctx).units:
        assert (unit.product_code, unit.abo, unit.rhd) in wanted, unit
        assert din_problem(unit.din) is None, unit.din
        assert unit.expires_at > now, unit
        assert unit.price > 0 and unit.volume > 0, unit


@then(parsers.parse('发出的第 {line:d} 行血液共 "{quantity}" {unit}'))
def then_issued_quantity(ctx: dict[str, Any], blood_center_mock: Any, line: int, quantity: str, unit: str) -> None:
    order: BloodOrder = next(iter(ctx["orders"].values()))
    item = next(i for i in order.items if i.line_no == line)
    total = Decimal(0)
    for bag in _note(ctx).units:
        if (bag.product_code, bag.abo, bag.rhd) == (item.product_code, item.abo, item.rhd):
            kept = blood_center_mock.centre.store.get("inventory", bag.din)
            total += Decimal(bag.volume) if unit == "mL" else Decimal(kept["units"])
    assert total == Decimal(quantity), f"issued {total} {unit} for line {line}"


@then("发血单的血袋与血液中心记录一致")
def then_note_matches_centre(ctx: dict[str, Any], blood_center_mock: Any) -> None:
    for unit in _note(ctx).units:
        bag = blood_center_mock.centre.store.get("inventory", unit.din)
        assert bag["status"] == "ISSUED" and bag["issueNo"] == _note(ctx).issue_no, bag
        assert (bag["abo"], bag["rhd"], bag["volume"], Decimal(bag["price"])) == (unit.abo, unit.rhd, unit.volume, unit.price)


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
    receipt = success(ctx)
    assert receipt.accepted == count, receipt
    assert receipt.receipt_no, receipt


@then(parsers.parse('入库差异为 "{expected}"'))
def then_discrepancies(ctx: dict[str, Any], expected: str) -> None:
    receipt = success(ctx)
    shown = {(d.kind, d.din) for d in receipt.discrepancies}
    wanted = set()
    if expected != NONE:
        for part in expected.split(","):
            kind, _, n = part.strip().partition(":")
            din = ctx["misread"] if kind == "INVALID_DIN" else _bag(ctx, int(n))
            wanted.add((kind, din))
    assert shown == wanted, f"discrepancies {sorted(shown)}, expected {sorted(wanted)}"


@then(parsers.parse("血液中心记录第 {n:d} 袋已入库"))
def then_bag_received(ctx: dict[str, Any], blood_center_mock: Any, n: int) -> None:
    assert blood_center_mock.centre.store.get("received", _bag(ctx, n)) is not None


@then(parsers.parse("血液中心没有记录第 {n:d} 袋入库"))
def then_bag_not_received(ctx: dict[str, Any], blood_center_mock: Any, n: int) -> None:
    assert blood_center_mock.centre.store.get("received", _bag(ctx, n)) is None


@then("血液中心记录发血单上的全部血袋已入库")
def then_all_received(ctx: dict[str, Any], blood_center_mock: Any) -> None:
    for unit in _note(ctx).units:
        assert blood_center_mock.centre.store.get("received", unit.din) is not None, unit.din


@then("入库确认请求中没有校验位错误的献血码")
def then_no_bad_din_sent(ctx: dict[str, Any], blood_center_mock: Any) -> None:
    body = _last(blood_center_mock, "ConfirmReceipt").request["body"]
    assert all(din_problem(u["din"]) is None for u in body.get("unit") or []), body


# -- returns ------------------------------------------------------------------------------------------------------
@when(parsers.parse('申请退回第 {n:d} 袋，退血单号 "{number}"，原因 "{reason}"'))
@given(parsers.parse('医院申请退回第 {n:d} 袋，退血单号 "{number}"，原因 "{reason}"'))
def when_return(ctx: dict[str, Any], blood_center: Any, n: int, number: str, reason: str) -> None:
    din = _bag(ctx, n)
    ctx["return_ack"] = _attempt(ctx, lambda: blood_center.submit_return(number, [din], reason))


@then(parsers.parse('退血申请已提交，状态为 "{status}"'))
def then_return_ack(ctx: dict[str, Any], status: str) -> None:
    ack = success(ctx)
    assert ack.status == status, ack


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
    assert result.status == status, result
    if status != "PENDING":
        assert result.decided_at is not None, result


@then(parsers.parse('退血审核原因为 "{reason}"'))
def then_return_reason(ctx: dict[str, Any], reason: str) -> None:
    assert ctx["result"].reason == reason, ctx["result"]


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
    ctx["recalled"] = usable[0]["din"]
    centre.recall([usable[0]["din"]])


@then("发出的血袋中没有被召回的血袋")
def then_recalled_not_issued(ctx: dict[str, Any]) -> None:
    dins = [u.din for u in _note(ctx).units]
    assert dins and ctx["recalled"] not in dins, dins


@when("查询需要隔离的召回血袋")
def when_recalled(ctx: dict[str, Any], blood_center: Any) -> None:
    _attempt(ctx, lambda: blood_center.recalled_in_stock(ctx.get("since") or datetime.now() - timedelta(days=1)))


@then(parsers.parse("需要隔离的血袋为第 {n:d} 袋"))
def then_quarantine(ctx: dict[str, Any], n: int) -> None:
    assert success(ctx) == [_bag(ctx, n)]


@when(parsers.parse("查询近 {days:d} 天的血站通知"))
def when_notices(ctx: dict[str, Any], blood_center: Any, days: int) -> None:
    _attempt(ctx, lambda: blood_center.notices(datetime.now().replace(microsecond=0) - timedelta(days=days)))


@when(parsers.parse('血液中心发布 "{kind}" 通知 "{title}"'))
def centre_posts(blood_center_mock: Any, kind: str, title: str) -> None:
    blood_center_mock.centre.post_notice(kind, title, f"{title}：详见血站网站。")


@then(parsers.parse('通知依次为 "{kinds}"'))
def then_notice_kinds(ctx: dict[str, Any], kinds: str) -> None:
    notices = success(ctx)
    assert [n.kind for n in notices] == [k.strip() for k in kinds.split(",")], notices


@then(parsers.parse('召回通知列出了第 {n:d} 袋'))
def then_recall_notice(ctx: dict[str, Any], n: int) -> None:
    recalls = [notice for notice in success(ctx) if notice.kind == "RECALL"]
    assert recalls and _bag(ctx, n) in recalls[-1].dins, recalls


@when("核对今天的出库费用")
def when_reconcile(ctx: dict[str, Any], blood_center: Any) -> None:
    # From the day the scenario's first order went in: a scenario that runs across midnight still sees its fees.
    _attempt(ctx, lambda: blood_center.reconcile_fees(ctx.get("first_order_day", date.today()), date.today()))


@when(parsers.parse('核对从 "{start}" 到 "{end}" 的出库费用'))
def when_reconcile_range(ctx: dict[str, Any], blood_center: Any, start: str, end: str) -> None:
    _attempt(ctx, lambda: blood_center.reconcile_fees(date.fromisoformat(start), date.fromisoformat(end)))


@then("费用核对一致，发血单上的每袋血各收费一次，合计等于发血单价格之和")
def then_fees_agree(ctx: dict[str, Any]) -> None:
    result = success(ctx)
    assert result.agreed, result
    assert sorted(f.din for f in result.fees) == sorted(u.din for u in _note(ctx).units), result
    assert result.total == sum((u.price for u in _note(ctx).units), Decimal(0)), result


@then(parsers.parse("费用核对发现收费但未入库的血袋为第 {n:d} 袋"))
def then_fees_disagree(ctx: dict[str, Any], n: int) -> None:
    result = success(ctx)
    assert not result.agreed and result.charged_not_received == (_bag(ctx, n),), result


@then(parsers.parse("费用核对不含第 {n:d} 袋，其余血袋都收费"))
def then_fees_without(ctx: dict[str, Any], n: int) -> None:
    charged = sorted(f.din for f in success(ctx).fees)
    assert charged == sorted(u.din for u in _note(ctx).units if u.din != _bag(ctx, n)), charged


@when("查询血站配型结果")
def when_crossmatch(ctx: dict[str, Any], blood_center: Any) -> None:
    _attempt(ctx, lambda: blood_center.crossmatch_results())


@then(parsers.parse('配型结果共 {count:d} 份，标本 "{sample}" 的抗体筛查为 "{screen}"，结论包含 "{text}"'))
def then_crossmatch(ctx: dict[str, Any], count: int, sample: str, screen: str, text: str) -> None:
    samples = success(ctx)
    assert len(samples) == count, samples
    found = next(s for s in samples if s.sample_no == sample)
    assert found.antibody_screen == screen and text in found.conclusion and found.patient_name, found


# -- auth, faults, contract breaches --------------------------------------------------------------------------------
@given("血液中心更换了本院的令牌")
def centre_rotates_token(blood_center: Any, blood_center_mock: Any) -> None:
    blood_center_mock.credentials[blood_center_mock.hospital] = "a-token-the-hospital-does-not-have"


@given("血液中心注销了本院的医院编码")
def centre_drops_hospital(blood_center: Any, blood_center_mock: Any) -> None:
    blood_center_mock.credentials = {"H99999999999": "another-hospital"}


@given(parsers.re(r'血液中心对 "(?P<operation>\w+)" 注入故障 "(?P<kind>\w+)"(（(?P<phase>处理前|处理后)）)?(，连续 (?P<times>\d+) 次)?'))
def given_fault(ctx: dict[str, Any], blood_center_mock: Any, operation: str, kind: str, phase: str | None, times: str | None) -> None:
    options: dict[str, Any] = {"operation": operation, "phase": PHASES[phase or "处理后"], "times": int(times or 1)}
    if kind == "latency":
        options["delay_s"] = 0.05
    if kind == "http_status":
        options["status"] = 500
    blood_center_mock.inject(kind, **options)


@then("操作成功")
def then_ok(ctx: dict[str, Any]) -> None:
    success(ctx)


@then(parsers.parse('连接器报告错误 "{kind}"'))
def then_error_kind(ctx: dict[str, Any], kind: str) -> None:
    error = _error(ctx)
    assert type(error).__name__ == kind, f"{type(error).__name__}: {error}"


@then(parsers.parse('结果代码为 "{code}"'))
def then_result_code(ctx: dict[str, Any], code: str) -> None:
    error = ctx["error"]
    assert isinstance(error, Refused) and error.code == code, f"{type(error).__name__}: {error}"


@then(parsers.parse('错误信息包含 "{text}"'))
def then_error_text(ctx: dict[str, Any], text: str) -> None:
    assert text in str(ctx["error"]), str(ctx["error"])


@then(parsers.parse('血液中心收到 {count:d} 笔 "{operation}"'))
def then_received_count(blood_center_mock: Any, count: int, operation: str) -> None:
    got = _journal(blood_center_mock, operation)
    assert len(got) == count, f"{len(got)} {operation}; all: {[e.operation for e in _journal(blood_center_mock)]}"


@then(parsers.parse('血液中心没有收到 "{operation}"'))
def then_not_received(blood_center_mock: Any, operation: str) -> None:
    assert not _journal(blood_center_mock, operation), [e.operation for e in _journal(blood_center_mock)]


@then(parsers.parse('血液中心对最后一笔 "{operation}" 的应答为成功'))
def then_last_ok(blood_center_mock: Any, operation: str) -> None:
    exchange = _last(blood_center_mock, operation)
    assert exchange.status == 200 and exchange.response and exchange.response.get("body", {}).get("ResultCode") == "0", exchange.response


@then(parsers.parse('血液中心以 "{code}" 故障拒绝了最后一笔 "{operation}"'))
def then_last_fault(blood_center_mock: Any, code: str, operation: str) -> None:
    exchange = _last(blood_center_mock, operation)
    fault = (exchange.response or {}).get("fault")
    assert fault and fault["code"] == code, exchange.response


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
    operation, old, new = BREACHES[breach]
    body = _ORDER_BODY if operation == "SubmitBloodOrder" else _RECEIPT_BODY
    assert old in body
    envelope = (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP11}" xmlns:tns="urn:hih:blood-center:service">'
                f"<s:Header><tns:AuthHeader><tns:HospitalCode>{blood_center_mock.hospital}</tns:HospitalCode>"
                f"<tns:Token>{blood_center_mock.token}</tns:Token></tns:AuthHeader></s:Header>"
                f"<s:Body>{body.replace(old, new)}</s:Body></s:Envelope>")
    response = httpx.post(blood_center_mock.service_url, content=envelope.encode(), timeout=10, headers={
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"urn:hih:blood-center:{operation}"'})
    fault = etree.fromstring(response.content).find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    ctx["raw"] = (response.status_code, fault)


@then(parsers.parse('血液中心以 SOAP Fault "{code}" 拒绝，指出位置 "{location}"'))
def then_raw_fault(ctx: dict[str, Any], code: str, location: str) -> None:
    status, fault = ctx["raw"]
    assert status == 500 and fault is not None, status
    assert fault.findtext("faultcode").split(":")[-1] == code, fault.findtext("faultcode")
    assert fault.findtext("faultstring").startswith(location), fault.findtext("faultstring")


@when(parsers.parse('提交产品代码为 "{product}" 的预约单 "{number}"'))
def when_bad_product(ctx: dict[str, Any], blood_center: Any, number: str, product: str) -> None:
    order = _order(ctx, number, [{"产品": product, "ABO": "A", "RhD": "POS", "数量": "1", "单位": "U"}])
    _attempt(ctx, lambda: blood_center.submit_order(order))
