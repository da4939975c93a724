"""harness.run.history_beside: the run recorded by a thread while its reports are written, kept as `record_run`
keeps it, removed again when the reports fail; and `hih run` with its history on, both ways. Every database is under
tmp_path."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.report import writer
from harness.run.history import record, record_run
from harness.run.history_beside import RecordBeside
from harness.run.options import RunOptions
from harness.run.runner import run
from tests.conftest import DATA
from tests.run.test_history import A, run_summary

TABLES = ("runs", "run_interfaces", "scenario_results")
EVIDENCE: dict[str, list[dict[str, Any]]] = {
    A: [{"operation": "2207", "request": {"infno": "2207", "input": {"data": {"card_sn": "X"}}},
         "response": {"infcode": 0, "output": {"setlinfo": {"balc": 1}}}},
        {"operation": "2601", "request": {"infno": "2601"}, "response": None, "fault": "reset"}]}


def _rows(db: Path, but: tuple[str, ...] = ("recorded",)) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, less the runs' columns `but` names (by default the time the row was written)."""
    with sqlite3.connect(db) as conn:
        found = {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in TABLES}
        columns = [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
    kept = [i for i, name in enumerate(columns) if name not in but]
    found["runs"] = [tuple(row[i] for i in kept) for row in found["runs"]]
    return found


def test_kept_it_is_the_record_record_run_makes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIH_HISTORY", raising=False)
    summary = run_summary({A: "passed"})
    beside = RecordBeside(summary, EVIDENCE, tmp_path / "beside" / "latest")
    beside.keep()
    record_run(summary, EVIDENCE, tmp_path / "after" / "latest")
    made = _rows(tmp_path / "beside" / "history.sqlite", ("recorded", "report_dir"))
    assert made["runs"] and made["scenario_results"]
    assert made == _rows(tmp_path / "after" / "history.sqlite", ("recorded", "report_dir"))
    with sqlite3.connect(tmp_path / "beside" / "history.sqlite") as conn:
        assert conn.execute("SELECT report_dir FROM runs").fetchall() == [(str(tmp_path / "beside" / "latest"),)]
    assert beside.run_id == 1


def test_dropped_the_run_leaves_the_history_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "history.sqlite"
    monkeypatch.setenv("HIH_HISTORY", str(db))
    record(db, run_summary({A: "failed"}, started="2026-11-21T10:00:00+08:00"), EVIDENCE)
    before = _rows(db)
    beside = RecordBeside(run_summary({A: "passed"}), EVIDENCE, tmp_path / "reports")
    beside.drop()
    assert beside.run_id == 2, "the run was recorded, then removed"
    assert _rows(db) == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM scenario_results WHERE run_id = 2").fetchone() == (0,)


def test_a_database_that_cannot_be_written_is_one_warning_told_by_keep(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "history.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("HIH_HISTORY", str(bad))
    beside = RecordBeside(run_summary({A: "passed"}), {}, tmp_path / "reports")
    beside._join()
    assert capsys.readouterr().err == "", "nothing printed from the thread"
    beside.keep()
    err = capsys.readouterr().err
    assert err.startswith("hih: warning: run not recorded in the history: run history ") and err.count("\n") == 1
    beside.drop()  # nothing recorded: nothing to remove, no error
    assert bad.read_bytes() == b"this is not sqlite" * 100


def test_switched_off_it_starts_no_thread_and_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIH_HISTORY", "off")
    beside = RecordBeside(run_summary({A: "passed"}), {}, tmp_path / "reports" / "latest")
    assert beside._thread is None
    beside.keep()
    beside.drop()
    assert not (tmp_path / "reports").exists()


def test_an_internal_error_of_the_thread_is_raised_by_keep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIH_HISTORY", str(tmp_path / "history.sqlite"))
    with pytest.raises(AttributeError):
        RecordBeside({"interfaces": {"insurance": "not a row"}}, {}, tmp_path / "reports").keep()


# -- `hih run`, its history on --------------------------------------------------------------------------------------
def _gate(tmp_path: Path) -> int:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    return run(RunOptions(features_dir=DATA / "features", report_dir=tmp_path / "reports", signoff_pdf=False), console)


def test_a_run_is_recorded_with_its_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIH_HISTORY", raising=False)
    assert _gate(tmp_path) == 0
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text(encoding="utf-8"))
    with sqlite3.connect(tmp_path / "history.sqlite") as conn:
        runs = conn.execute("SELECT started, decision, report_dir FROM runs").fetchall()
        scenarios = conn.execute("SELECT COUNT(*) FROM scenario_results").fetchone()[0]
    assert runs == [(summary["started"], "pass", str(tmp_path / "reports"))]
    assert scenarios == len(summary["scenarios"]) > 0


def test_a_run_whose_reports_fail_is_not_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIH_HISTORY", raising=False)
    assert _gate(tmp_path) == 0
    first = _rows(tmp_path / "history.sqlite")
    kept = (tmp_path / "reports" / "summary.json").read_bytes()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(writer, "write_reports", broken)
    with pytest.raises(OSError, match="disk full"):
        _gate(tmp_path)
    assert _rows(tmp_path / "history.sqlite") == first, "only the run whose reports were written is in the history"
    assert (tmp_path / "reports" / "summary.json").read_bytes() == kept, "the previous report stays"
