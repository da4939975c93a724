"""What `hih run` prints: in a CI log (no terminal) a line per finished interface and at least one every
`HEARTBEAT_S` seconds; the summary table fits 80 columns, connectors shown by their short label."""

from __future__ import annotations

import io
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

import pytest
from rich.console import Console

from harness.run import progress
from harness.run.options import RunOptions
from harness.run.progress import LazyConsole, RunProgress, print_summary, real_console
from harness.run.results import ScenarioResult
from harness.run.runner import run
from tests.conftest import DATA

FEATURES = DATA / "features"
SLOW = "tests.data.connectors.slow_connector:make"


class TimedLog(io.StringIO):
    """A CI log: what was written, and when each line ended."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[float, str]] = []
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            self.lines.append((time.monotonic(), line))
        return super().write(text)


@pytest.mark.serial  # measures the gaps between log lines
def test_a_ci_log_gets_a_line_per_interface_and_never_stays_quiet(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Each person query of the slow connector takes 1 s: the three that run keep the log without an interface's
    line for 3 s, longer than the heartbeat of 0.25 s set here and its allowance together (without heartbeat lines
    the test fails): progress lines keep coming anyway."""
    monkeypatch.setattr(progress, "HEARTBEAT_S", 0.25)
    monkeypatch.setenv("HIH_TEST_SLOW_S", "1.0")
    log = TimedLog()
    console = Console(file=log, width=80, color_system=None)
    assert not console.is_terminal
    started = time.monotonic()

    code = run(RunOptions(features_dir=FEATURES, report_dir=tmp_path / "reports", workers=1,
                          connectors={"insurance": SLOW}, signoff_pdf=False), console)

    assert code == 0
    texts = [text for _, text in log.lines]
    assert "hih run: 4 scenarios in 1 interface(s): insurance 4" in texts
    assert any(t.startswith("hih run: ") and " of 4 scenarios done, 0 failed (" in t for t in texts)
    assert any(t.startswith("insurance: finished, 3 passed, 0 failed, 1 skipped (") for t in texts)
    during = [at for at, text in log.lines if text.startswith(("hih run: ", "insurance: finished"))]
    gaps = [b - a for a, b in zip([started, *during], during, strict=False)]
    assert len(during) >= 4 and max(gaps[1:]) < 0.25 + 2.0, gaps  # heartbeat, plus a poll and a busy machine
    assert all(len(text) <= 80 for text in texts), "the summary table fits the CI log's 80 columns"
    assert "\x1b[" not in log.getvalue(), "no terminal codes in a log"


def test_a_terminal_gets_a_progress_bar_not_heartbeat_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "HEARTBEAT_S", 0.1)
    console = Console(file=io.StringIO(), width=100, force_terminal=True, color_system=None)
    assert run(RunOptions(features_dir=FEATURES, report_dir=tmp_path / "reports", workers=1, signoff_pdf=False),
               console) == 0
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert " of 4 scenarios done" not in printed and "GATE OPEN" in printed


def summary(connector: dict[str, Any]) -> dict[str, Any]:
    rows = {name: {"contract": "2025.1", "connector": "x", "passed": 53, "failed": 10, "skipped": 2,
                   "duration_s": 12.5, **connector} for name in ("blood-center", "insurance", "mch-platform")}
    return {"interfaces": rows, "scenarios": [], "totals": {"passed": 159, "failed": 30, "skipped": 6},
            "decision": "fail", "duration_s": 14.2}


@pytest.mark.parametrize("connector", [
    {"connector_identity": {"label": "reference"}},
    {"connector": "hospital_integration.adapters.insurance_his_v5:make_connector"},
    {"connector_identity": {"label": "listener 10.100.200.123:2575"}},
], ids=["reference", "long module:factory", "listener"])
def test_the_summary_table_fits_80_columns(connector: dict[str, Any]) -> None:
    console = Console(file=io.StringIO(), width=80, color_system=None)
    print_summary(console, summary(connector), Path("reports/latest"))
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    table = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert len(table) == 3 + 3 + 1, "one line per row: nothing wraps"
    assert all(len(line) <= 80 for line in lines)
    row = next(line for line in table if "insurance" in line)
    assert "2025.1" in row and "53" in row and "12.5s" in row
    shown = connector.get("connector_identity", {}).get("label") or connector["connector"]
    cell = row.split("│")[3].strip()
    assert cell == shown or (cell.startswith("…") and shown.endswith(cell[1:]) and len(cell) >= 9), "the tail is kept"


def test_a_lazy_console_is_made_at_the_first_thing_shown_and_drives_the_bar() -> None:
    made: list[Console] = []

    def make() -> Console:
        made.append(Console(file=io.StringIO(), width=100, force_terminal=True, color_system=None))
        return made[-1]

    console = LazyConsole(make)
    with RunProgress(cast(Console, console)) as shown:
        assert made == [], "nothing is made when the run begins"
        shown.collected(Counter({"insurance": 2}))
        assert len(made) == 1 and shown.live
        shown.result(ScenarioResult(nodeid="a", interface="insurance", feature="f", name="n", status="failed",
                                    duration_s=0.1))
    assert len(made) == 1
    assert "FAILED insurance · f · n" in made[0].file.getvalue()  # type: ignore[attr-defined]
    assert real_console(cast(Console, console)) is made[0]
