#!/usr/bin/env python3
"""Wall time of the regression: `hih run` with its defaults (every interface), or `--interface NAME`; N runs
(default 5), median, min and max, with each run's CPU and how busy the rest of the machine was.

Runs the project's own `hih` (the venv this script runs under) from the project root, each run with its own
report folder under a temporary directory, and reports every run's exit code. The runs share a run history in that
directory, as repeated runs on a workstation or in CI do (hih shares the interfaces among its processes by their
recorded times); a first run, not counted, records it (`--no-warm-up` counts every run, the first without history). A run that fails (exit code not 0) is still timed; the summary says how many passed.
Bounded: each run is killed after --timeout seconds.

"CPU" is the user+system time of hih and every process it started; "other CPU" is the machine's busy time during
the run that was not this run's, as a share of all its cores: figures taken while it is above a few per cent are
not figures of record.

  .venv/bin/python bench/run_regression.py [--runs 5] [--interface NAME]... [--timeout 600] [--json FILE]
                                           [-- extra hih run args]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from procstat import machine_busy_s

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Timed:
    wall_s: float
    cpu_s: float
    other_cpu: float
    """The share of the machine's cores busy with something else during the run (0..1)."""
    code: int
    tail: str


def hih_executable() -> str:
    local = Path(sys.executable).with_name("hih")
    return str(local) if local.exists() else (shutil.which("hih") or "hih")


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(cmd: list[str], timeout: float, env: dict[str, str] | None = None, log: Path | None = None) -> Timed:
    """Run `cmd` from the project root; exit code 124 when it was killed at the timeout. `log`: where to keep its
    whole output (a failure's message is more than the tail)."""
    cpu0, busy0, start = children_cpu_s(), machine_busy_s(), time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              env=env, check=False)
        if log is not None:
            log.write_text(done.stdout + done.stderr, encoding="utf-8")
        lines = (done.stdout + done.stderr).strip().splitlines()
        failed = [line for line in lines[:-4] if line.startswith(("FAILED ", "ERROR "))]  # every one, not the last
        code, tail = done.returncode, "\n".join([*failed, *lines[-4:]])
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode("utf-8", "replace")
        code, tail = 124, out[-600:]
        if log is not None:
            log.write_text(out, encoding="utf-8")
    wall = time.perf_counter() - start
    cpu, busy = children_cpu_s() - cpu0, machine_busy_s() - busy0
    other = max(0.0, busy - cpu) / (wall * (os.cpu_count() or 1))
    return Timed(wall, cpu, other, code, tail)


def report(label: str, runs: list[Timed]) -> str:
    walls = [r.wall_s for r in runs]
    passed = sum(r.code == 0 for r in runs)
    return (f"{label}: median {statistics.median(walls):.2f} s, min {min(walls):.2f} s, max {max(walls):.2f} s over "
            f"{len(runs)} runs; CPU median {statistics.median(r.cpu_s for r in runs):.1f} s; other CPU median "
            f"{100 * statistics.median(r.other_cpu for r in runs):.0f} %; {passed}/{len(runs)} exited 0")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=5, help="how many runs (default 5)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds before a run is killed (default 600)")
    ap.add_argument("--interface", action="append", default=[], help="only this interface (repeatable; default: all)")
    ap.add_argument("--json", help="also write the timings to this JSON file")
    ap.add_argument("--no-warm-up", action="store_true", help="count every run (the first one without history)")
    ap.add_argument("extra", nargs="*", help="further `hih run` arguments (after --)")
    args = ap.parse_args(argv)
    selected = [a for name in args.interface for a in ("--interface", name)]
    label = " ".join(["hih run", *selected, *args.extra])
    runs: list[Timed] = []
    with tempfile.TemporaryDirectory(prefix="hih-regression-") as tmp:
        env = {**os.environ, "HIH_HISTORY": f"{tmp}/history.sqlite"}
        if not args.no_warm_up:
            first = timed_run([hih_executable(), "run", *selected, "--report-dir", f"{tmp}/warm-up", *args.extra],
                              args.timeout, env)
            print(f"warm-up (not counted, no history yet): {first.wall_s:.2f} s, CPU {first.cpu_s:.1f} s, "
                  f"other CPU {100 * first.other_cpu:.0f} %, exit {first.code}", flush=True)
        for i in range(1, args.runs + 1):
            cmd = [hih_executable(), "run", *selected, "--report-dir", f"{tmp}/run{i}", *args.extra]
            run = timed_run(cmd, args.timeout, env)
            runs.append(run)
            print(f"run {i}: {run.wall_s:.2f} s, CPU {run.cpu_s:.1f} s, other CPU {100 * run.other_cpu:.0f} %, "
                  f"exit {run.code}" + ("" if run.code == 0 else f"\n    {run.tail.replace(chr(10), chr(10) + '    ')}"),
                  flush=True)
    print(f"`{label}`: " + report("", runs).removeprefix(": "))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"cmd": label, "runs": [asdict(r) for r in runs],
                                               "median_s": statistics.median(r.wall_s for r in runs)}, indent=1))
    return 0 if all(r.code == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
