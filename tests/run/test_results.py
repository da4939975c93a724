"""The runner's view of pytest: events absorbed into per-scenario results, the gate decision, summary.json."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from harness.run.identity import ConnectorIdentity
from harness.run.options import RunOptions, RunPlan
from harness.run.results import Outcome, summary, write_json


def result(nodeid: str, status: str, when: str = "call", duration: float = 0.5, message: str = "",
           interface: str = "insurance", steps: list[dict[str, str]] | None = None,
           evidence: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    props = {"hih_interface": interface, "hih_feature": "门诊结算流程", "hih_scenario": nodeid.rsplit("::", 1)[-1]}
    if steps is not None:
        props["hih_steps"] = json.dumps(steps)
    return {"event": "result", "nodeid": nodeid, "when": when, "status": status, "duration_s": duration,
            "message": message, "props": props, "evidence": evidence or []}


def test_events_become_scenario_results() -> None:
    outcome = Outcome()
    outcome.absorb({"event": "collected", "count": 3})
    steps = [{"keyword": "Given", "name": "参保人是职工", "status": "passed"}]
    first = outcome.absorb(result("f.py::a", "passed", steps=steps, evidence=[{"operation": "9001"}]))
    outcome.absorb(result("f.py::b", "failed", message="AssertionError: 余额不符"))
    outcome.absorb(result("f.py::c", "skipped", when="setup", message="applies to contract <2024.1"))
    outcome.absorb({"event": "finished", "exitstatus": 1})

    assert first is not None and first.steps == steps and first.evidence == [{"operation": "9001"}]
    assert (first.interface, first.feature, first.name) == ("insurance", "门诊结算流程", "a")
    assert outcome.expected == 3 and outcome.exitstatus == 1
    assert outcome.counts() == {"passed": 1, "failed": 1, "skipped": 1}
    assert outcome.counts("lis") == {"passed": 0, "failed": 0, "skipped": 0}
    assert outcome.results["f.py::b"].message == "AssertionError: 余额不符"
    assert outcome.decision == "fail"
    assert outcome.absorb({"event": "something-new"}) is None


def test_a_teardown_failure_after_a_passed_call_wins() -> None:
    outcome = Outcome()
    steps = [{"keyword": "When", "name": "结算", "status": "passed"}]
    outcome.absorb(result("f.py::a", "passed", duration=0.25, steps=steps, evidence=[{"id": 1}]))
    outcome.absorb(result("f.py::a", "failed", when="teardown", duration=0.5, message="connector.close() failed"))

    final = outcome.results["f.py::a"]
    assert final.status == "failed" and final.message == "connector.close() failed"
    assert final.duration_s == 0.75
    assert final.steps == steps and final.evidence == [{"id": 1}], "what the call recorded is kept"
    assert outcome.decision == "fail"


def test_a_teardown_failure_does_not_hide_the_scenario_failure() -> None:
    outcome = Outcome()
    outcome.absorb(result("f.py::a", "failed", message="AssertionError: 余额不符"))
    outcome.absorb(result("f.py::a", "failed", when="teardown", message="connector.close() failed"))
    final = outcome.results["f.py::a"]
    assert final.status == "failed"
    assert "余额不符" in final.message, "the scenario's own failure is the story"


def test_decision() -> None:
    passing = Outcome()
    passing.absorb(result("a", "passed"))
    passing.absorb(result("b", "skipped", when="setup"))
    assert passing.decision == "pass"

    nothing_ran = Outcome()
    nothing_ran.absorb(result("b", "skipped", when="setup"))
    assert nothing_ran.decision == "fail", "a gate that checked nothing stays closed"

    broken = Outcome()
    broken.absorb(result("a", "passed"))
    broken.absorb({"event": "collect_error", "nodeid": "features/x.py", "message": "StepDefinitionNotFoundError"})
    assert broken.collect_errors == ["features/x.py: StepDefinitionNotFoundError"]
    assert broken.decision == "fail"


def test_collected_keeps_the_largest_count() -> None:
    outcome = Outcome()
    for count in (4, 7, 5):  # one event per xdist worker
        outcome.absorb({"event": "collected", "count": count, "worker": "gw0"})
    assert outcome.expected == 7


def test_summary_document(contract_2024: Any, tmp_path: Path) -> None:
    outcome = Outcome()
    outcome.absorb(result("features/insurance/t.py::b", "passed", duration=0.125))
    outcome.absorb(result("features/insurance/t.py::a", "failed", duration=0.25, message="boom"))
    identity = ConnectorIdentity("connectors.insurance:reference", "reference", "files-sha256", "ab" * 32, "cd" * 20)
    plan = RunPlan(RunOptions(report_dir=tmp_path, workers=2, tags="@smoke"), {"insurance": contract_2024},
                   {"insurance": "connectors.insurance:reference"}, {"insurance": tmp_path}, "smoke",
                   identities={"insurance": identity}, workers=2, effective={"insurance": "2024-03-01"},
                   as_of=date(2026, 11, 22))
    started = datetime(2026, 11, 22, 10, 0, 0).astimezone()

    document = summary(plan, outcome, started, started + timedelta(seconds=7))

    assert document["decision"] == "fail"
    assert document["started"] == started.isoformat(timespec="seconds")
    assert document["duration_s"] == 7.0 and document["workers"] == 2 and document["tags"] == "@smoke"
    assert document["as_of"] == "2026-11-22" and document["scenario_timeout_s"] == 60.0
    assert document["interfaces"] == {"insurance": {
        "contract": "2024.1", "contract_effective": "2024-03-01", "connector": "connectors.insurance:reference",
        "connector_identity": {"name": "connectors.insurance:reference", "label": "reference", "kind": "files-sha256",
                               "value": "ab" * 32, "git_commit": "cd" * 20},
        "passed": 1, "failed": 1, "skipped": 0, "duration_s": 0.375, "wall_s": 0.0}}
    assert [s["name"] for s in document["scenarios"]] == ["a", "b"]
    assert document["scenarios"][0] == {"interface": "insurance", "feature": "门诊结算流程", "name": "a", "status": "failed",
                                        "duration_s": 0.25, "nodeid": "features/insurance/t.py::a", "message": "boom",
                                        "steps": []}
    assert "message" not in document["scenarios"][1]

    target = tmp_path / "summary.json"
    write_json(target, document)
    assert json.loads(target.read_text(encoding="utf-8")) == document
    assert "门诊结算流程" in target.read_text(encoding="utf-8"), "Chinese stays readable"
    assert not (tmp_path / "summary.json.tmp").exists()
