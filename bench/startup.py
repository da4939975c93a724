"""Start-up cost of the `hih` command: `hih --help` against a bare interpreter, and what `hih run` adds to the
time its scenarios take (wall time less the scenarios' own durations from summary.json).

```sh
.venv/bin/python bench/startup.py                       # 21 runs of --help, 3 of `hih run --interface insurance`
.venv/bin/python bench/startup.py --runs 41 --run-args "--interface lis"
.venv/bin/python bench/startup.py --gate-runs 8 --against /tmp/base   # each run alternated with another checkout's
```
Prints medians and minima in milliseconds (and the CPU time of `--help`, which other load on the machine skews
less than the wall time), and the load average. Targets: `hih --help` ≤ 60 ms, `hih run` adds ≤ 1 s.

Each `hih run` line also splits what it adds, from the times in its events.jsonl (one pytest process: the default
for one interface): `start` from the command to pytest's collection done, `between` the time between scenarios
(fixture set-up and tear-down, the reports of each scenario), `end` from the last scenario's result to the exit
(pytest's files, then hih's reports), and the CPU time of hih and its children.

`--against DIR` runs each `hih run` twice, first with the code of another checkout (`git worktree add` or `git
archive` of the commit to compare; run with this venv and `PYTHONPATH=DIR`, from DIR), then with this one, and
gives the medians of both: on a shared machine only such interleaved pairs say which is quicker. `--history` has the
runs record into a run history (one per side, growing over its runs) as a default `hih run` does; without it no
history is written (HIH_HISTORY=off). `--cold-cache` gives each run an empty parse cache (`HIH_CACHE_DIR`), as on a
CI runner that keeps no cache between jobs: every contract and feature file is parsed and checked again; without it
the runs share the user's cache, as on a workstation. Each side then runs
its own checkout's console-script entry point (`[project.scripts] hih` of its pyproject.toml, as the installed
script would: `python -c "from MODULE import FUNC; FUNC()"`), so a change of entry point is measured too.
`--spare-core` has every run start the sign-off's side process whatever the machine's load (`hih run` starts it only
when the 1-minute load average is below the cores plus one: on a shared machine both sides would otherwise lay the
PDF out last and the side process's changes would not be measured); the entry point is then always run that way.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def wall_ms(command: list[str], cpu: list[float] | None = None) -> float:
    """Wall time of one run of `command`; its CPU time (user + system) is appended to `cpu` when given."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return wall


def phases(events: Path, began: float, ended: float) -> str:
    """` (start …, between …, end …)` from a run's events; empty when the run had several pytest processes."""
    try:
        lines = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError):
        return ""
    collected = [e["at"] for e in lines if e.get("event") == "collected"]
    results = [e for e in lines if e.get("event") == "result"]
    if len(collected) != 1 or not results:
        return ""
    first_call = results[0]["at"] - results[0]["duration_s"]
    between = results[-1]["at"] - first_call - sum(r["duration_s"] for r in results)
    return (f" (start {collected[0] - began:.2f} s, collected to first scenario {first_call - collected[0]:.2f} s, "
            f"between scenarios {between:.2f} s, end {ended - results[-1]['at']:.2f} s)")


SPARE_CORE = "import harness.report.pdf_ahead as side; side.spare_core = lambda: True; "
"""What `--spare-core` runs before the entry point: the side process started whatever the load."""


def entry_command(checkout: Path, spare_core: bool = False) -> list[str]:
    """The `hih` command as `checkout`'s console script runs it (its pyproject.toml's entry point)."""
    target = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]["hih"]
    module, func = target.split(":")
    first = SPARE_CORE if spare_core else ""
    return [sys.executable, "-c",
            f"import sys; sys.argv[0] = 'hih'; {first}from {module} import {func}; sys.exit({func}())"]


def gate_run(hih: list[str], run_args: str, cwd: str | None = None, pythonpath: str | None = None,
             history: Path | None = None, cold: bool = False) -> tuple[float, float, float, float]:
    """One `hih run`: prints its line, returns (what it added to its scenarios, CPU of hih and its children, the
    scenarios' own time, the wall time). `history`: the run history the run records into (default: none,
    HIH_HISTORY=off); `cold`: an empty parse cache of its own."""
    env = {**os.environ, "HIH_HISTORY": str(history) if history is not None else "off"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as cache:
        if cold:
            env["HIH_CACHE_DIR"] = cache
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.time()
        started = time.perf_counter()
        subprocess.run([*hih, "run", *shlex.split(run_args), "--report-dir", folder],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env, cwd=cwd)
        wall = time.perf_counter() - started
        ended = time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        summary = json.loads((Path(folder) / "summary.json").read_text(encoding="utf-8"))
        scenarios = sum(s["duration_s"] for s in summary["scenarios"])
        label = f"[{pythonpath}] " if pythonpath else ""
        print(f"{label}hih run {run_args}: wall {wall:.2f} s, scenarios {scenarios:.2f} s, added {wall - scenarios:.2f} s"
              f"{phases(Path(folder) / 'events.jsonl', began, ended)}, CPU {cpu:.2f} s", flush=True)
        return wall - scenarios, cpu, scenarios, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of `hih --help` and of the bare interpreter")
    parser.add_argument("--gate-runs", type=int, default=3, help="runs of `hih run`")
    parser.add_argument("--run-args", default="--interface insurance", help="arguments of `hih run`")
    parser.add_argument("--against", default=None, metavar="DIR",
                        help="another checkout: each `hih run` is first run with its code, then with this one's")
    parser.add_argument("--history", action="store_true",
                        help="record the runs in a run history (one per side, in a temporary folder, kept for the "
                             "side's later runs), as a default `hih run` does; without it HIH_HISTORY=off")
    parser.add_argument("--cold-cache", action="store_true",
                        help="each `hih run` with an empty parse cache of its own (HIH_CACHE_DIR), as on CI")
    parser.add_argument("--spare-core", action="store_true",
                        help="the sign-off's side process started whatever the load (as on a machine with a core "
                             "to spare); each run through its checkout's entry point")
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory()
    histories = {"against": Path(scratch.name) / "against.sqlite", "this": Path(scratch.name) / "this.sqlite"}
    if not args.history:
        histories = {}
    hih = str(VENV_BIN / "hih")
    bare_cpu: list[float] = []
    help_cpu: list[float] = []
    bare = [wall_ms([sys.executable, "-c", "pass"], bare_cpu) for _ in range(args.runs)]
    helped = [wall_ms([hih, "--help"], help_cpu) for _ in range(args.runs)]
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"bare python -c pass: median {statistics.median(bare):.1f} ms, min {min(bare):.1f} ms "
          f"(CPU median {statistics.median(bare_cpu):.1f} ms)")
    print(f"hih --help:          median {statistics.median(helped):.1f} ms, min {min(helped):.1f} ms "
          f"(CPU median {statistics.median(help_cpu):.1f} ms)")
    runs: dict[str, list[tuple[float, float, float, float]]] = {"this checkout": []}
    if args.against:
        runs = {args.against: [], "this checkout": []}
    for _ in range(args.gate_runs):
        if args.against:
            runs[args.against].append(gate_run(entry_command(Path(args.against), args.spare_core), args.run_args,
                                               cwd=args.against,
                                               pythonpath=args.against, history=histories.get("against"),
                                               cold=args.cold_cache))
            runs["this checkout"].append(gate_run(entry_command(Path(__file__).resolve().parents[1], args.spare_core),
                                                  args.run_args,
                                                  history=histories.get("this"), cold=args.cold_cache))
        else:
            this = entry_command(Path(__file__).resolve().parents[1], True) if args.spare_core else [hih]
            runs["this checkout"].append(gate_run(this, args.run_args, history=histories.get("this"),
                                                  cold=args.cold_cache))
    print(f"load average {os.getloadavg()[0]:.2f}")
    for label, pairs in runs.items():
        if pairs:
            added, cpu = [p[0] for p in pairs], [p[1] for p in pairs]
            print(f"hih run adds ({label}): median {statistics.median(added):.2f} s "
                  f"({min(added):.2f}–{max(added):.2f}; CPU median {statistics.median(cpu):.2f} s; scenarios median "
                  f"{statistics.median(p[2] for p in pairs):.2f} s, wall median "
                  f"{statistics.median(p[3] for p in pairs):.2f} s)")
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
