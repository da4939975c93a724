#!/usr/bin/env python3
"""Who spends the CPU of a run's scenarios: the pytest process of a run of every scenario (bench/spec_cpu.py's
command line) with a sampling probe. Every millisecond of the process's CPU time (`ITIMER_PROF`) the probe reads each
thread's CPU clock and stack, and charges what the thread spent since the last sample to the innermost frame of the
thread that belongs to an owner: hih's mocks, connectors, validation, masking, reports, events and evidence, the
deadline, held clock, guards, the plugin's fixtures, the step code, pytest-bdd, pytest.

Frames of other libraries (httpx, zeep, re, sqlite3, hl7apy ...) count for the owner that called them, so a
connector's zeep client counts as the connector's, and a mock's server thread as the mock's. A sample is taken when
the main thread runs Python again, so a long call in C is charged to its caller, as it should be. Samples are split
by phase (start and collection, the scenarios, the session's end); the scenarios' part is printed in ms of CPU per
scenario, largest owner first, with each owner's top functions (innermost owner frame) so that a figure names its
code. A sampler's figures: they move by a few tenths of a ms between runs; `spec_cpu.py` is the figure to compare.

  .venv/bin/python bench/spec_owners.py [--interface NAME]... [--top 12] [--functions 4] [--interval-ms 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from spec_cpu import ROOT, command

PROBE = r'''
import collections, json, os, signal, sys, time, pytest
OWNERS = json.loads(os.environ["HIH_OWNERS_RULES"])
_phase = ["start"]
_counts = collections.Counter()
_where = collections.Counter()
_n = [0]
_cache = {}

def _owner(code):
    got = _cache.get(code)
    if got is None:
        path = code.co_filename.replace(os.sep, "/")
        got = ""
        for name, needles in OWNERS:
            if any(n in path for n in needles):
                got = name
                break
        _cache[code] = got
    return got

_last = {}

def _charge(spent, frame):
    while frame is not None:
        owner = _owner(frame.f_code)
        if owner:
            _counts[(_phase[0], owner)] += spent
            if _phase[0] == "scenarios":
                c = frame.f_code
                _where[(owner, f"{c.co_filename.rsplit('/', 2)[-2]}/{c.co_filename.rsplit('/', 1)[-1]}:{c.co_name}")] += spent
            return
        frame = frame.f_back
    _counts[(_phase[0], "other")] += spent

def _sample(signum, frame):
    for ident, top in sys._current_frames().items():
        try:
            now = time.clock_gettime(time.pthread_getcpuclockid(ident))
        except (OSError, OverflowError):
            continue
        spent = now - _last.get(ident, 0.0)  # a thread's first sample: all it spent since it started
        _last[ident] = now
        _charge(spent, top)
signal.signal(signal.SIGPROF, _sample)
_interval = float(os.environ["HIH_OWNERS_INTERVAL"])
signal.setitimer(signal.ITIMER_PROF, _interval, _interval)

@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    _sample(0, sys._getframe(1))
    _phase[0] = "scenarios"

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logfinish(nodeid, location):
    _n[0] += 1

@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    _sample(0, sys._getframe(1))
    _phase[0] = "end"

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    signal.setitimer(signal.ITIMER_PROF, 0, 0)
    _sample(0, sys._getframe(1))
    with open(os.environ["HIH_OWNERS_OUT"], "w") as out:
        json.dump({"scenarios": _n[0], "cpu": time.process_time(),
                   "counts": [[p, o, n] for (p, o), n in _counts.items()],
                   "threads": len(_last), "where": [[o, w, n] for (o, w), n in _where.most_common(400)]}, out)
'''
"""The sampling probe, loaded into the pytest process with `-p`."""

OWNERS: list[tuple[str, list[str]]] = [
    ("masking", ["/harness/plugin_masking.py", "/harness/report/masking"]),
    ("reports", ["/harness/report/"]),
    ("events and evidence", ["/harness/run/events", "/harness/run/evidence", "/harness/run/collector",
                             "/harness/run/progress", "/harness/run/report_thread", "/harness/run/results"]),
    ("deadline", ["/harness/run/deadline"]),
    ("held clock", ["/harness/held_clock", "time_machine"]),
    ("guards", ["/harness/guards"]),
    ("validation", ["/harness/contract/"]),
    ("mocks", ["/mocks/"]),
    ("connectors", ["/connectors/", "/harness/slot.py", "/harness/work_folders.py", "/harness/bindings.py"]),
    ("steps", ["/features/"]),
    ("hih plugin (fixtures)", ["/harness/plugin.py", "/harness/step_cache.py", "/harness/"]),
    ("pytest-bdd", ["/pytest_bdd/"]),
    ("pytest", ["/_pytest/", "/pluggy/", "/xdist/", "/pytest_randomly", "/pytest_timeout"]),
]
"""Owners in the order a frame's file is tested against them: the first whose text its path contains."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interface", action="append", default=[])
    parser.add_argument("--interval-ms", type=float, default=1.0)
    parser.add_argument("--top", type=int, default=12, help="owners shown")
    parser.add_argument("--functions", type=int, default=4, help="functions shown per owner")
    a = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hih-spec-owners-") as scratch:
        folder = Path(scratch)
        (folder / "hih_owners_probe.py").write_text(PROBE, encoding="utf-8")
        out = folder / "owners.json"
        args = [*command(ROOT, a.interface, folder), "-p", "hih_owners_probe"]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(folder)]), HIH_OWNERS_OUT=str(out),
                   HIH_OWNERS_RULES=json.dumps(OWNERS), HIH_OWNERS_INTERVAL=str(a.interval_ms / 1000))
        done = subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=900, check=False)
        if not out.exists():
            print(done.stdout.decode(errors="replace")[-3000:], file=sys.stderr)
            return 1
        got = json.loads(out.read_text(encoding="utf-8"))
    ms = 1000.0  # the probe's figures are seconds of the process's CPU (all its threads)
    n = max(1, got["scenarios"])
    by_phase: dict[str, float] = {}
    owners: dict[str, float] = {}
    for phase, owner, count in got["counts"]:
        by_phase[phase] = by_phase.get(phase, 0.0) + count * ms
        if phase == "scenarios":
            owners[owner] = owners.get(owner, 0.0) + count * ms
    print(f"exit {done.returncode}; {got['scenarios']} scenarios; main thread CPU {got['cpu']:.2f} s; sampled "
          + ", ".join(f"{phase} {total / 1000:.2f} s" for phase, total in by_phase.items()))
    print(f"scenarios: {by_phase.get('scenarios', 0.0) / n:.1f} ms of CPU per scenario, by owner:")
    for owner, total in sorted(owners.items(), key=lambda kv: -kv[1])[:a.top]:
        print(f"  {owner:32} {total / n:6.1f} ms/scenario  ({total / 1000:.2f} s)")
        top = [(where, count) for o, where, count in got["where"] if o == owner][:a.functions]
        for where, count in top:
            print(f"      {count * ms / n:5.1f}  {where}")
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
