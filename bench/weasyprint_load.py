#!/usr/bin/env python3
"""What importing WeasyPrint costs a process, as `hih run`'s reports preloading does it (`harness.report.pdf.load`)
and as a plain `import weasyprint` does: wall time, the process's own CPU, the CPU of the processes it ran and
waited for (ctypes' library search: ldconfig, gcc, ld) and how many it ran, each a fresh process, alternated.

    .venv/bin/python bench/weasyprint_load.py --rounds 5

Run it without PYTHONDONTWRITEBYTECODE (`env -u PYTHONDONTWRITEBYTECODE`), after one import of each, so that the
.pyc files exist.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from interleaved import interleave

HERE = Path(__file__).resolve().parents[1]
PROBE = """
import json, resource, subprocess, sys, time
ran = []
spawn = subprocess.Popen.__init__
def counting(self, args, *rest, **kwargs):
    ran.append(1)
    spawn(self, args, *rest, **kwargs)
subprocess.Popen.__init__ = counting
started = time.perf_counter()
if sys.argv[1] == "load":
    from harness.report.pdf import load
    load()
else:
    import weasyprint
wall = time.perf_counter() - started
me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall_ms": wall * 1000, "cpu_ms": (me.ru_utime + me.ru_stime) * 1000,
                  "children_cpu_ms": (children.ru_utime + children.ru_stime) * 1000, "processes": len(ran)}))
"""
WAYS = ("load", "plain")


def once(way: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", PROBE, way], capture_output=True, text=True, cwd=HERE, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(HERE)}, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for way in WAYS:  # uncounted: .pyc files written, the font caches warm
        once(way)
    figures = interleave(args.rounds, WAYS, once,
                         lambda n, way, got: f"[{way}] round {n}: " + ", ".join(f"{k} {v:.0f}" for k, v in got.items()))
    print(f"load average {os.getloadavg()[0]:.2f}")
    for way, runs in figures.items():
        print(f"{way}: " + ", ".join(f"{key} median {statistics.median(r[key] for r in runs):.0f}"
                                     for key in ("wall_ms", "cpu_ms", "children_cpu_ms", "processes")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
