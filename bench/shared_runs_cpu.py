#!/usr/bin/env python3
"""CPU and wall of the suite's shared `hih run`s (tests/full_runs.py) by number of workers: what each shared run costs
the test process that starts it, so that the suite can choose the cheapest number that keeps what the tests read.

  .venv/bin/python bench/shared_runs_cpu.py [--runs failing_run,lost_replies_run] [--workers 1,2,auto] [--repeats 1]

Each measurement is a fresh Python process running the same `_run` as the fixture (its children included), the
settings interleaved so that a change of the machine's load falls on every setting alike.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys
from pathlib import Path
from tests import full_runs
name, workers, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
options = {"connectors": full_runs.DEFECT_RUNS[name]} if name in full_runs.DEFECT_RUNS else {}
if name == "older_run":
    options = {"interfaces": list(full_runs.OLDER), "contracts": full_runs.OLDER}
if workers != "default":
    options["workers"] = workers if workers == "auto" else int(workers)
# the sign-off PDF where the fixture makes one (the failing run's pack is read by other tests)
report = full_runs._run(out / "reports", signoff_pdf=name == "failing_run", **options)
summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
print(json.dumps({"scenarios": len(summary["scenarios"]),
                  "failed": sum(s["status"] == "failed" for s in summary["scenarios"])}))
"""


def measure(name: str, workers: str) -> dict[str, object]:
    """One shared run in a fresh process: its wall, its CPU and its children's, what it ran."""
    with tempfile.TemporaryDirectory(prefix="hih-shared-run-") as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        env = {**os.environ}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        done = subprocess.run([sys.executable, "-c", CHILD, name, workers, tmp], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=False, timeout=900)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "{}"
    return {"run": name, "workers": workers, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "load": os.getloadavg()[0], **(json.loads(last) if last.startswith("{") else {"error": done.stderr[-300:]})}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--runs", default="lost_replies_run", help="comma-separated fixture names of tests/full_runs.py")
    ap.add_argument("--workers", default="1,2,auto", help="comma-separated: a number, auto, or default")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args(argv)
    for _ in range(args.repeats):
        for name in args.runs.split(","):
            for workers in args.workers.split(","):
                print(json.dumps(measure(name, workers)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
