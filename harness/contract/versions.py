"""Ordering of contract version names such as 2023.1 < 2024.1 < 2024.10."""

from __future__ import annotations

import re


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
