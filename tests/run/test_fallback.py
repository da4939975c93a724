"""Damaged run events never break the verdict: once pytest has finished, the decision comes from junit.xml and
pytest's exit status, and the report says so (never exit 3, never an open gate on a lost failure)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.run import child, runner
from harness.run.events import EventReader
from harness.run.fallback import DECIDED_FROM, from_junit, nodeid_of
from harness.run.options import RunOptions
from harness.run.results import Outcome
from tests.conftest import DATA

FEATURES = DATA / "features"
DEFECTIVE = "tests.data.connectors.unsigned_connector:make"


class Garbling(EventReader):
    """Every scenario result arrives with a byte that is not UTF-8 in the middle of a Chinese character."""

    def feed(self, chunk: bytes) -> Iterator[dict[str, Any]]:
        return super().feed(chunk.replace("签名".encode(), "签".encode()[:2] + b"\xff").replace(
            b'"event": "result"', b'"event": "result", "\xe9\x97": 1'))


@pytest.mark.parametrize(("connector", "code", "decision"), [(None, 0, "pass"), (DEFECTIVE, 1, "fail")],
                         ids=["passing", "failing"])
def test_damaged_events_fall_back_on_junit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connector: str | None,
                                           code: int, decision: str) -> None:
    monkeypatch.setattr(child, "EventReader", Garbling)
    console = Console(file=io.StringIO(), width=120, color_system=None)
    connectors = {"insurance": connector} if connector else {}

    assert runner.run(RunOptions(features_dir=FEATURES, report_dir=tmp_path / "r", workers=1,
                                 connectors=connectors, signoff_pdf=False), console) == code

    document = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    assert document["decision"] == decision
    assert document["events"]["decided_from"] == DECIDED_FROM and document["events"]["damaged_count"] >= 4
    assert "not UTF-8 at byte" in document["events"]["damaged"][0]
    statuses = sorted(s["status"] for s in document["scenarios"])
    assert len(statuses) == 4 and statuses.count("skipped") == 1
    assert all(s["interface"] == "insurance" and s["feature"] for s in document["scenarios"])
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert "run event(s) could not be read; the decision comes from junit.xml" in printed


def test_junit_results_fill_in_and_a_lost_failure_closes_the_gate(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="hih">'
        '<testcase classname="features.insurance.test_insurance" name="test_a" time="0.5">'
        '<properties><property name="hih_interface" value="insurance"/><property name="hih_feature" value="结算"/>'
        '<property name="hih_scenario" value="甲"/></properties></testcase>'
        '<testcase classname="features.insurance.test_insurance" name="test_b[1]" time="0.1">'
        '<skipped message="applies to &lt;2024.1"/></testcase>'
        "</testsuite></testsuites>", encoding="utf-8")
    outcome = Outcome()

    assert from_junit(outcome, junit, exitstatus=1) == 2
    assert outcome.results["features/insurance/test_insurance.py::test_a"].name == "甲"
    assert outcome.results["features/insurance/test_insurance.py::test_b[1]"].message == "applies to <2024.1"
    assert outcome.decision == "fail", "pytest said 1: a failure whose record was lost still closes the gate"
    assert from_junit(Outcome(), tmp_path / "missing.xml", 0) == 0


def test_nodeid_of_a_junit_testcase() -> None:
    from lxml import etree

    case = etree.fromstring('<testcase classname="features.lis.test_lis" name="test_x[a-b]"/>')
    assert nodeid_of(case) == "features/lis/test_lis.py::test_x[a-b]"
