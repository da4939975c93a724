#!/usr/bin/env python3
"""Wall time of the insurance regression: `hih run --interface insurance`, N runs (default 5), median and min/max.

Runs the project's own `hih` (the venv this script runs under) from the project root, each run with its own
report folder under a temporary directory, and reports every run's exit code. A run that fails (exit code not 0)
is still timed; the summary says how many passed. Bounded: each run is killed after --timeout seconds.

  .venv/bin/python bench/run_regression.py [--runs 5] [--timeout 600] [--json FILE] [-- extra hih run args]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def hih_executable() -> str:
    local = Path(sys.executable).with_name("hih")
    return str(local) if local.exists() else (shutil.which("hih") or "hih")


def one_run(cmd: list[str], timeout: float) -> tuple[float, int, str]:
    """(wall seconds, exit code, last lines of output); exit code 124 when the run was killed at the timeout."""
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode("utf-8", "replace")
        return time.perf_counter() - start, 124, out[-600:]
    wall = time.perf_counter() - start
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-4:])
    return wall, done.returncode, tail


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=5, help="how many runs (default 5)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds before a run is killed (default 600)")
    ap.add_argument("--interface", default="insurance")
    ap.add_argument("--json", help="also write the timings to this JSON file")
    ap.add_argument("extra", nargs="*", help="further `hih run` arguments (after --)")
    args = ap.parse_args(argv)
    walls: list[float] = []
    codes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="hih-regression-") as tmp:
        for i in range(1, args.runs + 1):
            cmd = [hih_executable(), "run", "--interface", args.interface, "--report-dir", f"{tmp}/run{i}", *args.extra]
            wall, code, tail = one_run(cmd, args.timeout)
            walls.append(wall)
            codes.append(code)
            print(f"run {i}: {wall:.2f} s, exit {code}" + ("" if code == 0 else f"\n    {tail.replace(chr(10), chr(10) + '    ')}"),
                  flush=True)
    passed = sum(c == 0 for c in codes)
    print(f"`hih run --interface {args.interface}`: median {statistics.median(walls):.2f} s, "
          f"min {min(walls):.2f} s, max {max(walls):.2f} s over {len(walls)} runs; {passed}/{len(walls)} exited 0")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"cmd": f"hih run --interface {args.interface}", "walls_s": walls,
                                               "exit_codes": codes, "median_s": statistics.median(walls)}, indent=1))
    return 0 if passed == len(walls) else 1


if __name__ == "__main__":
    sys.exit(main())
