"""The record of every run (SQLite), so `hih history` can show pass/fail across runs and mark flaky scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def record_run(summary: dict[str, Any], database: Path | None = None) -> None:
    """Keep one finished run."""
