#!/usr/bin/env python3
"""CPU seconds of a pytest run's whole process tree (user+system of pytest and of every process it waited for: the
fork servers, the runs' pytest processes, the mocks), this checkout's against another's, interleaved. Not part of
the suite: for tests whose children bench/test_cpu.py may count late or not at all (it counts a fork server's children
when they report), and for a change to how a test starts its processes.

  .venv/bin/python bench/tree_cpu.py --against /tmp/base [--pairs 2] -- tests/x.py -k name -p no:xdist

Each pair runs the other checkout's pytest (its own .venv, from its folder) and then this one's, with the same
arguments (`-q -p no:randomly` added); the machine's load average is printed with each run, as the machine may be
shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 1800.0
"""The longest one run may take."""


@dataclass(frozen=True)
class Measured:
    """One pytest run: its tree's CPU seconds, its wall seconds, the load average before and after, its last line."""

    cpu_s: float
    wall_s: float
    load: tuple[float, float]
    said: str


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text(encoding="ascii").split()[0])


def measure(checkout: Path, args: list[str]) -> Measured:
    """Run `checkout`'s pytest with `args` from `checkout`, to its end."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before, load = resource.getrusage(resource.RUSAGE_CHILDREN), load_average()
    started = time.perf_counter()
    done = subprocess.run([str(checkout / ".venv" / "bin" / "pytest"), "-q", "-p", "no:randomly", *args], cwd=checkout,
                          env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = done.stdout.strip().splitlines()
    return Measured(cpu, wall, (load, load_average()), lines[-1] if lines else f"exit {done.returncode}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", type=Path, required=True, help="the other checkout (with its own .venv)")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: pytest's arguments")
    options = parser.parse_args()
    args = [a for a in options.pytest_args if a != "--"]
    for pair in range(1, options.pairs + 1):
        for name, checkout in (("base", options.against.resolve()), ("change", ROOT)):
            got = measure(checkout, args)
            print(f"pair {pair} {name}: CPU {got.cpu_s:.2f} s, wall {got.wall_s:.1f} s, "
                  f"load {got.load[0]:.1f} -> {got.load[1]:.1f}; {got.said}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
