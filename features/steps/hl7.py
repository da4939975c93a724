"""Steps the LIS and PACS specs share: patients, faults, messages the partner sends to the hospital's listener,
the hospital's ACKs, the connector's ACK outcomes and what its listener stored.

Each interface's step module provides the `hl7` fixture (an `Hl7World`: the interface's mock, its connector and
where the hospital listens). When `HIH_LIS_LISTENER` / `HIH_PACS_LISTENER` is `host:port`, the partner sends to
that listener instead (a real HIS, black-box), and the connector is not built by scenarios that do not need it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_bdd import given, parsers, then, when

from features.steps.outcome import attempt as attempt_call
from features.steps.outcome import failure, success
from harness.bindings import outside_listener
from harness.contract.hl7.charsets import encode_message
from harness.contract.hl7.message import parse
from harness.ports.hl7 import AckRejected, Hl7PortError, NoAck, Patient, WrongAck

PHASES = {"处理前": "before", "处理后": "after"}
PARTNER = r"(?P<partner>LIS|PACS)"
TARGET = r"(?P<target>检验医嘱|检查申请|患者消息|批量)"
NONE = "无"


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


def blank(text: str, path: str) -> str:
    """The message with the field at `path` emptied (to send an invalid one on purpose)."""
    msg = parse(text)
    msg.set(path, "")
    return msg.to_er7()


# -- Given ----------------------------------------------------------------------------------------------------
@given(parsers.re(r'患者 "(?P<name>[^"]*)"，病历号 "(?P<mrn>[^"]+)"'))
def given_patient(ctx: dict[str, Any], name: str, mrn: str) -> None:
    ctx["patient"] = Patient(mrn, name, "110101199003071234", "F", "19900307", "O", f"V{mrn}")


@given(parsers.re(PARTNER + r' 对' + TARGET + r'注入故障 "(?P<kind>\w+)"（(?P<phase>处理前|处理后)）'))
def given_fault(hl7: Hl7World, partner: str, target: str, kind: str, phase: str) -> None:
    hl7.mock.inject(kind, operation=hl7.operations[target], phase=PHASES[phase])


@given(parsers.re(PARTNER + r' 对' + TARGET + r'持续注入故障 "(?P<kind>\w+)"'))
def given_fault_always(hl7: Hl7World, partner: str, target: str, kind: str) -> None:
    hl7.mock.inject(kind, operation=hl7.operations[target], times=None)


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
    pushed = ctx["push"]
    assert pushed.code == code, f"the hospital answered {pushed.code or 'nothing'} ({pushed.problem}); expected {code}"
    assert pushed.exchange in hl7.mock.journal.entries(), "the exchange is not in the partner's journal"
    if err:
        assert err in pushed.errors, f"ERR codes {pushed.errors}; expected {err}"


@then("两次确认相同")
def then_same_ack(ctx: dict[str, Any]) -> None:
    first, second = ctx["pushes"][-2:]
    assert first.control_id == second.control_id
    assert first.exchange.response_raw == second.exchange.response_raw, (
        "a duplicate must get the original acknowledgement again: "
        f"{first.exchange.response_raw!r} != {second.exchange.response_raw!r}")


# -- Then: the connector's outcome ---------------------------------------------------------------------------
@then(parsers.parse('连接器收到确认 "{code}"'))
def then_connector_ack(ctx: dict[str, Any], code: str) -> None:
    result = result_of(ctx)
    got = [r.code for r in result] if isinstance(result, list) else [result.code]
    assert set(got) == {code}, f"acknowledgement codes {got}; expected {code}"


@then(parsers.re(r'连接器报告确认被拒绝 "(?P<code>\w+)"(，错误码 "(?P<err>[^"]+)")?$'))
def then_rejected(ctx: dict[str, Any], code: str, err: str | None) -> None:
    error = error_of(ctx, AckRejected)
    assert error.code == code, f"rejected with {error.code}; expected {code}"
    if err:
        assert err in error.errors, f"ERR codes {error.errors}; expected {err}"


@then(parsers.parse("连接器报告未收到确认（共尝试 {n:d} 次）"))
def then_no_ack(ctx: dict[str, Any], hl7: Hl7World, n: int) -> None:
    error = error_of(ctx, NoAck)
    assert error.attempts == n, f"{error.attempts} attempts; expected {n}"
    sent = [e for e in inbound(hl7.mock) if e.request and e.request.get("control_id") == error.control_id]
    assert len(sent) == n, f"the partner saw MSH-10 {error.control_id} {len(sent)} times; expected {n}"


@then("连接器报告确认的 MSA-2 不符")
def then_wrong_ack(ctx: dict[str, Any]) -> None:
    error_of(ctx, WrongAck)


@then(parsers.parse("连接器共发送 {n:d} 次（同一 MSH-10）"))
def then_attempts(ctx: dict[str, Any], hl7: Hl7World, n: int) -> None:
    result = result_of(ctx)
    assert result.attempts == n, f"the connector took {result.attempts} attempt(s); expected {n}"
    sent = [e for e in inbound(hl7.mock) if e.request and e.request.get("control_id") == result.control_id]
    assert len(sent) == n, f"the partner saw MSH-10 {result.control_id} {len(sent)} times; expected {n}"


@then(parsers.re(PARTNER + r' 处理医嘱 "(?P<placer>[^"]+)" 共 (?P<n>\d+) 次'))
def then_processed(hl7: Hl7World, partner: str, placer: str, n: str) -> None:
    processed = [e for e in inbound(hl7.mock) if e.meta.get("order") == placer and "duplicate_of" not in e.meta]
    assert len(processed) == int(n), f"order {placer} was processed {len(processed)} times; expected {n}"


@then(parsers.re(PARTNER + r' 收到的消息依次为 "(?P<ops>[^"]*)"'))
def then_received(hl7: Hl7World, partner: str, ops: str) -> None:
    got = [e.operation for e in inbound(hl7.mock) if not e.meta.get("batch_message")]
    expected = [hl7.operations.get(op, op) for op in codes(ops)]
    assert got == expected, f"the partner received {got}; expected {expected}"


# -- Then: what the connector's listener stored ----------------------------------------------------------------
@then(parsers.re(r'连接器保存了 (?P<n>\d+) 条(?P<kind>结果|报告|状态)'))
def then_stored_count(hl7: Hl7World, n: str, kind: str) -> None:
    stored = hl7.stored(kind)
    assert len(stored) == int(n), f"the connector stored {len(stored)} {kind}(s): {[s.control_id for s in stored]}"


@then(parsers.re(r'连接器保存的(?P<kind>结果|报告|状态)依次为 "(?P<statuses>[^"]*)"'))
def then_stored_statuses(hl7: Hl7World, kind: str, statuses: str) -> None:
    got = [s.status for s in hl7.stored(kind)]
    assert got == codes(statuses), f"stored statuses {got}; expected {codes(statuses)}"


@then(parsers.re(r'连接器已保存医院确认过的每条(?P<kind>结果|报告|状态)'))
def then_stored_what_was_acked(ctx: dict[str, Any], hl7: Hl7World, kind: str) -> None:
    """Everything the hospital acknowledged AA is in its store (read from the file after the ACK came)."""
    wanted = "OMG^O19" if kind == "状态" else "ORU^R01"
    acked = [p.control_id for p in ctx.get("pushes", []) if p.code == "AA" and p.message_type == wanted]
    acked += [c for p in ctx.get("pushes", []) if p.message_type == "BATCH" and p.code == "AA"
              for c in p.control_id.split(",")]
    stored = {s.control_id for s in hl7.stored(kind)}
    missing = [c for c in acked if c not in stored]
    assert acked and not missing, f"acknowledged AA but not stored: {missing}"


@then(parsers.re(r'连接器保存的最后一条(?P<kind>结果|报告|状态)的患者姓名为 "(?P<name>[^"]+)"，字符集为 "(?P<charset>[^"]+)"'))
def then_stored_name(hl7: Hl7World, kind: str, name: str, charset: str) -> None:
    last = hl7.stored(kind)[-1]
    assert (last.patient_name, last.charset) == (name, charset), (last.patient_name, last.charset)


@then(parsers.re(r'连接器保存的最后一条(?P<kind>结果|报告)标记危急值 "(?P<critical>[^"]+)"'))
def then_stored_critical(hl7: Hl7World, kind: str, critical: str) -> None:
    last = hl7.stored(kind)[-1]
    assert critical in last.critical, f"critical values {last.critical}; expected {critical}"


@then(parsers.re(r'连接器保存的最后一条(?P<kind>结果|报告)未标记危急值'))
def then_stored_not_critical(hl7: Hl7World, kind: str) -> None:
    assert hl7.stored(kind)[-1].critical == ()
