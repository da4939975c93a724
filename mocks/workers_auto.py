"""`hih mock serve --workers auto`: as many serving processes as win for the mocks being served, on this machine.

More processes win only when a mock's own work per request outweighs what sharing its state costs (each worker
logs its writes to the shared SQLite file and applies the others'), and when the cores are not already taken by
what drives the mock (a load client, the hospital system under test). Each mock class says how many processes won
for it in the figures of bench/RESULTS.md (`MockService.auto_workers`, 1 unless measured otherwise); `auto` gives
the fewest any mock served asks for, never more than the machine's cores, and 1 whenever one process is required
(`--replay`, `--push`, a mock that keeps state outside its store).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from mocks.registry import mock_class

AUTO = "auto"


def auto_workers(names: Sequence[str], replay: bool = False, push: bool = False, cores: int | None = None) -> int:
    """The number of serving processes `--workers auto` means for the mocks `names`."""
    if replay or push or not names:
        return 1
    wanted = min(mock_class(name).auto_workers if mock_class(name).shares_state else 1 for name in names)
    available = cores if cores is not None else _cores()
    return max(1, min(wanted, available))


def _cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parse_workers(value: str) -> int | str:
    """`--workers` as given: a number of processes or `auto`; ValueError otherwise."""
    text = value.strip().lower()
    if text == AUTO:
        return AUTO
    number = int(text)
    if number < 1:
        raise ValueError(f"{value}: give 1 or more, or auto")
    return number
