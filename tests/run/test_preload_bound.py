"""`hih run` whose reports' preloading never ends (a font scan on a broken fontconfig, a blocked file system): the
end of the run waits for it at most its bound, then writes every report but signoff.pdf, says so in one line, and
exits with the gate's code."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from rich.console import Console

from harness.report import preloading
from harness.report.preloading import Preloading
from harness.run import runner
from harness.run.options import RunOptions
from harness.run.runner import run
from tests.conftest import DATA


def test_a_preload_that_never_ends_costs_the_run_its_pdf_not_its_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HIH_HISTORY", "off")
    release = threading.Event()
    preloads: list[bool] = []

    def stuck(signoff_pdf: bool) -> None:
        preloads.append(signoff_pdf)
        release.wait(120)  # ended by the test once the run is over

    monkeypatch.setattr(runner, "_preload_reports", stuck)
    monkeypatch.setattr(preloading, "PRELOAD_LIMIT_S", 0.5)
    report_dir = tmp_path / "reports"
    try:
        assert run(RunOptions(features_dir=DATA / "features", report_dir=report_dir),
                   Console(file=io.StringIO(), width=200, color_system=None)) == 0
    finally:
        release.set()
    assert preloads == [True], "the preloading was started, for a run that writes signoff.pdf"
    warnings = [line for line in capsys.readouterr().err.splitlines() if "signoff.pdf" in line]
    assert warnings == [("hih: warning: signoff.pdf not written: the reports' preloading (templates, WeasyPrint and its "
                         "fonts) did not finish within 0.5 s (a font scan or a file system that does not answer?)")]
    written = {p.name for p in report_dir.iterdir()}
    assert {"summary.json", "report.html", "manifest.json", "signoff.html"} <= written and "signoff.pdf" not in written
    assert json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))["decision"] == "pass"


def test_the_bound_counts_from_the_start_and_a_preload_never_started_is_not_waited_for() -> None:
    release = threading.Event()
    never = Preloading(release.wait, 30, limit_s=0.2)
    assert never.finished(), "not started: nothing to wait for"
    stuck = Preloading(release.wait, 30, limit_s=0.2)
    stuck.start()
    assert not stuck.finished() and not stuck.finished(), "a second wait is not a second bound"
    release.set()
    stuck.join(30)
    quick = Preloading(lambda: None, limit_s=0.2)
    quick.start()
    assert quick.finished()
