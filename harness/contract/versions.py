"""Ordering of contract version names such as 2023.1 < 2024.1 < 2024.10, and which version is in force on a day."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Sort key: numeric parts compare as numbers, other parts as text."""
    parts = re.split(r"[.\-_]", version)
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in parts)


def newest(versions: list[str]) -> str:
    return max(versions, key=version_key)


def compare(left: str, right: str) -> int:
    a, b = version_key(left), version_key(right)
    return (a > b) - (a < b)


def satisfies(version: str, expression: str) -> bool:
    """True when `version` satisfies `>=2024.1`, `<2024.1`, `==2023.1` (also `>`, `<=`, `!=`)."""
    match = re.fullmatch(r"\s*(>=|<=|==|!=|>|<|=)?\s*(\S+)\s*", expression)
    if not match:
        raise ValueError(f"not a version expression: {expression!r}")
    op, other = match.group(1) or "==", match.group(2)
    c = compare(version, other)
    return {
        ">=": c >= 0, "<=": c <= 0, "==": c == 0, "=": c == 0, "!=": c != 0, ">": c > 0, "<": c < 0,
    }[op]


# -- policy dates ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VersionDates:
    """When a contract version applies: `effective` (in force from), else `released`; None when it says neither."""

    version: str
    effective: date | None
    released: date | None = None

    @property
    def in_force_from(self) -> date:
        """The first day the version is in force (a version without dates has always been)."""
        return self.effective or self.released or date.min

    def in_force(self, as_of: date) -> bool:
        return self.in_force_from <= as_of


def parse_day(text: str) -> date | None:
    """`YYYY-MM-DD` as a date; None when it is not one (the contract's meta-schema reports the problem)."""
    try:
        return date.fromisoformat(text.strip()) if re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", text) else None
    except ValueError:
        return None


def in_force(dates: list[VersionDates], as_of: date) -> str | None:
    """The newest version in force on `as_of` (by version order, not by date), or None when none is."""
    current = [d.version for d in dates if d.in_force(as_of)]
    return newest(current) if current else None


def upcoming(dates: list[VersionDates], as_of: date) -> list[VersionDates]:
    """Versions not yet in force on `as_of`, soonest first."""
    return sorted((d for d in dates if not d.in_force(as_of)), key=lambda d: (d.in_force_from, version_key(d.version)))
