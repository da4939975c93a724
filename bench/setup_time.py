#!/usr/bin/env python3
"""Wall and CPU seconds of `./scripts/setup` in a fresh clone (what CI's `./scripts/test` starts with): a `git clone`
of this checkout's HEAD into a scratch folder, then its set-up, N times (default 1), with uv (the default) or pip
(`--pip`: HIH_SETUP_PIP=1). Package caches (pip's, uv's) are left as they are: warm, as on a developer's machine or a
CI runner that keeps them.

  .venv/bin/python bench/setup_time.py [--runs 1] [--pip]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--pip", action="store_true", help="set up with pip (HIH_SETUP_PIP=1) instead of uv")
    args = ap.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "HIH_SETUP_PIP")}
    if args.pip:
        env["HIH_SETUP_PIP"] = "1"
    code = 0
    for i in range(1, args.runs + 1):
        scratch = Path(tempfile.mkdtemp(prefix="hih-setup-"))
        try:
            subprocess.run(["git", "clone", "-q", str(ROOT), str(scratch / "hih")], check=True)
            load = os.getloadavg()[0]
            cpu0, start = children_cpu_s(), time.perf_counter()
            done = subprocess.run(["./scripts/setup"], cwd=scratch / "hih", env=env, capture_output=True, text=True,
                                  check=False)
            wall, cpu = time.perf_counter() - start, children_cpu_s() - cpu0
            print(f"run {i} ({'pip' if args.pip else 'uv'}): {wall:.1f} s wall, CPU {cpu:.1f} s, load average "
                  f"{load:.1f} at the start, exit {done.returncode}", flush=True)
            code = code or done.returncode
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
