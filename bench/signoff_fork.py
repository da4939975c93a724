#!/usr/bin/env python3
"""When `hih run` forks the sign-off's side process, counted from its last scenario's result, and how long its end
then takes (from that result to the exit), each run alternated with another checkout's.

The side process (harness.report.pdf_ahead) lays signoff.pdf out on the other core; the end of a run waits on it,
so the sooner it starts after the last result, the sooner the run can end. Every run here starts it whatever the
machine's load (as `bench/startup.py --spare-core`); the moment of the fork is taken in the parent by a wrapper of
`os.fork` (only the side process is forked with it: pytest processes are started by `subprocess`), the last
result's moment from the run's events.jsonl (both `time.time()`, one clock). A side process started on a prediction
before the last result (harness.run.sign_ahead) gives a negative delay; each run also says how many side processes
it forked (more than one when a prediction, or the page at the last result, was not the final one).

```sh
git -C . archive <commit> | (mkdir -p /tmp/base && tar -x -C /tmp/base)
env -u PYTHONDONTWRITEBYTECODE .venv/bin/python bench/signoff_fork.py --pairs 8 --against /tmp/base
```
Each side runs its own checkout's console-script entry point with this venv (`PYTHONPATH=DIR`, from DIR), with
`HIH_HISTORY=off`. Prints, per run, the first fork's delay, the end in milliseconds and the forks; then medians and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
WRAPPER = """
import json, os, sys, time
import harness.report.pdf_ahead as side
side.spare_core = lambda: True
_fork = os.fork
def fork():
    pid = _fork()
    if pid:
        with open(%(out)r, "a", encoding="utf-8") as out:
            out.write(json.dumps({"fork_at": time.time()}) + "\\n")
    return pid
os.fork = fork
sys.argv[0] = "hih"
from %(module)s import %(func)s
sys.exit(%(func)s())
"""


def one(checkout: Path, run_args: list[str], pythonpath: bool) -> tuple[float | None, float, int]:
    """(ms from the last result to the first fork, None when no side process was forked; ms from it to the exit;
    how many side processes were forked)."""
    target = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]["hih"]
    module, func = target.split(":")
    with tempfile.TemporaryDirectory(prefix="hih-fork-") as scratch:
        forks = Path(scratch) / "forks.jsonl"
        report = Path(scratch) / "report"
        script = WRAPPER % {"out": str(forks), "module": module, "func": func}
        env = {**os.environ, "HIH_HISTORY": "off"}
        if pythonpath:
            env["PYTHONPATH"] = str(checkout)
        subprocess.run([sys.executable, "-c", script, "run", *run_args, "--report-dir", str(report)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=checkout, check=False,
                       timeout=600)
        ended = time.time()
        events = [json.loads(line) for line in (report / "events.jsonl").read_text(encoding="utf-8").splitlines()
                  if line.strip()]
        last = max(e["at"] for e in events if e.get("event") == "result")
        fork_at = [json.loads(line)["fork_at"] for line in forks.read_text(encoding="utf-8").splitlines()] \
            if forks.is_file() else []
        return ((fork_at[0] - last) * 1000 if fork_at else None), (ended - last) * 1000, len(fork_at)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--against", type=Path, required=True, metavar="DIR", help="another checkout, run first")
    parser.add_argument("--run-args", default="--interface insurance", help="arguments of `hih run`")
    args = parser.parse_args()
    sides = {str(args.against): (args.against.resolve(), True), "this checkout": (HERE, False)}
    figures: dict[str, list[tuple[float | None, float, int]]] = {label: [] for label in sides}
    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    for _ in range(args.pairs):
        for label, (checkout, pythonpath) in sides.items():
            got = one(checkout, args.run_args.split(), pythonpath)
            figures[label].append(got)
            fork = f"{got[0]:.0f} ms" if got[0] is not None else "none"
            print(f"[{label}] fork after the last result {fork}, end {got[1]:.0f} ms, {got[2]} forked", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")
    for label, rows in figures.items():
        forks = [f for f, _, _ in rows if f is not None]
        ends = [e for _, e, _ in rows]
        print(f"{label}: fork after the last result median {statistics.median(forks):.0f} ms "
              f"({min(forks):.0f}-{max(forks):.0f}, {len(forks)} of {len(rows)} runs forked); "
              f"end median {statistics.median(ends):.0f} ms ({min(ends):.0f}-{max(ends):.0f})" if forks else
              f"{label}: no side process forked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
