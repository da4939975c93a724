"""Run a bench script under `valgrind --tool=callgrind` and read the instructions it counted (the `*_instructions.py`
scripts): a figure other load on a shared machine cannot skew."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
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
