"""One check every hih.toml section shares: the section is a table and names only keys hih knows.

Kept apart from harness/config.py so that the modules which parse a section of their own (harness/insurance_regions.py)
use it without importing the whole configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import UsageError


def checked_table(path: Path, section: str, table: Any, known: set[str]) -> dict[str, Any]:
    """`table` when it is a table of known keys only; else a UsageError naming the file, the section and the first
    unknown key (with the keys it knows)."""
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [{section}] must be a table")
    unknown = sorted(set(table) - known)
    if unknown:
        raise UsageError(f"{path}: [{section}] unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    return table
