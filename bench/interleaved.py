"""Sides measured in turn, round by round, and the medians of what each gave: what the scripts comparing checkouts
(or variants in one process) share, so that a shared machine's load falls on every side alike."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


def checkout_parser(description: str, rounds: int) -> argparse.ArgumentParser:
    """The options of a script measuring this checkout against another one: --rounds, --interface, --against."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--interface", default="insurance")
    parser.add_argument("--against", type=Path, default=None, metavar="DIR", help="another checkout, run first")
    return parser


def sides(against: Path | None, here: Path) -> list[Path]:
    """The other checkout first (when given), then this one."""
    return ([against] if against else []) + [here]


def interleave(rounds: int, sides: Sequence[K], measure: Callable[[K], T],
               show: Callable[[int, K, T], str]) -> dict[K, list[T]]:
    """`measure` each side once per round, in turn, printing `show(round from 1, side, figure)` as each comes."""
    figures: dict[K, list[T]] = {side: [] for side in sides}
    for n in range(rounds):
        for side in sides:
            got = measure(side)
            figures[side].append(got)
            print(show(n + 1, side, got), flush=True)
    return figures


def spread(values: Iterable[float], digits: int = 0) -> str:
    """'median M (min A, max B)' of the values, to `digits` decimals."""
    got = list(values)
    return (f"median {statistics.median(got):.{digits}f} (min {min(got):.{digits}f}, "
            f"max {max(got):.{digits}f})")
