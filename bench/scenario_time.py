#!/usr/bin/env python3
"""How long a scenario of the tests' tiny feature folder (tests/data/features) takes, set-up included, in a real
`hih run` on one worker or two: the figure the scenario deadline of tests/run/test_deadline.py must stay well above
(the first scenario in a process starts the mock). N runs each (default 5); the longest scenario of each run, from
its junit.xml, and how busy the machine was (its load average), since the deadline tests share the machine.

  .venv/bin/python bench/scenario_time.py [--runs 5] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

from lxml import etree
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.run.options import RunOptions  # noqa: E402 - after the project root is on the path
from harness.run.runner import run  # noqa: E402


def scenario_times(workers: int) -> dict[str, float]:
    """Each scenario's time (set-up, steps and teardown, as junit.xml gives it) in one run of the tiny folder."""
    with tempfile.TemporaryDirectory(prefix="hih-scenario-time-") as folder:
        reports = Path(folder) / "reports"
        code = run(RunOptions(features_dir=ROOT / "tests" / "data" / "features", report_dir=reports, workers=workers),
                   Console(file=io.StringIO(), width=120))
        if code != 0:
            raise SystemExit(f"the run of tests/data/features on {workers} worker(s) exited {code}: see {reports}")
        root = etree.parse(str(reports / "junit.xml")).getroot()
        return {str(case.get("name")): float(case.get("time") or 0) for case in root.iter("testcase")
                if case.find("skipped") is None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=5, help="runs per number of workers (default 5)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="numbers of workers (default 1 2)")
    args = ap.parse_args(argv)
    for workers in args.workers:
        longest = []
        for i in range(1, args.runs + 1):
            load = os.getloadavg()[0]
            times = scenario_times(workers)
            longest.append(max(times.values()))
            print(f"{workers} worker(s), run {i}: longest scenario {longest[-1]:.3f} s "
                  f"({', '.join(f'{t:.3f}' for t in times.values())}), load average {load:.1f}", flush=True)
        print(f"{workers} worker(s): longest scenario over {args.runs} runs {max(longest):.3f} s, "
              f"median of the runs' longest {sorted(longest)[len(longest) // 2]:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
