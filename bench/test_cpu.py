#!/usr/bin/env python3
"""Where the test suite's CPU goes: CPU seconds (user+system, the test process and the children it waited for) and
wall seconds of every test, summed per test and per file. Not part of the suite: a pytest plugin this script loads
into a run of the suite, and the summary of what it wrote.

  .venv/bin/python bench/test_cpu.py [--out DIR] [--top 40] [-- pytest args, e.g. -n 2 --dist loadgroup -m "not serial"]
  .venv/bin/python bench/test_cpu.py --summarise DIR [--top 40]

A test's set-up is counted with it, so a session fixture (a shared `hih run`) shows on the first test that asks for
it. Each xdist worker writes its own file (`cpu-<worker>.jsonl`) in DIR.

It also counts the Python processes each test starts, its own and its children's (bench/cpu_probe/sitecustomize.py,
on their PYTHONPATH, writes one line per process to DIR/procs.tsv): how many `hih run`s (a run's first pytest
process), how many pytest processes of runs, xdist workers, `hih` commands and others, per file.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENV_OUT = "HIH_TEST_CPU_OUT"
ENV_TEST, ENV_PROBE = "BENCH_CPU_PROBE_TEST", "BENCH_CPU_PROBE_OUT"
"""The node id of the test running and DIR, in the environment its processes inherit (bench/cpu_probe reads them;
not named HIH_…, which some tests leave out of the environment of the processes they start)."""


MP_SERVERS = (b"multiprocessing.forkserver", b"multiprocessing.resource_tracker")
"""The command lines of `multiprocessing`'s long-lived helpers (`hih mock serve --workers` forks its workers from its
forkserver, which outlives each serve): their CPU and their reaped children's is counted while they live."""


def _mp_servers_cpu_s() -> float:
    """CPU s of this process's live `multiprocessing` helpers and of the children they waited for (the workers)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            try:
                if not any(name in Path(f"/proc/{kid}/cmdline").read_bytes() for name in MP_SERVERS):
                    continue
                fields = Path(f"/proc/{kid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(x) for x in fields[11:15]) / tick  # utime, stime, cutime, cstime
    return total


def _cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    # the processes the suite forks: the runs' pytest processes (tests/forkserver.py); its `hih` servers
    # (tests/forked_hih.py) and the mock workers come from `multiprocessing`'s forkserver (`_mp_servers_cpu_s`)
    forked = sys.modules.get("tests.forkserver")
    return (own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
            + (forked.cpu_s() if forked is not None else 0.0) + _mp_servers_cpu_s())


# -- the plugin (loaded with `-p test_cpu`, bench/ on PYTHONPATH) ----------------------------------------------------
try:
    import pytest
except ImportError:  # the summary needs no pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item: Any, nextitem: Any) -> Iterator[None]:
        out = os.environ.get(ENV_OUT)
        cpu0, wall0, start = _cpu_s(), time.perf_counter(), time.time()
        if out:
            os.environ[ENV_TEST] = item.nodeid
        try:
            yield
        finally:
            os.environ.pop(ENV_TEST, None)
        if out:
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            record = {"id": item.nodeid, "cpu": _cpu_s() - cpu0, "wall": time.perf_counter() - wall0, "worker": worker,
                      "start": start}
            with open(Path(out) / f"cpu-{worker}.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")


def kind(argv: list[str]) -> str:
    """What a Python process the suite started was, by its command line."""
    if any(a.startswith("--hih-events") for a in argv):
        events = argv[argv.index("--hih-events") + 1] if "--hih-events" in argv else ""
        return "hih run" if Path(events).name == "events.0-0.jsonl" else "run's other pytest"
    if any(a.endswith("harness/run/warm.py") for a in argv):
        return "run's warm pytest"
    if len(argv) > 2 and argv[1] == "-c" and "execnet" in argv[2]:
        return "xdist worker"
    if len(argv) > 1 and Path(argv[1]).name == "hih":
        return f"hih {argv[2] if len(argv) > 2 else ''}".strip()
    if len(argv) > 2 and argv[1] == "-m":
        return f"-m {argv[2]}"
    return Path(argv[1]).name if len(argv) > 1 else "python"


def processes(directory: Path) -> dict[str, dict[str, int]]:
    """Per test: how many processes of each kind it started (see `kind`)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    probe = directory / "procs.tsv"
    if probe.exists():
        for line in probe.read_text(encoding="utf-8").splitlines():
            fields = line.split("\t", 3)
            if len(fields) == 4:
                counts[fields[0]][kind(fields[3].split("\x1f"))] += 1
    return counts


def timeline(records: list[dict[str, Any]]) -> list[str]:
    """When each worker started its first test and ended its last (seconds from the first start), and the xdist groups
    it ran, by their span: a group that ends long after the other workers is the pass's tail."""
    timed = [r for r in records if "start" in r]
    if not timed:
        return []
    origin = min(r["start"] for r in timed)
    lines = ["timeline (s from the first test): worker, first start, last end; its groups: group first start-last end"]
    for worker in sorted({r["worker"] for r in timed}):
        mine = [r for r in timed if r["worker"] == worker]
        end = max(r["start"] + r["wall"] for r in mine) - origin
        groups: dict[str, list[float]] = {}
        for r in mine:
            if "@" in r["id"].rsplit("]", 1)[-1]:  # `<node id>@<group>` (tests/scheduling.py)
                span = groups.setdefault(r["id"].rsplit("@", 1)[1], [float("inf"), 0.0])
                span[0] = min(span[0], r["start"] - origin)
                span[1] = max(span[1], r["start"] + r["wall"] - origin)
        detail = "; ".join(f"{g} {a:.0f}-{b:.0f}" for g, (a, b) in sorted(groups.items(), key=lambda kv: kv[1][0]))
        lines.append(f"  {worker}: {min(r['start'] for r in mine) - origin:.0f}-{end:.0f}"
                     + (f"; {detail}" if detail else ""))
    return lines


def summarise(directory: Path, top: int) -> str:
    records = [json.loads(line) for f in sorted(directory.glob("cpu-*.jsonl"))
               for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    per_file: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for r in records:
        entry = per_file[r["id"].split("::")[0]]
        entry[0] += r["cpu"]
        entry[1] += r["wall"]
        entry[2] += 1
    per_worker: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in records:
        per_worker[r["worker"]][0] += r["cpu"]
        per_worker[r["worker"]][1] += r["wall"]
    lines = [(f"{len(records)} tests, CPU {sum(r['cpu'] for r in records):.1f} s, "
              f"wall (summed over workers) {sum(r['wall'] for r in records):.1f} s")]
    lines += [f"  worker {w}: CPU {c:.1f} s, wall {t:.1f} s" for w, (c, t) in sorted(per_worker.items())]
    lines += timeline(records)
    procs = processes(directory)
    per_file_procs: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for test, kinds in procs.items():
        for k, n in kinds.items():
            per_file_procs[test.split("::")[0]][k] += n
    runs = sum(k.get("hih run", 0) for k in procs.values())
    lines.append(f"processes started: {sum(sum(k.values()) for k in procs.values())}, of them {runs} `hih run`s")
    lines.append(f"\nfiles by CPU (top {top}): CPU s, wall s, tests, runs, processes (by kind)")
    for name, (cpu, wall, n) in sorted(per_file.items(), key=lambda kv: -kv[1][0])[:top]:
        kinds = per_file_procs.get(name, {})
        detail = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
        lines.append(f"  {cpu:7.1f} {wall:7.1f} {int(n):5d} {kinds.get('hih run', 0):4d} {sum(kinds.values()):4d}"
                     f"  {name}{f'  ({detail})' if detail else ''}")
    lines.append(f"\ntests by CPU (top {top}): CPU s, wall s, runs, processes")
    for r in sorted(records, key=lambda r: -r["cpu"])[:top]:
        kinds = procs.get(r["id"], {})
        lines.append(f"  {r['cpu']:7.1f} {r['wall']:7.1f} {kinds.get('hih run', 0):4d} {sum(kinds.values()):4d}"
                     f"  {r['id']}")
    lines.append(f"\ntests by wall, little CPU (top {top}): CPU s, wall s")
    for r in sorted(records, key=lambda r: -(r["wall"] - r["cpu"]))[:top]:
        lines.append(f"  {r['cpu']:7.1f} {r['wall']:7.1f}  {r['id']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--out", default="/tmp/hih-test-cpu", help="directory for the per-worker files")
    ap.add_argument("--summarise", metavar="DIR", help="only summarise what an earlier run wrote in DIR")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("pytest_args", nargs="*", help="pytest arguments (after --)")
    args = ap.parse_args(argv)
    if args.summarise:
        print(summarise(Path(args.summarise), args.top))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("cpu-*.jsonl"), out / "procs.tsv"]:
        old.unlink(missing_ok=True)
    env = {**os.environ, ENV_OUT: str(out), ENV_PROBE: str(out),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "bench"), str(ROOT / "bench" / "cpu_probe"),
                                                       os.environ.get("PYTHONPATH")]))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    code = subprocess.run([sys.executable, "-m", "pytest", "-p", "test_cpu", "-q", *args.pytest_args], cwd=ROOT,
                          env=env, check=False).returncode
    print(f"pytest exit {code}, wall {time.perf_counter() - start:.1f} s")
    print(summarise(out, args.top))
    return code


if __name__ == "__main__":
    sys.exit(main())
