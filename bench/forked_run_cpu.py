#!/usr/bin/env python3
"""CPU seconds of one small `hih run` as the test suite runs it (in-process, `harness.run.runner.run`), by part: the
calling process (planning, the reports) and the run's pytest process, started afresh as `hih run` starts it or
forked from the suite's fork server (tests/forkserver.py), alternated. Also the servers' own CPU before their first
fork (their imports, paid once per test process; each family's server adds to the one it is forked from).

    .venv/bin/python bench/forked_run_cpu.py --interface lis --tags clock --rounds 5
    .venv/bin/python bench/forked_run_cpu.py --interface blood-center --tags auth --rounds 5
    .venv/bin/python bench/forked_run_cpu.py --interface insurance,lis,blood-center --tags clock --workers 1

Several interfaces (comma-separated) with `--workers 1` run in one pytest process, as the planted-defect rounds do.

CPU is user+system (resource.getrusage): the calling process's own, and its children's plus what the fork server
reports of its forked processes. One warm-up run of each kind comes first (bytecode, parse cache, the server's start).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HIH_HISTORY", "off")

from rich.console import Console  # noqa: E402

from harness.run import warm  # noqa: E402
from harness.run.options import RunOptions  # noqa: E402
from harness.run.runner import run  # noqa: E402
from tests import forkserver  # noqa: E402


def cpu_s() -> tuple[float, float]:
    """(this process's CPU, its children's and forked processes' CPU)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime + forkserver.cpu_s()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interface", default="lis", help="an interface, or several separated by commas")
    ap.add_argument("--workers", type=int, default=None, help="hih run --workers (1: one pytest process)")
    ap.add_argument("--tags", default="clock")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hih-forked-run-") as scratch:
        server = forkserver.ForkServer(Path(scratch) / "server")
        fresh = warm.take

        def forked(argv: list[str], log: Path) -> subprocess.Popen[bytes] | None:
            env = warm.child_env()
            return warm.track(server.fork(argv, log, env), env)

        kinds: dict[str, Callable[[list[str], Path], subprocess.Popen[bytes] | None]] = {"fresh": fresh,
                                                                                          "forked": forked}
        figures: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
        try:
            for round_ in range(args.rounds + 1):
                for kind, take in kinds.items():
                    setattr(warm, "take", take)  # noqa: B010 - the module attribute child.py calls
                    before = cpu_s()
                    code = run(RunOptions(features_dir=ROOT / "features", interfaces=args.interface.split(","),
                                          tags=args.tags, workers=args.workers, signoff_pdf=False,
                                          report_dir=Path(scratch) / f"{kind}-{round_}"), Console(file=io.StringIO()))
                    warm.reap()  # a pytest process that said its last word may still be exiting: its CPU is the run's
                    after = cpu_s()
                    if code != 0:
                        print(f"{kind}: the run exited {code}", file=sys.stderr)
                        return 1
                    if round_ == 0:
                        if kind == "forked":
                            each = ", ".join(f"{name} {s.server_cpu_s * 1000:.0f}" for name, s in server.servers.items())
                            print(f"fork servers before their first fork: {server.server_cpu_s * 1000:.0f} ms CPU "
                                  f"({each})")
                        continue
                    figures[kind].append((after[0] - before[0], after[1] - before[1]))
                    print(f"{kind}: calling process {figures[kind][-1][0] * 1000:.0f} ms, pytest process "
                          f"{figures[kind][-1][1] * 1000:.0f} ms CPU", flush=True)
        finally:
            setattr(warm, "take", fresh)  # noqa: B010
            server.close()
    print(f"load average {os.getloadavg()[0]:.2f}")
    for kind, rows in figures.items():
        print(f"{kind}: median calling process {statistics.median(r[0] for r in rows) * 1000:.0f} ms, pytest process "
              f"{statistics.median(r[1] for r in rows) * 1000:.0f} ms (min {min(r[1] for r in rows) * 1000:.0f}, "
              f"max {max(r[1] for r in rows) * 1000:.0f}) CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
