"""Run a bench script under `valgrind --tool=callgrind` and read the instructions it counted (the `*_instructions.py`
scripts): a figure other load on a shared machine cannot skew."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

COLLECTED = re.compile(r"Collected\s*:\s*([\d,]+)")


def callgrind_instructions(script: list[str], root: Path, cwd: Path, expect: str, timeout_s: float,
                           options: tuple[str, ...] = ()) -> int:
    """Instructions callgrind counted running `script` (a Python command line, the checkout `root` on the path);
    SystemExit naming the script when it failed or did not print `expect`."""
    with tempfile.TemporaryDirectory(prefix="hih-callgrind-") as scratch:
        command = ["valgrind", "--tool=callgrind", *options, f"--callgrind-out-file={scratch}/out", sys.executable,
                   *script]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, cwd=cwd,
                              env={**os.environ, "PYTHONPATH": str(root)})
    name = Path(script[0]).name
    if done.returncode != 0 or expect not in done.stdout:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"{name} under valgrind failed ({done.returncode}): {' / '.join(tail)}")
    found = COLLECTED.search(done.stderr)
    if found is None:
        raise SystemExit("valgrind printed no instruction count")
    return int(found.group(1).replace(",", ""))


def report_dir_main(script: Path, description: str, work: Callable[[Path, bool], None], what: str, here: Path,
                    timeout_s: float) -> int:
    """The command line of a bench that counts one piece of hih's work on a report directory `hih run` wrote, less
    the instructions of loading what it reads: `script DIR --inside [--load-only]` runs `work(DIR, load_only)` (which
    prints "done"), counted under callgrind in each checkout (`--against DIR` first), round by round. `what` names
    the work in the summary lines."""
    from interleaved import interleave, sides

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("report_dir", type=Path, help="a report directory `hih run` wrote")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--against", type=Path, default=None, metavar="DIR", help="another checkout, counted first")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    report_dir = args.report_dir.resolve()
    if args.inside:
        work(report_dir, args.load_only)
        return 0

    def count(checkout: Path) -> int:
        command = [str(script.resolve()), str(report_dir), "--inside"]
        full = callgrind_instructions(command, checkout, checkout, "done", timeout_s)
        return full - callgrind_instructions([*command, "--load-only"], checkout, checkout, "done", timeout_s)

    figures = interleave(args.rounds, sides(args.against, here), count,
                         lambda n, checkout, got: f"[{checkout}] round {n}: {got:,} instructions")
    for checkout, counts in figures.items():
        print(f"{checkout}: {what}: min {min(counts):,} instructions over {len(counts)} count(s)")
    return 0
