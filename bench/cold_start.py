#!/usr/bin/env python3
"""What a fresh clone's first `./scripts/test` pays for bytecode: CPU seconds of the parallel pass's start (its
pytest-xdist workers collecting the suite) with no bytecode anywhere, with the one-process warm-up that
./scripts/test runs first when the tests have none, and warm; and of a small `hih run` after each.

A fresh clone has no bytecode: uv installs the packages of `.venv` without it, and pytest has rewritten none of the
tests. Each process that starts then compiles what it imports and rewrites the test modules it collects, and the
xdist workers all start at once, so each compiles the same modules. The cold case is made by deleting every
`__pycache__` of the checkout and every `.pyc` under its `.venv`: run it on a throw-away clone (it needs its own
`.venv`, `./scripts/setup`), never on a checkout someone is using.

  .venv/bin/python bench/cold_start.py --clone /tmp/fresh [--workers 4] [--rounds 2]

CPU is user + system of the command and the children it waited for; wall times are printed but mean little on a
shared machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

WARM_UP = ["-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", "-p", "no:randomly"]
"""The warm-up of ./scripts/test (keep the two the same)."""


def clear_bytecode(clone: Path) -> int:
    """Delete the checkout's `__pycache__` folders and every `.pyc` of its `.venv`; how many files went."""
    gone = 0
    for folder in clone.rglob("__pycache__"):
        if folder.is_dir():
            gone += sum(1 for _ in folder.iterdir())
            shutil.rmtree(folder)
    return gone


def cpu_of(cmd: list[str], cwd: Path) -> tuple[float, float, int]:
    """(CPU s, wall s, exit code) of one command, its children included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          check=False, timeout=900)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 1):
        print(f"  {' '.join(cmd[:6])} … exit {done.returncode}: {done.stderr.strip()[-400:]}", file=sys.stderr)
    return cpu, wall, done.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--clone", type=Path, required=True, help="a throw-away clone with its own .venv")
    ap.add_argument("--workers", type=int, default=4, help="xdist workers, as ./scripts/test starts (default 4)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of the three cases (default 2)")
    args = ap.parse_args(argv)
    clone = args.clone.resolve()
    python = str(clone / ".venv" / "bin" / "python")
    if not Path(python).exists() or clone == Path(__file__).resolve().parents[1]:
        ap.error("--clone must be another checkout with its own .venv (this one's bytecode would be deleted)")
    # --collect-only would not start xdist's workers: they collect the whole suite and run one trivial test.
    parallel = [python, "-m", "pytest", "-q", "-n", str(args.workers), "--dist", "loadgroup", "-m", "not serial",
                "-p", "no:randomly", "-k", "test_grace"]
    run = [str(clone / ".venv" / "bin" / "hih"), "run", "--interface", "insurance", "--tags", "@smoke", "--no-signoff-pdf",
           "--report-dir", str(clone / "reports" / "cold-start")]
    figures: dict[str, list[float]] = {}
    for i in range(1, args.rounds + 1):
        for case in ("cold", "warmed", "warm"):
            gone = clear_bytecode(clone) if case != "warm" else 0
            warm_up = cpu_of([python, *WARM_UP], clone) if case == "warmed" else (0.0, 0.0, 0)
            collect = cpu_of(parallel, clone)
            small = cpu_of(run, clone)
            total = warm_up[0] + collect[0]
            for key, value in ((f"{case} start", total), (f"{case} hih run", small[0])):
                figures.setdefault(key, []).append(value)
            print(f"round {i} {case:6}: {gone} bytecode files deleted; warm-up {warm_up[0]:.1f} s CPU "
                  f"({warm_up[1]:.1f} s wall), {args.workers} workers collecting {collect[0]:.1f} s CPU "
                  f"({collect[1]:.1f} s wall), together {total:.1f} s; then a small hih run {small[0]:.1f} s CPU "
                  f"(exit {small[2]})", flush=True)
    print("medians (CPU s): " + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
