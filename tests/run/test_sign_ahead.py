"""harness.run.sign_ahead: `hih run` starts the sign-off's side process about a second before its last result, on the
prediction that the scenarios left pass, keeps it at the last result when the page is the one predicted (else starts
one from the page then), before its pytest process has exited; the pack is the one laid out from the final page; a
final summary other than the expected one ends that side process (the run starts one from the final summary, as
without it)."""

from __future__ import annotations

import io
import shutil
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.report import pdf, pdf_ahead, signoff
from harness.report.pdf_ahead import PdfAhead
from harness.report.preloading import Preloading
from harness.run.child import POLL_S, SETTLING_POLL_S, _pause
from harness.run.options import RunOptions
from harness.run.results import Outcome, ScenarioResult
from harness.run.runner import run
from harness.run.sign_ahead import PREDICTIONS, EarlySignoff
from tests.conftest import DATA, reaped
from tests.weasyprint_skip import skip_without_weasyprint

skip_without_weasyprint()

SUMMARY: dict[str, Any] = {
    "decision": "pass", "started": "2026-12-06T20:00:00+08:00", "finished": "2026-12-06T20:00:09+08:00",
    "duration_s": 9.0, "totals": {"passed": 1, "failed": 0, "skipped": 0},
    "interfaces": {"lis": {"contract": "2024.1", "connector": "connectors.lis:reference", "passed": 1, "failed": 0,
                           "skipped": 0, "connector_identity": {"name": "LIS v3", "label": "x", "kind": "version",
                                                                "value": "3.2.0", "git_commit": None}}},
    "scenarios": [{"interface": "lis", "feature": "检验申请", "name": "回执", "status": "passed",
                   "nodeid": "features/lis/a.feature::c", "duration_s": 0.1}]}


@pytest.fixture(autouse=True)
def _spare_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIH_HISTORY", "off")
    monkeypatch.setattr(pdf_ahead, "spare_core", lambda: True)  # whatever else runs on the machine now


# Alone: in the parallel pass this run's side process gave no PDF in 3 of 6 whole passes on 2026-12-07, and once in
# the serial pass; the run then wrote the PDF itself (the pack right, the end slower). One cause, found by the reason
# the failure prints (PdfAhead.why): this run of four scenarios is expected to end in the second it started, so the
# end time's placeholder was also the start time's text, and both were replaced (signoff.page_ahead now picks an end
# time shown nowhere else; tests/report/test_pdf_ahead.py). Kept alone until whole parallel passes show no other.
@pytest.mark.serial
def test_a_run_lays_its_signoff_out_from_the_last_result_and_the_pack_is_the_final_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[int, int, dict[str, str]]] = []
    answers: list[int | None] = []
    finished_by: list[dict[str, str]] = []
    why: list[str] = []
    at_last_result, finish = EarlySignoff.at_last_result, PdfAhead.finish

    def watched(self: EarlySignoff, outcome: Outcome) -> None:
        at_last_result(self, outcome)
        started.append((len(outcome.results), len(outcome.nodeids),
                        self.ahead.placeholders if self.ahead is not None else {}))

    def told(self: PdfAhead, html: str, values: str | dict[str, str]) -> int | None:
        finished_by.append(dict(self.placeholders))
        answers.append(finish(self, html, values))
        why.append(self.why)
        return answers[-1]

    monkeypatch.setattr(EarlySignoff, "at_last_result", watched)
    monkeypatch.setattr(PdfAhead, "finish", told)
    report_dir = tmp_path / "reports"
    console = Console(file=io.StringIO(), width=200, color_system=None)
    assert run(RunOptions(features_dir=DATA / "features", report_dir=report_dir), console) == 0

    assert len(started) == 1, "called once"
    results, collected, placeholders = started[0]
    assert results == collected == 4, "every collected scenario had its result"
    assert set(placeholders) == {signoff.MANIFEST, signoff.FINISHED}, "started then, its end time left open"
    assert finished_by == [placeholders], "the run took that side process, no other"
    assert len(answers) == 1 and answers[0] is not None, f"it wrote the PDF (else why not: {why})"
    html = (report_dir / "signoff.html").read_text(encoding="utf-8")
    pdf.render_pdf(html, tmp_path / "fresh.pdf", signoff._print_css())
    assert (report_dir / "signoff.pdf").read_bytes() == (tmp_path / "fresh.pdf").read_bytes()


def _early(document: dict[str, Any]) -> EarlySignoff:
    done = Preloading(pdf.preload)
    done.start()
    early = EarlySignoff(Path("."), {}, lambda outcome, finished: {**document, "finished": finished.isoformat()}, done)
    return early


def test_the_side_process_is_taken_only_for_the_summary_it_was_started_from(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    early = _early(SUMMARY)
    early.at_last_result(Outcome())
    assert early.ahead is not None
    pid = early.ahead.pid
    later = {**SUMMARY, "finished": "2026-12-06T20:00:10+08:00", "duration_s": 10.0}
    taken = early.take(later, {})
    assert taken is not None and taken.pid == pid, "only the end time and the duration differ"
    taken.close()

    early = _early(SUMMARY)
    early.at_last_result(Outcome())
    assert early.ahead is not None
    pid = early.ahead.pid
    assert early.take({**later, "decision": "fail"}, {}) is None
    assert reaped(pid), "ended and reaped"

    early = _early(SUMMARY)
    early.at_last_result(Outcome())
    assert early.ahead is not None
    pid = early.ahead.pid
    assert early.take(later, {"features/lis/a.feature::c": [{"operation": "ORM"}]}) is None
    assert reaped(pid), "other evidence: ended"


def test_a_run_that_ends_without_reports_ends_the_side_process(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    early = _early(SUMMARY)
    early.at_last_result(Outcome())
    early.at_last_result(Outcome())  # once only
    assert early.ahead is not None
    pid = early.ahead.pid
    early.close()
    assert reaped(pid)
    assert early.take(SUMMARY, {}) is None, "nothing left to take"


def test_a_failure_to_start_it_is_left_to_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("history unreadable")

    early = _early(SUMMARY)
    early.preloading.join()
    monkeypatch.setattr("harness.report.writer.signoff_page", broken)
    early.near_last_result(_outcome(["passed"], 2))
    assert early.ahead is None and early.predictions == 1
    early.at_last_result(Outcome())
    assert early.ahead is None and early.take(SUMMARY, {}) is None


def test_the_last_scenario_is_watched_closely_only_when_its_result_is_awaited() -> None:
    assert _pause(None, True) == POLL_S, "nothing collected yet"
    assert _pause(3, True) == POLL_S
    assert _pause(1, True) == SETTLING_POLL_S, "the side process waits on the last result"
    assert _pause(1, False) == POLL_S
    assert _pause(0, False) == _pause(0, True) == SETTLING_POLL_S, "the processes' last words"


# -- started on a prediction, before the last result ---------------------------------------------------------------
def _outcome(statuses: list[str], collected: int) -> Outcome:
    """`collected` scenarios of the interface lis, the first ones with these results."""
    outcome = Outcome()
    for index in range(collected):
        key = f"k{index}"
        outcome.nodeids.append(key)
        outcome.shown[key] = f"features/lis/a.feature::s{index}"
    for index, status in enumerate(statuses):
        nodeid = outcome.shown[f"k{index}"]
        outcome.results[nodeid] = ScenarioResult(nodeid, "lis", "检验申请", f"场景{index}", status, 0.1,
                                                 message="不符" if status == "failed" else "", key=f"k{index}")
    return outcome


def _counted(outcome: Outcome, finished: datetime) -> dict[str, Any]:
    """A summary that follows the outcome as the page shows it: decision, counts, the failed scenarios."""
    counts = outcome.counts()
    return {**SUMMARY, "finished": finished.isoformat(), "decision": outcome.decision, "totals": counts,
            "interfaces": {"lis": {**SUMMARY["interfaces"]["lis"], **counts}},
            "scenarios": [{"interface": r.interface, "feature": r.feature, "name": r.name, "status": r.status,
                           "nodeid": r.nodeid, "duration_s": r.duration_s, "message": r.message}
                          for r in outcome.results.values()]}


def _predicting() -> EarlySignoff:
    done = Preloading(pdf.preload)
    done.start()
    done.join()
    return EarlySignoff(Path("."), {}, _counted, done, lambda nodeid: "lis")


def test_a_prediction_that_comes_true_is_the_side_process_the_run_takes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    early = _predicting()
    early.near_last_result(_outcome(["passed", "skipped"], 3))
    assert early.ahead is not None and early.predictions == 1, "the last scenario is predicted to pass"
    pid = early.ahead.pid
    early.near_last_result(_outcome(["passed", "skipped"], 3))
    assert early.ahead.pid == pid and early.predictions == 1, "nothing new: the same prediction"
    last = _outcome(["passed", "skipped", "passed"], 3)
    early.at_last_result(last)
    assert early.ahead is not None and early.ahead.pid == pid, "the page came true: kept"
    taken = early.take(_counted(last, datetime.now()), {r.nodeid: [] for r in last.results.values()})
    assert taken is not None and taken.pid == pid
    taken.close()


def test_a_scenario_that_fails_after_the_prediction_has_the_last_result_start_another(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    early = _predicting()
    early.near_last_result(_outcome(["passed"], 2))
    assert early.ahead is not None
    predicted = early.ahead.pid
    last = _outcome(["passed", "failed"], 2)
    early.at_last_result(last)
    assert early.ahead is not None and early.ahead.pid != predicted, "another page: another side process"
    assert reaped(predicted), "the predicted one ended and reaped"
    assert early.page is not None and "不予放行" in early.page.html
    taken = early.take(_counted(last, datetime.now()), {r.nodeid: [] for r in last.results.values()})
    assert taken is not None
    taken.close()


def test_a_result_other_than_passed_predicts_again_a_bounded_number_of_times(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    early = _predicting()
    pids: list[int] = []
    for failed in range(PREDICTIONS + 2):
        early.near_last_result(_outcome(["passed"] + ["failed"] * failed, PREDICTIONS + 3))
        assert early.ahead is not None
        if not pids or pids[-1] != early.ahead.pid:
            pids.append(early.ahead.pid)
    assert len(pids) == PREDICTIONS, "one a new failure, up to the bound"
    assert all(reaped(pid) for pid in pids[:-1]), "each one left behind ended and reaped"
    early.close()
    assert reaped(pids[-1])


def _pid(early: EarlySignoff) -> int | None:
    return early.ahead.pid if early.ahead is not None else None


def test_no_prediction_before_the_reports_are_preloaded_nor_while_the_last_result_is_far(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    release = threading.Event()
    waiting = Preloading(release.wait, 30)
    early = EarlySignoff(Path("."), {}, _counted, waiting, lambda nodeid: "lis")
    early.near_last_result(_outcome(["passed"], 2))
    assert _pid(early) is None and early.predictions == 0, "the preloading thread not started"
    waiting.start()
    early.near_last_result(_outcome(["passed"], 2))
    assert _pid(early) is None and early.predictions == 0, "still preloading"
    release.set()
    waiting.join()
    assert early.since is not None
    early.since -= 60.0  # a scenario a minute so far: the last result is two minutes away
    early.near_last_result(_outcome(["passed"], 3))
    assert _pid(early) is None and early.predictions == 0
    early.near_last_result(_outcome(["passed", "passed"], 3))  # one left, 30 s away
    assert _pid(early) is None
    early.since += 60.0 - 0.2
    early.near_last_result(_outcome(["passed", "passed"], 3))
    assert _pid(early) is not None, "0.1 s a scenario: the last result is near"
    early.close()


LAST_FEATURE = """Feature: The sign-off waits
  Scenario: The last scenario ends once the sign-off is laid out on a prediction
    Given the sign-off's side process was started on a prediction
    Then the last scenario {ends}
"""
LAST_STEPS = '''"""Steps of the last scenario: it gives its result only once the run has predicted it from every other result
(tests/run/test_sign_ahead.py writes the file `predicted` beside this one then), so the prediction is made before the
last result, whatever the machine's load."""

import time
from pathlib import Path

from pytest_bdd import given, scenarios, then

scenarios("last.feature")


@given("the sign-off's side process was started on a prediction")
def predicted() -> None:
    marker = Path(__file__).with_name("predicted")
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.exists(), "no prediction within 60 s"


@then("the last scenario passes")
def passes() -> None:
    pass


@then("the last scenario fails")
def fails() -> None:
    assert False, "the last scenario fails on purpose"
'''


@pytest.mark.parametrize("ends", ["passes", "fails"])
def test_a_run_predicts_its_last_scenario_and_the_pack_is_the_final_page_whatever_it_gives(
        ends: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    features = tmp_path / "features"
    shutil.copytree(DATA / "features", features, ignore=shutil.ignore_patterns("__pycache__"))
    folder = features / "insurance"
    (folder / "last.feature").write_text(LAST_FEATURE.format(ends=ends), encoding="utf-8")
    (folder / "test_zz_last.py").write_text(LAST_STEPS, encoding="utf-8")  # collected after the tiny feature's
    predicted: list[int] = []
    kept: list[int | None] = []
    near, at_last, take = EarlySignoff.near_last_result, EarlySignoff.at_last_result, EarlySignoff.take

    def watched_near(self: EarlySignoff, outcome: Outcome) -> None:
        near(self, outcome)
        if self.ahead is not None and self.ahead.pid not in predicted:
            predicted.append(self.ahead.pid)
        if self.ahead is not None and len(outcome.results) == len(outcome.nodeids) - 1:
            (folder / "predicted").touch()  # a prediction from every other result: the last scenario goes on

    def watched_last(self: EarlySignoff, outcome: Outcome) -> None:
        at_last(self, outcome)
        kept.append(self.ahead.pid if self.ahead is not None else None)

    def watched_take(self: EarlySignoff, document: dict[str, Any], evidence: dict[str, Any]) -> PdfAhead | None:
        taken = take(self, document, evidence)
        kept.append(taken.pid if taken is not None else None)
        return taken

    monkeypatch.setattr(EarlySignoff, "near_last_result", watched_near)
    monkeypatch.setattr(EarlySignoff, "at_last_result", watched_last)
    monkeypatch.setattr(EarlySignoff, "take", watched_take)
    pdf.preload()  # the run's own preloading is then done before its first result
    report_dir = tmp_path / "reports"
    console = Console(file=io.StringIO(), width=200, color_system=None)
    assert run(RunOptions(features_dir=features, report_dir=report_dir), console) == (0 if ends == "passes" else 1)

    assert predicted, "a side process was started on a prediction before the last result"
    assert kept[0] is not None and kept[0] == kept[1], "kept at the last result, taken at the end"
    if ends == "passes":
        assert kept[0] == predicted[-1], "the prediction came true: its side process wrote the pack"
    else:
        assert kept[0] not in predicted, "the last scenario failed: the page was laid out again"
        assert all(reaped(pid) for pid in predicted), "the predicted ones ended and reaped"
    html = (report_dir / "signoff.html").read_text(encoding="utf-8")
    assert ("不予放行" in html) == (ends == "fails")
    pdf.render_pdf(html, tmp_path / "fresh.pdf", signoff._print_css())
    assert (report_dir / "signoff.pdf").read_bytes() == (tmp_path / "fresh.pdf").read_bytes()
