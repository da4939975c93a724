"""Guards every scenario runs under, so that a spec cannot pass by accident (a pytest plugin of `harness.plugin`).

- When a scenario's steps have all passed, a port error that no Then step read fails it: a failed call must be
  checked, not left behind (`features/steps/outcome.py` keeps it under ctx["unchecked"]).
- Then every message that crossed a mock must conform to the contract. `@allow_invalid:<rule>[,<rule>...]` names the
  rules a scenario breaks on purpose (the `rule` of a finding: `xsd`, `usage`, `clock_skew` ...); findings of any
  other rule still fail it. A bare `@allow_invalid` names nothing and is refused.
- A step that fails with anything but a `SpecFailure` (a bare assert, a KeyError, an unexpected exception of the
  connector) is reported as a SpecFailure naming the step, with the original as technical detail; the failure
  text of a report never starts with an exception's class name.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from harness.errors import HihError
from harness.failure import SpecFailure

ALLOW_INVALID = "allow_invalid"
SHOWN = 5
_FAILED_STEP = pytest.StashKey[str]()
_MOCKS_SEEN = "hih_mocks"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{ALLOW_INVALID}(*rules): the scenario breaks these contract rules on purpose")


def pytest_bdd_apply_tag(tag: str, function: Any) -> bool | None:
    """`@allow_invalid:xsd,usage` becomes `allow_invalid("xsd", "usage")`; a bare `@allow_invalid` names no rule."""
    name, _, rules = tag.partition(":")
    if name != ALLOW_INVALID:
        return None
    pytest.mark.allow_invalid(*[r.strip() for r in rules.split(",") if r.strip()])(function)
    return True


def allowed_rules(item: pytest.Item) -> set[str] | None:
    """The rules a scenario may break (its `@allow_invalid:` tags); None when it is not tagged at all."""
    marks = list(item.iter_markers(ALLOW_INVALID))
    if not marks:
        return None
    return {str(rule) for mark in marks for rule in mark.args}


def pytest_bdd_step_error(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any,
                          step_func_args: Any, exception: Exception) -> None:
    request.node.stash[_FAILED_STEP] = f"{step.keyword} {step.name}".strip()


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """After steps that all passed: no unread connector error, and no contract finding the scenario did not allow."""
    if _FAILED_STEP in request.node.stash:
        return  # the failing step is the story; do not mask it
    if "ctx" in request.fixturenames:
        pending = request.getfixturevalue("ctx").get("unchecked")
        if pending is not None:
            raise SpecFailure("场景结束时，连接器报告的错误没有被任何“那么”步骤检查",
                              expected="每个连接器错误都由一个“那么”步骤读过",
                              actual=f"{type(pending).__name__}（{pending}）")
    _contract_findings(request)


def _contract_findings(request: pytest.FixtureRequest) -> None:
    from harness.plugin import mocks_of

    allowed = allowed_rules(request.node)
    if allowed is not None and not allowed:
        broken = sorted({f.rule or "?" for mock in mocks_of(request.node) for e in mock.journal.entries()
                         for f in (*e.request_findings, *e.response_findings) if f.severity.value == "error"})
        raise SpecFailure("@allow_invalid 必须指明允许违反的合同规则，例如 @allow_invalid:xsd",
                          expected="@allow_invalid:<规则>",
                          actual=f"@allow_invalid（本场景的报文违反了：{', '.join(broken) or '无'}）")
    problems: list[str] = []
    used: set[str] = set()
    transactions: list[str] = []
    for mock in mocks_of(request.node):
        for exchange in mock.journal.entries():
            for side, findings in (("请求", exchange.request_findings), ("应答", exchange.response_findings)):
                for finding in findings:
                    if finding.severity.value != "error":
                        continue
                    if allowed and finding.rule in allowed:
                        used.add(finding.rule)
                        continue
                    transactions.append(exchange.operation or "?")
                    problems.append(f"{mock.interface} {exchange.operation or '?'} {side} [{finding.rule or '?'}] "
                                    f"{finding.location or '/'} {finding.message}")
    if problems:
        more = f"（另有 {len(problems) - SHOWN} 处）" if len(problems) > SHOWN else ""
        raise SpecFailure("报文不符合合同", expected="每条报文都符合合同" + (
            f"（本场景允许违反：{', '.join(sorted(allowed))}）" if allowed else ""),
            actual=f"{len(problems)} 处不符{more}", transaction=",".join(dict.fromkeys(transactions)),
            detail="\n".join(problems[:SHOWN]))
    if allowed and not used:
        raise SpecFailure("场景声明允许违反合同规则，但没有任何报文违反它们：@allow_invalid 标签已不再需要或写错了",
                          expected=f"至少一条报文违反 {', '.join(sorted(allowed))}", actual="没有报文违反这些规则")


def as_spec_failure(step: str, exc: BaseException) -> SpecFailure:
    """A step's failure as a reviewer reads it: a SpecFailure as it is, anything else named by the step."""
    if isinstance(exc, SpecFailure):
        return exc
    reason = ("检查未通过" if isinstance(exc, AssertionError) else
              "步骤要用的数据缺失" if isinstance(exc, KeyError | IndexError | StopIteration) else
              "连接器报告了错误" if isinstance(exc, HihError) else
              "步骤执行时出现了意外的异常")
    return SpecFailure(f"步骤“{step}”未能完成：{reason}", expected="步骤顺利完成", actual=f"{type(exc).__name__}：{exc}"[:500])


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """A scenario's step that failed with anything but a SpecFailure: told as a SpecFailure naming the step."""
    try:
        return (yield)
    except SpecFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - pytest's own outcomes (skip, fail) are BaseExceptions and pass
        step = pyfuncitem.stash.get(_FAILED_STEP, None)
        if step is None:
            raise
        raise as_spec_failure(step, exc) from exc


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                                          pytest.TestReport]:
    """A SpecFailure's report shows its text only, not Python's `harness.failure.SpecFailure:` in front of it.

    Innermost of the report wrappers (trylast), so that the plugin masks identifiers in the text set here."""
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, SpecFailure):
        crash = getattr(report.longrepr, "reprcrash", None)
        if crash is not None:
            crash.message = str(call.excinfo.value)
    return report
