#!/usr/bin/env python3
"""CPU of the pytest process of a run of every scenario: the command line `hih run` gives its pytest child (one
lane, one worker, every interface), run directly, so the figure is the scenarios' own cost — pytest-bdd's step
lookup, pytest's fixtures, hih's plugins, the mocks, the connectors, validation — without hih's start or reports.

Each round runs the command once per checkout given (this one first, then every `--base DIR`, e.g. a `git archive`
of another commit), interleaved, so a busy machine weighs on both alike; CPU (user+system of the process and
everything it started), not wall. Prints each round and the median per checkout; `--profile FILE` runs this
checkout once under cProfile (CPU time) instead (read it with `python -m pstats FILE`). `--callgrind` counts the
process's instructions under valgrind instead of its CPU (all threads: a figure load does not skew, though the mocks'
threads poll in proportion to the wall time; ≈ 50× slower, so with `--interface`).

  .venv/bin/python bench/spec_cpu.py [--rounds 5] [--base /tmp/base]... [--interface NAME]... [--profile FILE]
  .venv/bin/python bench/spec_cpu.py --callgrind --rounds 1 --interface blood-center -k "not 重发" --base /tmp/base
  git archive COMMIT | tar -x -C /tmp/base      # a checkout of another commit to compare with
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

from callgrind_count import COLLECTED
from interleaved import interleave, spread
from procstat import machine_busy_s

ROOT = Path(__file__).resolve().parents[1]

# The flags that tie the child to a parent `hih run` (its pid, a quick os._exit that would skip cProfile's output)
LEFT_OUT = {"--hih-parent-pid": 1, "--hih-quick-exit": 0}


PROFILED = """
import cProfile, sys, time
import pytest
out = sys.argv.pop(1)
profile = cProfile.Profile(time.process_time)
try:
    code = profile.runcall(pytest.main, sys.argv[1:])
finally:
    profile.dump_stats(out)
sys.exit(code)
"""
"""pytest under cProfile timed by the process's CPU clock: waits for a socket or a thread cost nothing."""


COMMAND = """
import json, sys
from pathlib import Path
from harness.run import child
from harness.run.options import RunOptions, plan
folder = Path(sys.argv[1])
p = plan(RunOptions(interfaces=sys.argv[2:], workers=1))
print(json.dumps(child.pytest_command(p, child.Files.in_folder(folder), folder / child.DEADLINE_LOG)))
"""
"""The checkout's own `hih run` pytest command line (its plugins, ini, feature folders), from its own code."""


def command(checkout: Path, interfaces: list[str], folder: Path, keyword: str = "") -> list[str]:
    """The pytest child's command line of `checkout` for a run of `interfaces` (all by default), writing into
    `folder`, less the flags that tie it to a parent `hih run` (with pytest's `-k keyword` when given)."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    out = subprocess.run([sys.executable, "-c", COMMAND, str(folder), *interfaces], cwd=checkout, env=env,
                         capture_output=True, check=True, timeout=120).stdout
    kept: list[str] = []
    skip = 0
    for arg in json.loads(out):
        if skip:
            skip -= 1
        elif arg in LEFT_OUT:
            skip = LEFT_OUT[arg]
        else:
            kept.append(arg)
    return [*kept, "-k", keyword] if keyword else kept


def cpu_of(args: list[str], checkout: Path) -> tuple[float, float, int]:
    """CPU seconds of the command run from `checkout` (its modules first on the path), wall seconds, exit code."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=900, check=False)
    if done.returncode:
        print(done.stdout.decode(errors="replace")[-3000:], file=sys.stderr)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, time.perf_counter() - started, done.returncode


def instructions_of(args: list[str], checkout: Path) -> tuple[int, str]:
    """Instructions valgrind's callgrind counted for the command run from `checkout` (0 when it counted none), and
    pytest's last line (under valgrind a scenario that waits on a clock may fail: the counts then differ by it)."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    with tempfile.TemporaryDirectory(prefix="hih-spec-callgrind-") as scratch:
        done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/out", *args],
                              cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=3600,
                              check=False)
    text = done.stdout.decode(errors="replace")
    found = COLLECTED.search(text)
    summary = next((line.strip("= ") for line in reversed(text.splitlines()) if " in " in line and "passed" in line
                    or " failed" in line and " in " in line), f"exit {done.returncode}")
    if found is None:
        print(text[-3000:], file=sys.stderr)
        return 0, summary
    return int(found.group(1).replace(",", "")), summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--base", type=Path, action="append", default=[], help="another checkout to compare with")
    parser.add_argument("--interface", action="append", default=[])
    parser.add_argument("--profile", type=Path, help="run this checkout once under cProfile, writing FILE")
    parser.add_argument("--callgrind", action="store_true", help="count instructions (valgrind) instead of CPU")
    parser.add_argument("-k", dest="keyword", default="", help="pytest's -k: leave out scenarios that wait on clocks")
    a = parser.parse_args()
    checkouts = [ROOT, *[b.resolve() for b in a.base]]
    with tempfile.TemporaryDirectory(prefix="hih-spec-cpu-") as folder:
        if a.profile:
            args = command(ROOT, a.interface, Path(folder))
            profiled = [args[0], "-c", PROFILED, str(a.profile.resolve()), *args[3:]]
            cpu, wall, code = cpu_of(profiled, ROOT)
            print(f"profiled: cpu {cpu:.2f} s, wall {wall:.1f} s, exit {code} -> {a.profile}")
            return 0 if code == 0 else 1
        if a.callgrind:
            counts = interleave(a.rounds, checkouts,
                                lambda checkout: instructions_of(command(checkout, a.interface, Path(folder), a.keyword),
                                                                 checkout),
                                lambda n, checkout, got: f"round {n} {checkout}: {got[0]:,} instructions ({got[1]})")
            for checkout, runs in counts.items():
                print(f"{checkout}: {spread(run[0] for run in runs)} instructions over {len(runs)} rounds")
            return 0 if all(run[0] for runs in counts.values() for run in runs) else 1

        def measure(checkout: Path) -> tuple[float, float, int, float]:
            busy = machine_busy_s()
            cpu, wall, code = cpu_of(command(checkout, a.interface, Path(folder), a.keyword), checkout)
            return cpu, wall, code, max(0.0, (machine_busy_s() - busy - cpu) / (wall * (os.cpu_count() or 1)))

        figures = interleave(a.rounds, checkouts, measure,
                             lambda n, checkout, got: f"round {n} {checkout}: cpu {got[0]:.2f} s, wall {got[1]:.1f} s, "
                                                      f"exit {got[2]}, other cpu {got[3]:.0%}")
        for checkout, runs in figures.items():
            print(f"{checkout}: cpu {spread((run[0] for run in runs), 2)} s over {len(runs)} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
