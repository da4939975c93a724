"""Which interfaces each pytest child of a run takes (a lane), so that the lanes end at about the same time.

A run of several interfaces starts one pytest process per lane, side by side, each collecting and running only its
own interfaces (cheaper than pytest-xdist's workers, which each collect every interface and send every report
through a controller). The split makes the busiest lane as light as it can be; the work of an interface is its time
in the last recorded full run (the run history), else an estimate from its feature files (one unit per scenario and
per two example rows).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

_SCENARIO = re.compile(r"^\s*(?:Scenario|Scenario Outline|Scenario Template|Example|场景|场景大纲|剧本|剧本大纲)\s*:",
                       re.M)
_ROW = re.compile(r"^\s*\|", re.M)


@dataclass
class Lane:
    """One pytest child: its interfaces and the xdist workers inside it (1: none)."""

    index: int
    interfaces: list[str] = field(default_factory=list)
    workers: int = 1
    load: float = 0.0


def estimate(features: Path) -> float:
    """Scenarios and example rows of the feature files under `features` (a stand-in for time without history)."""
    total = 0
    for path in sorted(features.rglob("*.feature")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        total += len(_SCENARIO.findall(text)) + len(_ROW.findall(text)) // 2
    return float(max(total, 1))


def deal(feature_dirs: dict[str, Path], workers: int, recorded: dict[str, float],
         kinds: dict[str, str] | None = None) -> list[Lane]:
    """Split the interfaces into at most `workers` lanes; a single interface gets every worker (xdist) instead.

    `kinds` (interface -> transport) keeps interfaces of one transport together where that costs (almost) no
    balance: each process then imports and starts one transport's libraries (zeep, hl7apy, ...) once."""
    names = list(feature_dirs)
    if len(names) <= 1 or workers <= 1:
        return [Lane(0, names, workers if len(names) == 1 else 1)]
    count = min(workers, len(names))
    lanes = [Lane(i) for i in range(count)]
    if all(name in recorded for name in names):
        weights = {name: max(recorded[name], 0.001) for name in names}
    else:
        weights = {name: estimate(folder) for name, folder in feature_dirs.items()}
    for name, index in _split(names, weights, count, kinds or {}).items():
        lanes[index].interfaces.append(name)
        lanes[index].load += weights[name]
    spare = workers // count
    for lane in lanes:
        lane.workers = spare if spare > 1 else 1
        lane.interfaces.sort(key=names.index)
    return lanes


EXHAUSTIVE = 50_000
"""Up to this many ways to split, the best split is searched; beyond, longest first to the least loaded lane."""
TOLERANCE = 0.05
"""Splits whose busiest lane is within this share of the best count as balanced; the fewest transports split wins."""


def _split(names: list[str], weights: dict[str, float], count: int, kinds: dict[str, str]) -> dict[str, int]:
    """Interface -> lane index, making the most loaded lane as light as possible (and transports kept together)."""
    ordered = sorted(names, key=lambda n: (-weights[n], n))
    if count ** len(ordered) <= EXHAUSTIVE:
        found: list[tuple[float, int, tuple[int, ...]]] = []
        for choice in itertools.product(range(count), repeat=len(ordered)):
            if choice[0] != 0 or set(choice) != set(range(count)):
                continue  # the same split under other lane numbers, or a lane left idle
            loads = [0.0] * count
            for name, lane in zip(ordered, choice, strict=True):
                loads[lane] += weights[name]
            spread = len({(lane, kinds.get(name, name)) for name, lane in zip(ordered, choice, strict=True)})
            found.append((max(loads), spread, choice))
        if found:
            best = min(load for load, _, _ in found)
            balanced = [f for f in found if f[0] <= best * (1 + TOLERANCE) + 1e-9]
            _, _, choice = min(balanced, key=lambda f: (f[1], f[0]))
            return dict(zip(ordered, choice, strict=True))
    loads = [0.0] * count
    chosen = {}
    for name in ordered:
        lane = min(range(count), key=lambda i: (loads[i], i))
        chosen[name] = lane
        loads[lane] += weights[name]
    return chosen
