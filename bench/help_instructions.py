#!/usr/bin/env python3
"""CPU instructions of `hih --help` (and of the other help requests given), counted by valgrind (callgrind), beside
those of a bare interpreter (`python -c pass`): what hih's quickest command adds to Python's own start, as a figure
other load on a shared machine cannot skew (bench/startup.py gives its wall and CPU time).

    .venv/bin/python bench/help_instructions.py                               # this checkout
    .venv/bin/python bench/help_instructions.py --against /tmp/base --rounds 2
    .venv/bin/python bench/help_instructions.py --argv="run --help" --argv=--help

Each side runs its own console-script entry point with this venv and `PYTHONPATH=DIR`, from DIR, with a parse
cache of its own (`HIH_CACHE_DIR`, a temporary folder per side) that one uncounted run of each request fills first,
as a user's second `hih --help` finds it; `--cold` counts with the cache off (`HIH_CACHE_DIR=off`) instead. Run it
without PYTHONDONTWRITEBYTECODE (`env -u PYTHONDONTWRITEBYTECODE`), so that each module's .pyc is written once and
read after. A count takes a few seconds.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callgrind_count import COLLECTED  # noqa: E402
from interleaved import checkout_parser, interleave, sides  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
TIMEOUT_S = 300.0


def entry_script(checkout: Path) -> str:
    """`checkout`'s `hih` as its console script runs it (its pyproject.toml's entry point), given sys.argv."""
    target = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]["hih"]
    module, func = target.split(":")
    return f"import sys; sys.argv[0] = 'hih'; from {module} import {func}; sys.exit({func}())"


def count(command: list[str], env: dict[str, str], cwd: Path) -> int:
    """Instructions of `command` (a Python command line) under callgrind."""
    with tempfile.TemporaryDirectory(prefix="hih-help-instr-") as scratch:
        done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/out", *command],
                              capture_output=True, text=True, env=env, cwd=cwd, timeout=TIMEOUT_S, check=False)
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"{' '.join(command[:3])} under valgrind failed ({done.returncode}): {' / '.join(tail)}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    parser = checkout_parser(__doc__.split("\n\n")[0], rounds=1)
    parser.add_argument("--argv", action="append", default=None, help="a help request to count (default: --help)")
    parser.add_argument("--cold", action="store_true", help="the parse cache off (HIH_CACHE_DIR=off)")
    args = parser.parse_args()
    requests = [shlex.split(a) for a in args.argv or ["--help"]]
    caches = tempfile.TemporaryDirectory(prefix="hih-help-cache-")
    checkouts = sides(args.against, HERE)
    envs = {checkout: {**os.environ, "PYTHONPATH": str(checkout),
                       "HIH_CACHE_DIR": "off" if args.cold else str(Path(caches.name) / str(n))}
            for n, checkout in enumerate(checkouts)}
    for checkout in checkouts:  # each request once, uncounted: .pyc files and the side's cache written
        for argv in requests:
            subprocess.run([sys.executable, "-c", entry_script(checkout), *argv], env=envs[checkout], cwd=checkout,
                           capture_output=True, timeout=TIMEOUT_S, check=False)
    bare = count([sys.executable, "-c", "pass"], dict(os.environ), HERE)
    print(f"bare python -c pass: {bare:,} instructions", flush=True)
    for argv in requests:
        label = " ".join(["hih", *argv])

        def measure(checkout: Path, argv: list[str] = argv) -> int:
            return count([sys.executable, "-c", entry_script(checkout), *argv], envs[checkout], checkout)

        def show(n: int, checkout: Path, got: int, label: str = label) -> str:
            return f"[{checkout}] {label}, round {n}: {got:,} instructions"

        figures = interleave(args.rounds, checkouts, measure, show)
        for checkout, counts in figures.items():
            print(f"{checkout}: {label}: min {min(counts):,} instructions ({min(counts) - bare:,} beyond a bare "
                  f"interpreter) over {len(counts)} count(s)")
    caches.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
