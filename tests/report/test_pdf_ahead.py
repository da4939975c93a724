"""harness.report.pdf_ahead: a PDF laid out in a side process with a placeholder, filled in once the value is known,
is byte for byte the PDF laid out from the final page; whatever the side process cannot do, the caller does."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from harness.report import pdf, pdf_ahead, signoff, writer
from harness.report.manifest import differences, sha256_file
from harness.report.pdf_ahead import PdfAhead
from tests.conftest import reaped, wait_for
from tests.weasyprint_skip import skip_without_weasyprint

skip_without_weasyprint()

PLACEHOLDER = "0" * 64
VALUE = hashlib.sha256(b"manifest").hexdigest()
MONO = "font-family: 'DejaVu Sans Mono'; font-weight: bold; word-break: break-all; overflow-wrap: anywhere"


def _page(digest: str, face: str = MONO, note: str = "患者信息均已脱敏") -> str:
    """A page whose digest wraps over three lines of a narrow cell, after enough text to need a second page."""
    filler = "".join(f"<p>第 {i} 项 接口放行 item {i}</p>" for i in range(60))
    return (f'<html><head><meta name="hih-manifest-sha256" content="{digest}"></head><body>'
            f"<h1>接口放行签字单</h1>{filler}<table style='width: 40mm'><tr><th>报告清单校验值</th>"
            f"<td class='sha' style=\"{face}\">{digest}</td></tr></table><p>{note}</p></body></html>")


@pytest.fixture(scope="module", autouse=True)
def _preloaded() -> None:
    """WeasyPrint imported and its fonts warmed before any side process is forked, as `hih run` has it: once for the
    module, as once for a run (a warm-up lays out and writes a PDF: about 65 ms of CPU each time again, and what it
    warms stays warm in this process for every test after it)."""
    pdf.preload()


@pytest.fixture(autouse=True)
def _spare_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_ahead, "spare_core", lambda: True)  # whatever else runs on the machine now


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True,
                          timeout=60).stdout


def test_the_value_filled_in_gives_the_pdf_of_the_final_page_byte_for_byte(tmp_path: Path) -> None:
    ahead = PdfAhead.start(_page(PLACEHOLDER), PLACEHOLDER, tmp_path / "ahead.pdf")
    assert ahead is not None
    pages = ahead.finish(_page(VALUE), VALUE)
    assert pages == pdf.render_pdf(_page(VALUE), tmp_path / "fresh.pdf")
    assert pages is not None and pages >= 2, "the digest is laid out on a later page"
    assert (tmp_path / "ahead.pdf").read_bytes() == (tmp_path / "fresh.pdf").read_bytes()
    assert VALUE[:16] in "".join(_pdf_text(tmp_path / "ahead.pdf").split())
    assert reaped(ahead.pid)


def test_a_final_page_that_differs_elsewhere_is_left_to_the_caller(tmp_path: Path) -> None:
    ahead = PdfAhead.start(_page(PLACEHOLDER), PLACEHOLDER, tmp_path / "ahead.pdf")
    assert ahead is not None
    assert ahead.finish(_page(VALUE, note="另一行 another line"), VALUE) is None
    assert "differs from the laid-out one" in ahead.why and "另一行" in ahead.why, ahead.why
    assert not (tmp_path / "ahead.pdf").exists()
    assert reaped(ahead.pid)


def test_a_value_wider_than_the_placeholder_is_left_to_the_caller(tmp_path: Path) -> None:
    proportional = "font-family: 'DejaVu Sans'; word-break: break-all"
    wide = "m" * 64  # as long as the placeholder, wider in a proportional face
    ahead = PdfAhead.start(_page(PLACEHOLDER, proportional), PLACEHOLDER, tmp_path / "ahead.pdf")
    assert ahead is not None
    assert ahead.finish(_page(wide, proportional), wide) is None
    assert "is not as wide as the placeholder" in ahead.why
    assert not (tmp_path / "ahead.pdf").exists()


def test_a_placeholder_inside_a_longer_text_is_left_to_the_caller(tmp_path: Path) -> None:
    page = _page(PLACEHOLDER).replace("患者信息均已脱敏", f"清单 {PLACEHOLDER}")
    ahead = PdfAhead.start(page, PLACEHOLDER, tmp_path / "ahead.pdf")
    assert ahead is not None
    assert ahead.finish(page.replace(PLACEHOLDER, VALUE), VALUE) is None


def test_a_side_process_that_fails_or_stalls_is_ended_and_left_to_the_caller(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(*args: Any) -> None:
        raise RuntimeError("layout failed")

    monkeypatch.setattr(pdf_ahead, "_side", fails)  # the forked process runs the module as it is now
    ahead = PdfAhead.start(_page(PLACEHOLDER), PLACEHOLDER, tmp_path / "ahead.pdf")
    assert ahead is not None and ahead.finish(_page(VALUE), VALUE) is None
    assert ahead.why == "the side process failed: RuntimeError('layout failed')"
    assert reaped(ahead.pid)

    monkeypatch.setattr(pdf_ahead, "_side", lambda *args: time.sleep(60))
    monkeypatch.setattr(pdf_ahead, "ANSWER_S", 0.3)
    ahead = PdfAhead.start(_page(PLACEHOLDER), PLACEHOLDER, tmp_path / "ahead.pdf")
    assert ahead is not None
    started = time.monotonic()
    assert ahead.finish(_page(VALUE), VALUE) is None
    assert ahead.why == "no answer from the side process (b'')"
    assert time.monotonic() - started < 10
    assert reaped(ahead.pid)


def test_a_side_process_that_failed_and_ended_before_the_final_page_still_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its reason is in the answer pipe even when it ended before the parent wrote the final page (the write then
    fails): a loaded machine lets the parent reach `finish` only after that."""
    def fails(*args: Any) -> None:
        raise RuntimeError("layout failed")

    monkeypatch.setattr(pdf_ahead, "_side", fails)
    ahead = PdfAhead.start(_page(PLACEHOLDER), PLACEHOLDER, tmp_path / "ahead.pdf")
    assert ahead is not None
    wait_for(lambda: _state(ahead.pid) == "Z", timeout=30)  # ended, not yet reaped: the order's write fails
    assert ahead.finish(_page(VALUE), VALUE) is None
    assert ahead.why == "the side process failed: RuntimeError('layout failed')"
    assert reaped(ahead.pid)


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()[0]


def test_a_stalled_side_process_does_not_hold_a_page_larger_than_the_pipe(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The final page goes down a pipe the side process reads only once it has laid the page out: a side process
    stuck in its layout is given up on after ANSWER_S, not waited for while the page fills the pipe."""
    monkeypatch.setattr(pdf_ahead, "_side", lambda *args: time.sleep(60))
    monkeypatch.setattr(pdf_ahead, "ANSWER_S", 0.3)
    large = _page(PLACEHOLDER, note="患者信息均已脱敏" * 40_000)  # ≈ 1 MB of UTF-8, many pipe buffers
    ahead = PdfAhead.start(large, PLACEHOLDER, tmp_path / "ahead.pdf")
    assert ahead is not None
    started = time.monotonic()
    assert ahead.finish(large.replace(PLACEHOLDER, VALUE), VALUE) is None
    assert time.monotonic() - started < 10
    assert reaped(ahead.pid)


def test_a_busy_machine_has_no_core_to_spare(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (7.9, 6.0, 5.0))
    assert not pdf_ahead.spare_core()
    monkeypatch.setattr(os, "getloadavg", lambda: (1.6, 1.0, 1.0))  # this run's own processes
    assert pdf_ahead.spare_core()


def test_none_is_started_on_a_busy_machine_without_weasyprint_or_a_placeholder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert PdfAhead.start(_page(VALUE), PLACEHOLDER, tmp_path / "x.pdf") is None
    monkeypatch.setattr(pdf_ahead, "spare_core", lambda: False)
    assert PdfAhead.start(_page(PLACEHOLDER), PLACEHOLDER, tmp_path / "x.pdf") is None
    monkeypatch.setattr(pdf_ahead, "spare_core", lambda: True)
    monkeypatch.delitem(__import__("sys").modules, "weasyprint")
    assert PdfAhead.start(_page(PLACEHOLDER), PLACEHOLDER, tmp_path / "x.pdf") is None


# -- the sign-off pack, as `hih run` writes it ------------------------------------------------------------------------
SUMMARY = {"decision": "fail", "release": "HIS 5.2.1", "operator": "13812345678", "host": "ci-01",
           "started": "2026-12-06T20:00:00+08:00", "finished": "2026-12-06T20:00:09+08:00",
           "totals": {"passed": 1, "failed": 1, "skipped": 0},
           "interfaces": {"lis": {"contract": "2024.1", "connector": "connectors.lis:reference", "passed": 1,
                                  "failed": 1, "skipped": 0,
                                  "connector_identity": {"name": "LIS 接口 v3", "label": "x", "kind": "version",
                                                         "value": "3.2.0", "git_commit": None}}},
           "scenarios": [{"interface": "lis", "feature": "检验申请", "name": "患者 110105194912310029",
                          "status": "failed", "nodeid": "features/lis/a.feature::b", "duration_s": 0.2,
                          "message": "SpecFailure: 姓名不符\n期望: 张三\n实际: 李四"},
                         {"interface": "lis", "feature": "检验申请", "name": "回执", "status": "passed",
                          "nodeid": "features/lis/a.feature::c", "duration_s": 0.1, "message": ""}]}


def _reports(folder: Path, ahead: bool, started: bool = False, expected: dict[str, Any] | None = None) -> tuple[int, str]:
    """The reports of SUMMARY; `started`: the side process started before any file is written, as `hih run` does;
    `expected`: the side process started from this summary, its end time left open (as `hih run` does at its last
    result)."""
    folder.mkdir()
    begun = writer.start_signoff_pdf(folder, SUMMARY, {}) if started else None
    if expected is not None:
        begun = writer.start_signoff_pdf(folder, expected, {}, finished_open=True)
    assert begun is not None or not started
    (folder / "summary.json").write_text(json.dumps(SUMMARY, ensure_ascii=False), encoding="utf-8")
    (folder / "pytest.log").write_text("1 failed, 1 passed\n", encoding="utf-8")
    writer.write_reports(folder, SUMMARY, {}, lay_out_ahead=ahead, ahead=begun)
    assert differences(folder)[0] == []
    digest = sha256_file(folder / "manifest.json")
    pages = int(subprocess.run(["pdfinfo", str(folder / "signoff.pdf")], capture_output=True, text=True, check=True,
                               timeout=60).stdout.split("Pages:")[1].split()[0])
    return pages, "".join(_pdf_text(folder / "signoff.pdf").split()).replace(digest, "<manifest>")


def _answers(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """What each side process answered (its PDF's pages, None when the caller had to write the PDF itself)."""
    monkeypatch.setenv("HIH_HISTORY", "off")
    answers: list[int | None] = []
    finish = PdfAhead.finish

    def told(self: PdfAhead, html: str, values: str | dict[str, str]) -> int | None:
        answers.append(finish(self, html, values))
        return answers[-1]

    monkeypatch.setattr(PdfAhead, "finish", told)
    return answers


@pytest.fixture(scope="module")
def last(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str]:
    """The pack of SUMMARY laid out last, with no side process: what every pack laid out ahead must read as. One for
    the module: the same summary gives the same pack (nothing in it depends on when it is written), so the tests
    compare with one layout instead of laying the same one out again each."""
    pdf.preload()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HIH_HISTORY", "off")

        def started(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a side process for the pack laid out last")

        patch.setattr(PdfAhead, "start", started)
        return _reports(tmp_path_factory.mktemp("last") / "last", ahead=False)


def test_the_signoff_laid_out_ahead_reads_as_the_one_laid_out_last(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, last: tuple[int, str]) -> None:
    answers = _answers(monkeypatch)
    ahead = _reports(tmp_path / "ahead", ahead=True)
    assert answers and answers[0] == ahead[0], "the side process wrote the PDF"
    assert len(answers) == 1
    assert ahead == last
    assert "<manifest>" in ahead[1] and "13812345678" not in ahead[1]


def test_the_side_process_started_before_any_report_gives_the_same_pack(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, last: tuple[int, str]) -> None:
    """`hih run` forks the side process before it writes summary.json and evidence.json: the pack is the same."""
    answers = _answers(monkeypatch)
    started = _reports(tmp_path / "started", ahead=False, started=True)
    assert answers and answers[0] == started[0], "the side process wrote the PDF"
    assert started == last
    assert "<manifest>" in started[1] and "13812345678" not in started[1]


# the last: a run expected to end in the second it started, both times then the same text on the page
@pytest.mark.parametrize("expected_end", ["2026-12-06T20:00:09+08:00", "2026-12-06T19:59:58+08:00",
                                          "2026-12-06T20:00:00+08:00"])
def test_the_side_process_started_before_the_end_time_is_known_gives_the_same_pack(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, expected_end: str, last: tuple[int, str]) -> None:
    """`hih run` forks the side process at its last result, from the summary expected to finish then: the end time
    it laid out (the one that came, or other digits) is replaced by the final one, and the pack is the same."""
    answers = _answers(monkeypatch)
    early = _reports(tmp_path / "early", ahead=False, expected={**SUMMARY, "finished": expected_end})
    assert answers and answers[0] == early[0], "the side process wrote the PDF"
    assert early == last
    assert "2026-12-0620:00:09+08:00" in early[1] and "19:59:58" not in early[1]
    html = (tmp_path / "early" / "signoff.html").read_text(encoding="utf-8")
    pdf.render_pdf(html, tmp_path / "fresh.pdf", signoff._print_css())
    assert (tmp_path / "early" / "signoff.pdf").read_bytes() == (tmp_path / "fresh.pdf").read_bytes()


def test_a_side_process_started_from_another_summary_leaves_the_pdf_to_the_caller(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, last: tuple[int, str]) -> None:
    answers = _answers(monkeypatch)
    expected = {**SUMMARY, "decision": "pass", "finished": "2026-12-06T20:00:08+08:00"}
    assert _reports(tmp_path / "other", ahead=False, expected=expected) == last
    assert answers == [None], "the page laid out was not the final one: the PDF was laid out again"


def test_two_placeholders_filled_in_give_the_pdf_of_the_final_page_byte_for_byte(tmp_path: Path) -> None:
    at, then = "2026-12-06 20:00:09+08:00", "2026-12-06 21:47:35+08:00"
    page = _page(PLACEHOLDER).replace("患者信息均已脱敏", at)
    ahead = PdfAhead.start(page, {"digest": PLACEHOLDER, "end": at}, tmp_path / "ahead.pdf")
    assert ahead is not None
    final = page.replace(PLACEHOLDER, VALUE).replace(at, then)
    assert ahead.finish(final, {"digest": VALUE, "end": then}) == pdf.render_pdf(final, tmp_path / "fresh.pdf")
    assert (tmp_path / "ahead.pdf").read_bytes() == (tmp_path / "fresh.pdf").read_bytes()
    assert reaped(ahead.pid)


def test_placeholders_that_overlap_or_values_missing_are_left_to_the_caller(tmp_path: Path) -> None:
    page = _page(PLACEHOLDER)
    assert PdfAhead.start(page, {"digest": PLACEHOLDER, "part": PLACEHOLDER[:10]}, tmp_path / "x.pdf") is None
    assert PdfAhead.start(page, {"digest": PLACEHOLDER, "empty": ""}, tmp_path / "x.pdf") is None
    ahead = PdfAhead.start(page, {"digest": PLACEHOLDER}, tmp_path / "x.pdf")
    assert ahead is not None
    assert ahead.finish(page.replace(PLACEHOLDER, VALUE), {"other": VALUE}) is None
    assert not (tmp_path / "x.pdf").exists() and reaped(ahead.pid)


def test_without_a_core_to_spare_the_page_is_not_rendered_ahead(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIH_HISTORY", "off")
    monkeypatch.setattr(pdf_ahead, "spare_core", lambda: False)

    def rendered(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("rendered for a side process that is not started")

    monkeypatch.setattr(signoff, "render_signoff", rendered)
    assert writer.start_signoff_pdf(tmp_path, SUMMARY, {}) is None
    monkeypatch.setattr(pdf_ahead, "spare_core", lambda: True)
    with pytest.raises(AssertionError, match="rendered for a side process"):
        writer.start_signoff_pdf(tmp_path, SUMMARY, {})


def test_a_side_process_handed_to_reports_that_fail_is_ended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIH_HISTORY", "off")
    folder = tmp_path / "reports"
    folder.mkdir()
    begun = writer.start_signoff_pdf(folder, SUMMARY, {})
    assert begun is not None

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(writer, "scrub_logs", broken)
    with pytest.raises(OSError, match="disk full"):
        writer.write_reports(folder, SUMMARY, {}, ahead=begun)
    assert begun.done and reaped(begun.pid), "ended and reaped, not left waiting for a page"
    assert not (folder / "signoff.pdf").exists()


def test_a_pdf_that_cannot_be_made_is_still_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIH_HISTORY", "off")

    def broken(html: str, print_css: str | None = None) -> Any:
        raise RuntimeError("the layout engine failed")

    monkeypatch.setattr(pdf, "lay_out", broken)  # in the side process (forked after this) and in this one
    folder = tmp_path / "reports"
    folder.mkdir()
    with pytest.raises(RuntimeError, match="the layout engine failed"):
        writer.write_reports(folder, SUMMARY, {}, lay_out_ahead=True)
    assert not (folder / "signoff.pdf").exists()

    def unavailable(html: str, print_css: str | None = None) -> Any:
        raise pdf.PdfUnavailable("WeasyPrint cannot be loaded (no Pango)")

    monkeypatch.setattr(pdf, "lay_out", unavailable)
    shutil.rmtree(folder)
    folder.mkdir()
    written = writer.write_reports(folder, SUMMARY, {}, lay_out_ahead=True)
    assert folder / "signoff.pdf" not in written and (folder / "signoff.html") in written
