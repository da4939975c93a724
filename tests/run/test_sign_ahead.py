"""harness.run.sign_ahead: `hih run` starts the sign-off's side process at its last result, before its pytest process
has exited, and the pack is the one laid out from the final page; a final summary other than the expected one ends
that side process (the run starts one from the final summary, as without it)."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.report import pdf, pdf_ahead, signoff
from harness.report.pdf_ahead import PdfAhead
from harness.run.child import POLL_S, SETTLING_POLL_S, _pause
from harness.run.options import RunOptions
from harness.run.results import Outcome
from harness.run.runner import run
from harness.run.sign_ahead import EarlySignoff
from tests.conftest import DATA, reaped

pytest.importorskip("weasyprint", reason="WeasyPrint (with Pango) is installed by ./scripts/setup")

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


def test_a_run_lays_its_signoff_out_from_the_last_result_and_the_pack_is_the_final_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[int, int, dict[str, str]]] = []
    answers: list[int | None] = []
    finished_by: list[dict[str, str]] = []
    at_last_result, finish = EarlySignoff.at_last_result, PdfAhead.finish

    def watched(self: EarlySignoff, outcome: Outcome) -> None:
        at_last_result(self, outcome)
        started.append((len(outcome.results), len(outcome.nodeids),
                        self.ahead.placeholders if self.ahead is not None else {}))

    def told(self: PdfAhead, html: str, values: str | dict[str, str]) -> int | None:
        finished_by.append(dict(self.placeholders))
        answers.append(finish(self, html, values))
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
    assert len(answers) == 1 and answers[0] is not None, "it wrote the PDF"
    html = (report_dir / "signoff.html").read_text(encoding="utf-8")
    pdf.render_pdf(html, tmp_path / "fresh.pdf", signoff._print_css())
    assert (report_dir / "signoff.pdf").read_bytes() == (tmp_path / "fresh.pdf").read_bytes()


def _early(document: dict[str, Any]) -> EarlySignoff:
    done = threading.Thread(target=pdf.preload)
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
    monkeypatch.setattr("harness.report.writer.start_signoff_pdf", broken)
    early.at_last_result(Outcome())
    assert early.ahead is None and early.take(SUMMARY, {}) is None


def test_the_last_scenario_is_watched_closely_only_when_its_result_is_awaited() -> None:
    assert _pause(None, True) == POLL_S, "nothing collected yet"
    assert _pause(3, True) == POLL_S
    assert _pause(1, True) == SETTLING_POLL_S, "the side process waits on the last result"
    assert _pause(1, False) == POLL_S
    assert _pause(0, False) == _pause(0, True) == SETTLING_POLL_S, "the processes' last words"
