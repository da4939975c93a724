"""Steps the LIS and PACS specs share: patients, faults, messages the partner sends to the hospital's listener,
the hospital's ACKs, the connector's ACK outcomes and what its listener stored.

Each interface's step module provides the `hl7` fixture (an `Hl7World`: the interface's mock, its connector and
where the hospital listens). When `HIH_LIS_LISTENER` / `HIH_PACS_LISTENER` is `host:port`, the partner sends to
that listener instead (a real HIS, black-box), and the connector is not built by scenarios that do not need it.
Failed checks say in the ward's and the lab's words what was expected and what happened (`SpecFailure`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from features.steps.common import *  # noqa: F403 - the shared sentences are registered through this import
from features.steps.common import no_reply_hold_s
from features.steps.outcome import attempt as attempt_call
from features.steps.outcome import count_of, expect, failure, held, nonempty, same_items, success
from harness.bindings import outside_listener
from harness.contract.hl7.charsets import encode_message
from harness.contract.hl7.message import parse
from harness.failure import SpecFailure
from harness.ports.hl7 import AckRejected, Hl7PortError, NoAck, Patient, WrongAck

PHASES = {"处理前": "before", "处理后": "after"}
PARTNER = r"(?P<partner>LIS|PACS)"
TARGET = r"(?P<target>检验医嘱|检查申请|患者消息|批量)"
NONE = "无"
ACK_WAIT_S = 1.0
"""How long a partner waits for an answer that must not come (an ACK of an ACK)."""


@dataclass
class Hl7World:
    """One scenario's HL7 interface: the partner mock, the connector (built on first use), the hospital listener."""

    interface: str
    mock: Any
    make_connector: Callable[[], Any]
    operations: dict[str, str]
    """Words of the step texts (检验医嘱, 检查申请, 批量) -> the contract message key the fault is armed for."""
    stored_kinds: dict[str, str] = field(default_factory=dict)
    """Words (结果, 报告, 状态) -> connector method returning what its listener stored."""
    critical_flags: tuple[str, ...] = ("HH", "LL")
    """OBX-8 flags the interface's contract calls critical (the hospital must mark them)."""

    @property
    def connector(self) -> Any:
        return self.make_connector()

    def listener(self) -> tuple[str, int]:
        """The real HIS's listener from HIH_<IF>_LISTENER (black-box), else the connector's."""
        outside = outside_listener(self.interface)
        if outside is not None:
            return outside
        address: tuple[str, int] = self.connector.listener()
        return address

    def stored(self, kind: str) -> list[Any]:
        stored: list[Any] = getattr(self.connector, self.stored_kinds[kind])()
        return stored

    def last_stored(self, kind: str) -> Any:
        return nonempty(self.stored(kind), f"连接器没有保存任何{kind}")[-1]


# -- helpers --------------------------------------------------------------------------------------------------
def attempt(ctx: dict[str, Any], action: Callable[[], Any]) -> Any:
    return attempt_call(ctx, action, Hl7PortError)


def error_of(ctx: dict[str, Any], kind: type[Hl7PortError]) -> Any:
    return failure(ctx, kind)


result_of = success


def codes(text: str) -> list[str]:
    text = text.strip()
    return [] if text in ("", NONE) else [p.strip() for p in text.replace("，", ",").split(",")]


def patient(ctx: dict[str, Any]) -> Patient:
    found: Patient | None = ctx.get("patient")
    if found is None:
        found = Patient("MRN0001", "张三", "110101199003071234", "M", "19900307")
        ctx["patient"] = found
    return found


def patient_dict(p: Patient) -> dict[str, str]:
    return {"mrn": p.mrn, "name": p.name, "id_card": p.id_card, "sex": p.sex, "birth_date": p.birth_date,
            "patient_class": p.patient_class, "visit_no": p.visit_no}


def inbound(mock: Any, operation: str | None = None) -> list[Any]:
    return sorted([e for e in mock.journal.entries(operation) if e.direction == "inbound"],
                  key=lambda e: (e.started, e.id))


def push(ctx: dict[str, Any], world: Hl7World, text: str, charset: str | None = None) -> Any:
    """The partner sends `text` to the hospital's listener; the Push is kept for the Then steps."""
    pushed = world.mock.push(text, world.listener(), charset)
    ctx["last_text"], ctx["last_charset"] = text, charset
    ctx.setdefault("pushes", []).append(pushed)
    ctx["push"] = pushed
    return pushed


def locked_push(ctx: dict[str, Any], hl7: Hl7World, send: Callable[[], Any], hold_s: float = 0.5) -> None:
    """The partner sends while another writer holds the hospital's message store locked (as a busy database or a
    slow disk would): no acknowledgement may come back before the lock is released, since the hospital must store
    a message before it acknowledges it; after the release it must store it and acknowledge it."""
    if outside_listener(hl7.interface) is not None:
        pytest.skip("黑盒运行：hih 无法锁住医院系统自己的数据库，先保存后确认由其他场景检查")
    store = Path(getattr(hl7.connector.configured, "store_path", "") or "")
    expect(store.is_file(), "连接器没有把收到的消息保存在 hih 给它的位置，无法检查先保存后确认",
           expected=f"结果库文件 {store}", actual="文件不存在")
    lock = sqlite3.connect(str(store), timeout=5.0, isolation_level=None)
    outcome: dict[str, Any] = {}
    try:
        lock.execute("BEGIN EXCLUSIVE")
        sender = threading.Thread(target=lambda: outcome.setdefault("push", send()), daemon=True)
        sender.start()
        sender.join(hold_s)
        ctx["answered_while_locked"] = outcome.get("push")
    finally:
        if lock.in_transaction:
            lock.execute("ROLLBACK")
        lock.close()
    sender.join(10)
    if "push" not in outcome:
        raise SpecFailure("结果库解锁后，对方的发送 10 秒内没有结束", expected="医院保存后确认", actual="没有结束")
    pushed = outcome["push"]
    ctx.setdefault("pushes", []).append(pushed)
    ctx["push"] = pushed
    ctx["last_text"], ctx["last_charset"] = hl7.mock.last_sent, None


def blank(text: str, path: str) -> str:
    """The message with the field at `path` emptied (to send an invalid one on purpose)."""
    msg = parse(text)
    msg.set(path, "")
    return msg.to_er7()


# -- Given ----------------------------------------------------------------------------------------------------
@given(parsers.re(r'患者 "(?P<name>[^"]*)"，病历号 "(?P<mrn>[^"]+)"'))
def given_patient(ctx: dict[str, Any], name: str, mrn: str) -> None:
    ctx["patient"] = Patient(mrn, name, "110101199003071234", "F", "19900307", "O", f"V{mrn}")


@given(parsers.re(r'患者 "(?P<name>[^"]*)"，病历号 "(?P<mrn>[^"]+)"，没有身份证号（(?P<why>[^）]+)）'))
def given_patient_without_id(ctx: dict[str, Any], name: str, mrn: str, why: str) -> None:
    """A newborn or a foreign patient: no resident ID card number to send."""
    ctx["patient"] = Patient(mrn, name, "", "M", "20261201", "I", f"V{mrn}")


@given(parsers.re(PARTNER + r' 对' + TARGET + r'注入故障 "(?P<kind>\w+)"（(?P<phase>处理前|处理后)）'))
def given_fault(hl7: Hl7World, hih: Any, partner: str, target: str, kind: str, phase: str) -> None:
    hold = {"delay_s": no_reply_hold_s(hih)} if kind == "no_reply" else {}
    hl7.mock.inject(kind, operation=hl7.operations[target], phase=PHASES[phase], **hold)


@given(parsers.re(PARTNER + r' 对' + TARGET + r'持续注入故障 "(?P<kind>\w+)"'))
def given_fault_always(hl7: Hl7World, hih: Any, partner: str, target: str, kind: str) -> None:
    hold = {"delay_s": no_reply_hold_s(hih)} if kind == "no_reply" else {}
    hl7.mock.inject(kind, operation=hl7.operations[target], times=None, **hold)


@given(parsers.re(PARTNER + r' 对' + TARGET + r'注入故障 "(?P<kind>\w+)"，延迟为超时的 (?P<factor>[\d.]+) 倍'))
def given_fault_delay(hl7: Hl7World, hih: Any, partner: str, target: str, kind: str, factor: str) -> None:
    hl7.mock.inject(kind, operation=hl7.operations[target], delay_s=float(factor) * hih.timeout_s)


@given(parsers.re(PARTNER + r' 对' + TARGET + r'注入故障 "error_reply"，确认码 "(?P<code>\w+)"'))
def given_error_reply(hl7: Hl7World, partner: str, target: str, code: str) -> None:
    hl7.mock.inject("error_reply", operation=hl7.operations[target], code=code, message="模拟应用错误")


@given(parsers.re(PARTNER + r' 对' + TARGET + r'注入故障 "(?P<kind>\w+)"$'))
def given_fault_plain(hl7: Hl7World, partner: str, target: str, kind: str) -> None:
    hl7.mock.inject(kind, operation=hl7.operations[target])


# -- When: the partner sends -------------------------------------------------------------------------------------
@when(parsers.re(PARTNER + r' 再次发送上一条消息（同一 MSH-10）'))
def when_resend(ctx: dict[str, Any], hl7: Hl7World, partner: str) -> None:
    push(ctx, hl7, ctx["last_text"], ctx.get("last_charset"))


@when(parsers.re(PARTNER + r' 发送一条消息类型为 "(?P<kind>[^"]+)" 的消息'))
def when_unknown_type(ctx: dict[str, Any], hl7: Hl7World, partner: str, kind: str) -> None:
    text = ctx["last_text"] if "last_text" in ctx else ctx["template"]()
    msg = parse(text)
    msg.set("MSH-9", kind, escaped=True)
    msg.set("MSH-10", hl7.mock.new_control_id())
    push(ctx, hl7, msg.to_er7())


@when(parsers.re(PARTNER + r' 发送一条 MSH-10 为空的消息'))
def when_no_control_id(ctx: dict[str, Any], hl7: Hl7World, partner: str) -> None:
    push(ctx, hl7, blank(ctx["template"](), "MSH-10"))


@when(parsers.re(PARTNER + r' 向医院发送一个确认消息（ACK）'))
def when_ack_to_hospital(ctx: dict[str, Any], hl7: Hl7World, partner: str) -> None:
    """An acknowledgement sent to the listener (a partner confused about direction): it must get no answer, or the
    two systems would acknowledge each other's acknowledgements for ever. The wait for an answer is shortened."""
    mock = hl7.mock
    text = "\r".join([mock.msh("ACK^R01^ACK", mock.new_control_id(), mock.charset), "MSA|AA|H261206000000000001", ""])
    before = mock.push_timeout_s
    mock.push_timeout_s = ACK_WAIT_S
    try:
        push(ctx, hl7, text)
    finally:
        mock.push_timeout_s = before


@when(parsers.re(PARTNER + r' 发送一条声明 "(?P<declared>[^"]+)" 实为 "(?P<actual>[^"]+)" 编码的消息'))
def when_wrong_charset(ctx: dict[str, Any], hl7: Hl7World, partner: str, declared: str, actual: str) -> None:
    text = ctx["template"]()
    msg = parse(text)
    msg.set("MSH-18", declared)
    raw = encode_message(msg.to_er7(), actual)
    pushed = hl7.mock.push(msg.to_er7(), hl7.listener(), declared, raw=raw)
    ctx.setdefault("pushes", []).append(pushed)
    ctx["push"] = pushed


# -- Then: the hospital's acknowledgements (seen by the partner) -------------------------------------------------
@then(parsers.re(r'医院确认为 "(?P<code>\w+)"(，错误码 "(?P<err>[^"]+)")?$'))
def then_hospital_ack(ctx: dict[str, Any], hl7: Hl7World, code: str, err: str | None) -> None:
    pushed = held(ctx, "push", "对方发给医院的消息")
    expect(pushed.code == code, f"医院对 {pushed.message_type} {pushed.control_id} 的确认不对", transaction=pushed.message_type,
           expected=code, actual=f"{pushed.code or '没有确认'}（{pushed.problem or '已应答'}）")
    expect(pushed.exchange in hl7.mock.journal.entries(), "这次发送不在对方的日志中", expected="已记入日志",
           actual="日志中没有")
    if err:
        expect(err in pushed.errors, "医院确认的错误码不对", transaction=pushed.message_type, expected=err,
               actual=pushed.errors)


@then("医院没有回确认")
def then_no_hospital_ack(ctx: dict[str, Any]) -> None:
    pushed = held(ctx, "push", "对方发给医院的消息")
    expect(not pushed.code and not pushed.exchange.response_raw, f"医院对确认消息 {pushed.control_id} 回了确认：两边的确认会来回反弹",
           transaction=pushed.message_type, expected="没有回答", actual=pushed.code or (pushed.exchange.response_raw or b"")[:200])


@then("两次确认相同")
def then_same_ack(ctx: dict[str, Any]) -> None:
    pushes = ctx.get("pushes", [])
    expect(len(pushes) >= 2, "没有两次发送可供比较", expected="两次发送", actual=f"{len(pushes)} 次")
    first, second = pushes[-2:]
    expect(first.control_id == second.control_id, "两次发送的不是同一条消息", expected=first.control_id,
           actual=second.control_id)
    for pushed in (first, second):
        expect(pushed.exchange.response_raw, f"医院没有确认 {pushed.message_type} {pushed.control_id}",
               transaction=pushed.message_type, expected="医院的确认", actual=pushed.problem or "没有确认")
    expect(first.exchange.response_raw == second.exchange.response_raw, "重复的消息没有得到与第一次相同的确认",
           transaction=first.message_type, expected=first.exchange.response_raw[:200],
           actual=second.exchange.response_raw[:200])


@then(parsers.re(r"(?P<kind>结果|报告)库解锁之前医院没有确认"))
def then_no_ack_while_locked(ctx: dict[str, Any], kind: str) -> None:
    expect("answered_while_locked" in ctx, f"场景没有在{kind}库被锁住时发送消息", expected="锁住时发送", actual="没有")
    early = ctx["answered_while_locked"]
    expect(early is None, f"{kind}库还锁着、消息还不能保存时，医院就确认了：确认后崩溃会丢失这条{kind}",
           expected="解锁并保存之后才确认", actual=f"锁住期间收到确认 {early.code or early.problem}" if early else "")


# -- Then: the connector's outcome ---------------------------------------------------------------------------
@then(parsers.parse('连接器收到确认 "{code}"'))
def then_connector_ack(ctx: dict[str, Any], code: str) -> None:
    result = result_of(ctx)
    got = [r.code for r in result] if isinstance(result, list) else [result.code]
    expect(got and set(got) == {code}, "连接器收到的确认不对", expected=code, actual=got)


@then(parsers.re(r'连接器报告确认被拒绝 "(?P<code>\w+)"(，错误码 "(?P<err>[^"]+)")?$'))
def then_rejected(ctx: dict[str, Any], code: str, err: str | None) -> None:
    error = error_of(ctx, AckRejected)
    expect(error.code == code, "连接器报告的拒绝确认码不对", expected=code, actual=error.code)
    if err:
        expect(err in error.errors, "连接器报告的错误码不对", expected=err, actual=error.errors)


@then(parsers.parse("连接器报告未收到确认（共尝试 {n:d} 次）"))
def then_no_ack(ctx: dict[str, Any], hl7: Hl7World, n: int) -> None:
    error = error_of(ctx, NoAck)
    expect(error.attempts == n, "连接器报告的发送次数不对", expected=f"{n} 次", actual=f"{error.attempts} 次")
    sent = [e for e in inbound(hl7.mock) if e.request and e.request.get("control_id") == error.control_id]
    count_of(sent, n, f"对方收到 MSH-10 {error.control_id} 的次数不对")


@then("连接器报告确认的 MSA-2 不符")
def then_wrong_ack(ctx: dict[str, Any]) -> None:
    error_of(ctx, WrongAck)


@then(parsers.parse("连接器共发送 {n:d} 次（同一 MSH-10）"))
def then_attempts(ctx: dict[str, Any], hl7: Hl7World, n: int) -> None:
    result = result_of(ctx)
    expect(result.attempts == n, "连接器的发送次数不对", expected=f"{n} 次", actual=f"{result.attempts} 次")
    sent = [e for e in inbound(hl7.mock) if e.request and e.request.get("control_id") == result.control_id]
    count_of(sent, n, f"对方收到 MSH-10 {result.control_id} 的次数不对")


@then(parsers.re(PARTNER + r' 处理医嘱 "(?P<placer>[^"]+)" 共 (?P<n>\d+) 次'))
def then_processed(hl7: Hl7World, partner: str, placer: str, n: str) -> None:
    processed = [e for e in inbound(hl7.mock) if e.meta.get("order") == placer and "duplicate_of" not in e.meta]
    count_of(processed, int(n), f"{partner} 处理医嘱 {placer} 的次数不对")


@then(parsers.re(PARTNER + r' 收到的消息依次为 "(?P<ops>[^"]*)"'))
def then_received(hl7: Hl7World, partner: str, ops: str) -> None:
    got = [e.operation for e in inbound(hl7.mock) if not e.meta.get("batch_message")]
    same_items(got, [hl7.operations.get(op, op) for op in codes(ops)], f"{partner} 收到的消息或其顺序不对")


@then(parsers.re(PARTNER + r' 收到的 MSH-10 互不相同'))
def then_distinct_controls(hl7: Hl7World, partner: str) -> None:
    """Different messages carry different MSH-10s; a resend of the very same bytes (after a lost ACK) may repeat one."""
    seen: dict[str, bytes] = {}
    reused = []
    for exchange in nonempty(inbound(hl7.mock), f"{partner} 没有收到任何消息"):
        control = (exchange.request or {}).get("control_id")
        if not control:
            continue
        if control in seen and seen[control] != exchange.request_raw:
            reused.append(control)
        seen.setdefault(control, exchange.request_raw)
    expect(not reused, f"连接器把同一个 MSH-10 用在了不同的消息上：{partner} 会把后一条当作重复消息，不再处理",
           expected="不同的消息，不同的 MSH-10", actual=f"重复的 MSH-10 {sorted(set(reused))}")


PATIENT_FIELDS = (("name", "姓名"), ("id_card", "身份证号"), ("sex", "性别"), ("birth_date", "出生日期"),
                  ("patient_class", "患者类别"), ("visit_no", "就诊号"))


@then(parsers.re(PARTNER + r' 登记的患者 "(?P<mrn>[^"]+)" 与医院的一致（姓名、身份证号、性别、出生日期、患者类别、就诊号）'))
def then_patient_same(ctx: dict[str, Any], hl7: Hl7World, partner: str, mrn: str) -> None:
    """What the partner read from PID and PV1 is what the hospital holds: a visit number or an ID card number in
    the wrong field files the order under another visit or none."""
    ours = patient_dict(held(ctx, "patient", "医院的患者信息"))
    expect(ours["mrn"] == mrn, "场景里的病历号与医院的患者不一致", expected=mrn, actual=ours["mrn"])
    theirs = hl7.mock.patient(mrn)
    if theirs is None:
        raise SpecFailure(f"{partner} 没有登记病历号为 {mrn} 的患者", expected=mrn,
                          actual=sorted(p.get("mrn", "") for p in hl7.mock.patients()))
    wrong = {what: (ours[key], theirs.get(key, "")) for key, what in PATIENT_FIELDS if ours[key] != theirs.get(key, "")}
    expect(not wrong, f"{partner} 登记的患者 {mrn} 与医院的不一致（{'、'.join(wrong)}）",
           expected={what: pair[0] for what, pair in wrong.items()},
           actual={what: pair[1] for what, pair in wrong.items()})


# -- Then: what the connector's listener stored ----------------------------------------------------------------
@then(parsers.re(r'连接器保存了 (?P<n>\d+) 条(?P<kind>结果|报告|状态)'))
def then_stored_count(hl7: Hl7World, n: str, kind: str) -> None:
    stored = hl7.stored(kind)
    count_of(stored, int(n), f"连接器保存的{kind}条数不对", detail=f"MSH-10 {[s.control_id for s in stored]}")


@then(parsers.re(r'连接器保存的(?P<kind>结果|报告|状态)依次为 "(?P<statuses>[^"]*)"'))
def then_stored_statuses(hl7: Hl7World, kind: str, statuses: str) -> None:
    same_items([s.status for s in hl7.stored(kind)], codes(statuses), f"连接器保存的{kind}状态或其顺序不对")


@then(parsers.re(r'连接器已保存医院确认过的每条(?P<kind>结果|报告|状态)'))
def then_stored_what_was_acked(ctx: dict[str, Any], hl7: Hl7World, kind: str) -> None:
    """Everything the hospital acknowledged AA is in its store (read from the file after the ACK came)."""
    wanted = "OMG^O19" if kind == "状态" else "ORU^R01"
    acked = [p.control_id for p in ctx.get("pushes", []) if p.code == "AA" and p.message_type == wanted]
    acked += [c for p in ctx.get("pushes", []) if p.message_type == "BATCH" and p.code == "AA"
              for c in p.control_id.split(",")]
    nonempty(acked, f"医院没有确认（AA）任何{kind}，无从检查保存")
    stored = {s.control_id for s in hl7.stored(kind)}
    missing = [c for c in acked if c not in stored]
    expect(not missing, f"医院确认（AA）了的{kind}没有保存：确认后崩溃就会丢失", expected="确认过的每条都已保存",
           actual=f"未保存的 MSH-10 {missing}")


@then(parsers.re(r'连接器保存的最后一条(?P<kind>结果|报告|状态)的患者姓名为 "(?P<name>[^"]+)"，字符集为 "(?P<charset>[^"]+)"'))
def then_stored_name(hl7: Hl7World, kind: str, name: str, charset: str) -> None:
    last = hl7.last_stored(kind)
    expect((last.patient_name, last.charset) == (name, charset), f"连接器保存的{kind}的患者姓名或字符集不对",
           expected=f"{name}，{charset}", actual=f"{last.patient_name}，{last.charset}")


@then(parsers.re(r'连接器保存的最后一条(?P<kind>结果|报告)标记危急值 "(?P<critical>[^"]+)"'))
def then_stored_critical(hl7: Hl7World, kind: str, critical: str) -> None:
    last = hl7.last_stored(kind)
    expect(critical in last.critical, f"连接器保存的{kind}没有标记危急值", expected=critical, actual=list(last.critical))


@then(parsers.re(r'连接器保存的最后一条(?P<kind>结果|报告)未标记危急值'))
def then_stored_not_critical(hl7: Hl7World, kind: str) -> None:
    last = hl7.last_stored(kind)
    expect(last.critical == (), f"连接器保存的{kind}不应标记危急值，却标记了", expected="没有危急值",
           actual=list(last.critical))


@then(parsers.re(r'连接器保存的最后一条(?P<kind>结果|报告|状态)与对方发送的一致'))
def then_stored_as_sent(ctx: dict[str, Any], hl7: Hl7World, kind: str) -> None:
    """Every safety field the hospital stored against the message the partner sent: placer and filler numbers,
    status, patient, each observation's code and value, and which observations are critical."""
    from harness.contract.hl7.message import parse as parse_er7

    last = hl7.last_stored(kind)
    sent = parse_er7(held(ctx, "last_text", "对方发送的消息"))
    expect(last.control_id == sent.control_id, f"连接器保存的最后一条{kind}不是对方发送的那条", expected=sent.control_id,
           actual=last.control_id)
    status = sent.get("ORC-5") if last.message_type == "OMG^O19" else sent.get("OBR-25")
    fields = {"申请单号": (last.placer_no, sent.get("OBR-2.1") or sent.get("ORC-2.1")),
              "执行单号": (last.filler_no, sent.get("OBR-3.1") or sent.get("ORC-3.1")),
              "状态": (last.status, status), "患者姓名": (last.patient_name, sent.get("PID-5.1") + sent.get("PID-5.2"))}
    for label, (got, wanted) in fields.items():
        expect(got == wanted, f"连接器保存的{kind}的{label}与对方发送的不一致", transaction=last.message_type,
               expected=wanted, actual=got)
    observations = [(sent.get_in(obx, "OBX-3.1"), sent.get_in(obx, "OBX-5")) for obx in sent.all("OBX")]
    same_items([tuple(o) for o in last.observations], observations, f"连接器保存的{kind}的观察项与对方发送的不一致",
               transaction=last.message_type)
    flagged = [code for code, flag in ((sent.get_in(obx, "OBX-3.1"), sent.get_in(obx, "OBX-8")) for obx in sent.all("OBX"))
               if flag in hl7.critical_flags]
    same_items([c.split("=")[0] for c in last.critical], flagged, f"连接器保存的{kind}的危急值标记与对方发送的不一致",
               transaction=last.message_type)
