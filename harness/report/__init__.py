"""Reports of a run, written next to summary.json and junit.xml: every writer is called by the runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_reports(report_dir: Path, summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]]) -> list[Path]:
    """Write the reports derived from a finished run; returns the files written."""
    return []
