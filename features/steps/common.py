"""Sentences the specs of several interfaces share, each defined once here and so with one meaning everywhere.

An interface's step module imports them (`from features.steps.common import *`); the scenario's own interface
decides which connector and which partner mock a sentence acts on (fixtures `connector` and `partner`).

- 操作成功 / 连接器报告错误 "Kind" / 错误信息包含 "text": the outcome of the connector's last call. The kind is the
  name of the port error class or of one of its bases; the text is looked for in the error as the connector reports
  it (`str(error)`).
- 当 连接器重启: the hospital's system restarts; the connector is closed and built again on the same durable state.
- 那么 连接器在 N 倍超时时间内放弃: the last call gave up (a port error) within N × the configured timeout, plus a
  margin for the machine; a connector without timeouts, or one that resends more than it says, does not.
- 假如 接下来的步骤在同一秒内完成: the wall clock is held in the current second for the rest of the scenario, moving on
  10 ms a step (identifiers with a time part share the second; the monotonic clock of timeouts runs on).
- 假如 <partner> 的时钟比医院快|慢 N 分钟|小时|天 / 那么 <partner> 发现报文时间与其时钟不符: the partner's clock is shifted
  (the `clock` fault) and its contract's `clock_skew` rule flags the hospital's timestamps.
- 假如 <partner> 的端口拒绝连接 / 当 <partner> 恢复接受连接: nothing listens on the partner's port (connection refused
  at once, open connections closed) until the scenario lets it listen again (the `refuse` fault).
- 假如 平台对 "OP" 注入故障 "kind"（处理前|处理后）[，连续 N 次]: a fault on the platform mock of the scenario.
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from features.steps.outcome import describe, expect, failure, nonempty, success
from harness.failure import SpecFailure
from harness.held_clock import HeldClock
from harness.slot import ConnectorSlot

PHASES = {"处理前": "before", "处理后": "after"}
MARGIN_S = 0.5
"""Slack above N × timeout for a loaded machine (the sleeps between resends fit in it too)."""
CLOCK_RULE = "clock_skew"


def no_reply_hold_s(hih: Any) -> float:
    """How long a `no_reply` fault holds a connection: far beyond any sane timeout, yet a connector with none fails
    its scenario in seconds instead of hanging the run for the transport's ten-minute cap."""
    return max(3.0, 10 * float(hih.timeout_s))


@pytest.fixture
def connector(request: pytest.FixtureRequest, hih_interface: str) -> ConnectorSlot:
    """The connector under test of the scenario's interface."""
    slot: ConnectorSlot = request.getfixturevalue(hih_interface.replace("-", "_"))
    return slot


@pytest.fixture
def partner(request: pytest.FixtureRequest, hih_interface: str) -> Any:
    """The partner mock of the scenario's interface."""
    return request.getfixturevalue(hih_interface.replace("-", "_") + "_mock")


# -- the outcome of the last call -----------------------------------------------------------------------------
@then("操作成功")
def then_success(ctx: dict[str, Any]) -> None:
    success(ctx)


@then(parsers.parse('连接器报告错误 "{kind}"'))
def then_error(ctx: dict[str, Any], kind: str) -> None:
    error = failure(ctx, BaseException)
    kinds = [cls.__name__ for cls in type(error).__mro__]
    expect(kind in kinds, "连接器报告的错误种类不对", expected=kind, actual=describe(error))


@then(parsers.parse('错误信息包含 "{text}"'))
def then_error_text(ctx: dict[str, Any], text: str) -> None:
    error = failure(ctx, BaseException)
    expect(text in str(error), "连接器报告的错误信息没有说明原因", expected=f"错误信息包含“{text}”",
           actual=describe(error))


# -- restart, bounded time ----------------------------------------------------------------------------------------
@when("连接器重启")
def when_restart(ctx: dict[str, Any], connector: ConnectorSlot) -> None:
    pending = ctx.get("unchecked")
    expect(pending is None, "重启前连接器报告的错误没有被任何“那么”步骤检查",
           expected="每个连接器错误都由一个“那么”步骤读过", actual=describe(pending))
    try:
        connector.restart()
    except Exception as exc:  # noqa: BLE001 - a connector that cannot start again is the finding
        raise SpecFailure("连接器重启后无法启动", expected="在原有的持久数据上启动新的连接器",
                          actual=f"{type(exc).__name__}：{exc}"[:500]) from exc


@then(parsers.parse("连接器在 {n:d} 倍超时时间内放弃"))
def then_gave_up_in_time(ctx: dict[str, Any], hih: Any, n: int) -> None:
    expect(ctx.get("error") is not None, "连接器应当放弃并报告错误，却正常返回了",
           expected="连接器报告错误", actual=f"返回 {ctx.get('result')!r}"[:300])
    bound = n * hih.timeout_s + MARGIN_S + 0.25 * n * hih.timeout_s
    took = float(ctx.get("elapsed_s", 0.0))
    expect(took <= bound, "连接器等待太久才放弃：没有超时，或重发次数超过约定",
           expected=f"{n} × 超时 {hih.timeout_s:g} 秒，至多 {bound:.2f} 秒", actual=f"{took:.2f} 秒后报告 {describe(ctx['error'])}")


@given("接下来的步骤在同一秒内完成")
def given_same_second(held_clock: HeldClock) -> None:
    """What the scenario sends next goes out within one second: identifiers with a time part then share it, and a
    connector that restarts its sequence on restart repeats one. The wall clock is held in this second for the rest
    of the scenario (`harness.held_clock`), so no accident of timing on a loaded machine hides such a repeat."""


# -- the partner's clock ------------------------------------------------------------------------------------------
UNITS_S = {"分钟": 60, "小时": 3600, "天": 86400}


@given(parsers.re(r"(?P<who>平台|血液中心|LIS|PACS) ?的时钟比医院(?P<way>快|慢) (?P<n>\d+) ?(?P<unit>分钟|小时|天)"))
def given_clock(partner: Any, who: str, way: str, n: str, unit: str) -> None:
    shift = int(n) * UNITS_S[unit] * (1 if way == "快" else -1)
    partner.inject("clock", shift_s=shift, times=None)


@then(parsers.re(r"(?P<who>平台|血液中心|LIS|PACS) ?发现报文时间与其时钟不符"))
def then_clock_flagged(partner: Any, who: str) -> None:
    flagged = [f"{e.operation} {f.location}" for e in partner.journal.entries()
               for f in (*e.request_findings, *e.response_findings) if f.rule == CLOCK_RULE]
    nonempty(flagged, f"{who}的时钟与医院相差超过合同允许的偏差，却没有发现任何报文时间不符")


# -- the partner's port refuses connections ----------------------------------------------------------------------
@given(parsers.re(r"(?P<who>平台|血液中心|LIS|PACS) ?的端口拒绝连接"))
def given_refusing(partner: Any, who: str) -> None:
    """Nothing listens on the partner's port (the `refuse` fault) until the scenario says it accepts again."""
    partner.inject("refuse", times=None)


@when(parsers.re(r"(?P<who>平台|血液中心|LIS|PACS) ?恢复接受连接"))
def when_accepting_again(partner: Any, who: str) -> None:
    refusing = partner.faults.refusing()
    expect(refusing is not None, f"{who}并没有在拒绝连接，无从恢复", expected="端口正在拒绝连接", actual="端口照常接受连接")
    partner.faults.discard(refusing)


# -- faults on a platform (insurance, maternal-child) ---------------------------------------------------------------
@given(parsers.re(r'平台对 "(?P<operation>\w+)" 注入故障 "(?P<kind>\w+)"(（(?P<phase>处理前|处理后)）)?'
                  r'(，连续 (?P<times>\d+) 次)?'))
def given_platform_fault(partner: Any, hih: Any, operation: str, kind: str, phase: str | None, times: str | None) -> None:
    options: dict[str, Any] = {"operation": operation, "phase": PHASES[phase or "处理后"], "times": int(times or 1)}
    if kind == "no_reply":
        options["delay_s"] = no_reply_hold_s(hih)
    if kind == "error_reply":
        options.update(code="Server.Busy", message="平台繁忙")
    partner.inject(kind, **options)
