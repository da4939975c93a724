"""The scenario guards (harness/guards.py): an unread connector error fails a scenario at its end,
`@allow_invalid:<rule>` allows exactly the rules it names, and every step failure reads as a SpecFailure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from harness import guards
from harness.contract.findings import Finding, Severity
from harness.errors import HihError
from harness.failure import SpecFailure, parse_failure


@dataclass
class Exchange:
    operation: str
    request_findings: list[Finding] = field(default_factory=list)
    response_findings: list[Finding] = field(default_factory=list)


class Journal:
    def __init__(self, exchanges: list[Exchange]) -> None:
        self._exchanges = exchanges

    def entries(self) -> list[Exchange]:
        return self._exchanges


@dataclass
class Mock:
    interface: str
    journal: Journal


class Node:
    def __init__(self, marks: list[pytest.Mark]) -> None:
        self.stash = pytest.Stash()
        self._marks = marks

    def iter_markers(self, name: str) -> list[pytest.Mark]:
        return [m for m in self._marks if m.name == name]


class Request:
    def __init__(self, ctx: dict[str, Any], marks: list[pytest.Mark] | None = None) -> None:
        self.node = Node(marks or [])
        self.fixturenames = ["ctx"]
        self._ctx = ctx

    def getfixturevalue(self, name: str) -> Any:
        assert name == "ctx"
        return self._ctx


def error(rule: str, location: str = "/x") -> Finding:
    return Finding(Severity.ERROR, location, f"broken {rule}", rule)


def after(request: Request, mocks: list[Mock], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.plugin.mocks_of", lambda item: mocks)
    guards.pytest_bdd_after_scenario(request, None, None)  # type: ignore[arg-type]


def allow(*rules: str) -> pytest.Mark:
    decorator = getattr(pytest.mark, guards.ALLOW_INVALID)
    return (decorator(*rules) if rules else decorator).mark


def test_allow_invalid_tags_name_their_rules() -> None:
    def scenario() -> None: ...

    assert guards.pytest_bdd_apply_tag("allow_invalid:xsd, usage", scenario) is True
    assert guards.pytest_bdd_apply_tag("allow_invalid", scenario) is True
    assert guards.pytest_bdd_apply_tag("smoke", scenario) is None
    marks = [m.args for m in getattr(scenario, "pytestmark", [])]
    assert marks == [("xsd", "usage"), ()]


def test_an_unread_connector_error_fails_the_scenario_at_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SpecFailure) as raised:
        after(Request({"unchecked": HihError("2207 refused: 结算失败")}), [], monkeypatch)
    told = parse_failure(str(raised.value))
    assert "没有被任何“那么”步骤检查" in told.reason and "结算失败" in (told.actual or "")

    after(Request({"unchecked": None}), [], monkeypatch)  # read by a Then step: nothing to say


def test_contract_findings_fail_unless_their_rule_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    mock = Mock("lis", Journal([Exchange("ORU^R01", [error("usage", "OBR-25")], [error("clock_skew", "MSH-7")])]))
    with pytest.raises(SpecFailure) as raised:
        after(Request({}, [allow("usage")]), [mock], monkeypatch)
    told = parse_failure(str(raised.value))
    assert told.reason == "报文不符合合同" and told.transaction == "ORU^R01"
    assert "[clock_skew] MSH-7" in told.detail and "[usage]" not in told.detail

    after(Request({}, [allow("usage", "clock_skew")]), [mock], monkeypatch)


def test_a_bare_or_unused_allow_invalid_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    mock = Mock("blood-center", Journal([Exchange("SubmitBloodOrder", [error("xsd")])]))
    with pytest.raises(SpecFailure, match="必须指明") as bare:
        after(Request({}, [allow()]), [mock], monkeypatch)
    assert "违反了：xsd" in str(bare.value)
    clean = Mock("blood-center", Journal([Exchange("SubmitBloodOrder")]))
    with pytest.raises(SpecFailure, match="已不再需要或写错了"):
        after(Request({}, [allow("xsd")]), [clean], monkeypatch)


def test_a_failed_step_skips_the_guards(monkeypatch: pytest.MonkeyPatch) -> None:
    request = Request({"unchecked": HihError("lost")})
    guards.pytest_bdd_step_error(request, None, None, type("Step", (), {"keyword": "那么", "name": "操作成功"})(),  # type: ignore[arg-type]
                                 None, None, AssertionError())
    after(request, [], monkeypatch)  # the failing step is the story


@pytest.mark.parametrize(("exc", "reason"), [
    (AssertionError("x"), "检查未通过"), (KeyError("settlement"), "步骤要用的数据缺失"),
    (HihError("2204 refused"), "连接器报告了错误"), (TypeError("None"), "意外的异常"),
])
def test_any_step_failure_reads_as_a_spec_failure(exc: Exception, reason: str) -> None:
    told = guards.as_spec_failure("那么 操作成功", exc)
    parsed = parse_failure(str(told))
    assert parsed.reason.startswith("步骤“那么 操作成功”未能完成") and reason in parsed.reason
    assert parsed.expected == "步骤顺利完成" and type(exc).__name__ in (parsed.actual or "")
    kept = SpecFailure("余额不符", expected="1", actual="2")
    assert guards.as_spec_failure("那么 x", kept) is kept
