#!/usr/bin/env python3
"""Wall time of hih's own check, `./scripts/test` (set-up, ruff, mypy, the tests in parallel, then the serial ones),
N runs (default 5): median, min and max, with each run's CPU and how busy the rest of the machine was.

  .venv/bin/python bench/test_suite.py [--runs 5] [--timeout 1800] [--json FILE] [--log DIR] [-- extra pytest args]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import asdict
from pathlib import Path

from run_regression import ROOT, Timed, report, timed_run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=5, help="how many runs (default 5)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds before a run is killed (default 1800)")
    ap.add_argument("--json", help="also write the timings to this JSON file")
    ap.add_argument("--log", help="keep each run's whole output in this folder (run-N.log)")
    ap.add_argument("extra", nargs="*", help="further pytest arguments (after --)")
    args = ap.parse_args(argv)
    runs: list[Timed] = []
    for i in range(1, args.runs + 1):
        # No arguments of our own: with none, the serial pass collects only the files that hold serial tests, as in CI.
        log = None
        if args.log:
            Path(args.log).mkdir(parents=True, exist_ok=True)
            log = Path(args.log) / f"run-{i}.log"
        run = timed_run([str(ROOT / "scripts" / "test"), *args.extra], args.timeout, log=log)
        runs.append(run)
        print(f"run {i}: {run.wall_s:.1f} s, CPU {run.cpu_s:.0f} s, other CPU {100 * run.other_cpu:.0f} %, "
              f"exit {run.code}" + ("" if run.code == 0 else f"\n    {run.tail.replace(chr(10), chr(10) + '    ')}"),
              flush=True)
    print(report("`./scripts/test`", runs))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"cmd": " ".join(["./scripts/test", *args.extra]), "runs": [asdict(r) for r in runs],
                                               "median_s": statistics.median(r.wall_s for r in runs)}, indent=1))
    return 0 if all(r.code == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
