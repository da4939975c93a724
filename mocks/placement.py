"""Where `hih mock serve --workers N`'s serving processes run: one core each, when they are as many as the cores.

On a machine other jobs load (a shared CI runner), two LIS workers left to the scheduler were runnable on the same
core in 25–93 % of samples, one waiting for the other (the balancer evens out the machine's load, not theirs), and in
0–2 % once placed; on a quiet machine the scheduler keeps them apart by itself, and placing them changes nothing (bench/RESULTS.md, "MLLP mocks: ..., tenth pass"; `bench/peers.py --account` shows it). When the workers are as many as the cores this process may use
(its CPU set, which `taskset` or a container narrows: `--workers auto` on the LIS gives that on two cores), worker `i`
is placed on the `i`-th of them; every thread of the worker, those started later inheriting it. Otherwise none is
placed: with fewer workers there are cores to spread onto, and a choice of cores made here would stack several
`hih mock serve` of one machine on the same ones; with more, the scheduler shares them out.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path


def allowed_cores() -> list[int]:
    """The cores this process may run on, in order (empty where the platform cannot say or place)."""
    if not hasattr(os, "sched_getaffinity") or not hasattr(os, "sched_setaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


def core_of(index: int, count: int, allowed: Sequence[int]) -> int | None:
    """The core worker `index` (0-based) of `count` runs on, or None to leave it to the scheduler (workers not as
    many as the `allowed` cores, or a single process: nothing to keep apart)."""
    if count < 2 or count != len(allowed) or not 0 <= index < count:
        return None
    return allowed[index]


def place(cores: Collection[int]) -> None:
    """Run every thread of this process on `cores` from now on (threads started later inherit the caller's set)."""
    try:
        threads = [int(t.name) for t in Path("/proc/self/task").iterdir()]
    except OSError:  # no /proc: the calling thread alone
        threads = [0]
    for thread in threads:
        try:
            os.sched_setaffinity(thread, cores)
        except OSError:  # a thread that ended meanwhile, a set the kernel refused: placement is a preference
            continue


def place_worker(index: int, count: int) -> int | None:
    """Place worker `index` of `count` on its own core when they are as many as the cores (`core_of`); the core, or
    None."""
    core = core_of(index, count, allowed_cores())
    if core is not None:
        place({core})
    return core
