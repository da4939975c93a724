"""The record of every run (SQLite), so `hih history` can show pass/fail across runs and mark flaky scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def record_run(summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]], report_dir: Path) -> None:
    """Keep one finished run (summary.json's document and the exchanges per scenario nodeid)."""
