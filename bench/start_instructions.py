#!/usr/bin/env python3
"""CPU instructions of a run's pytest process until its scenarios are collected, counted by valgrind (callgrind): the
start of `hih run` (bench/start_cpu.py) as a figure other load on a shared machine cannot skew.

The pytest process is harness/run/warm.py as `hih run` starts it, given at once the command line the `hih` of the
checkout tells it (so nothing is imported while waiting), with `--collect-only`: its imports, pytest's start, the
plugins', the step modules' and the mock's, the feature files read and the scenarios collected, then pytest's exit.
`--cold-cache` gives it an empty parse cache (`HIH_CACHE_DIR`), as on a CI runner that keeps none: every contract and
feature file it reads is parsed and checked again. Instructions are not time (a cache miss costs more than an
addition), so compare commits with it, not machines. Needs valgrind; a count takes a minute or two.

    .venv/bin/python bench/start_instructions.py                            # this checkout, the user's parse cache
    .venv/bin/python bench/start_instructions.py --against /tmp/base        # another checkout first
    .venv/bin/python bench/start_instructions.py --against /tmp/base --cold-cache
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callgrind_count import COLLECTED  # noqa: E402
from interleaved import checkout_parser, interleave, sides  # noqa: E402
from start_cpu import hih_order  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
TIMEOUT_S = 900.0


def count(checkout: Path, interface: str, cold: bool) -> int:
    """Instructions of `checkout`'s pytest process, started as `hih run --interface INTERFACE` starts it, until it
    has collected its scenarios and exited."""
    with tempfile.TemporaryDirectory(prefix="hih-start-instr-") as scratch:
        _, argv, env = hih_order(checkout, interface, Path(scratch))
        order = {"argv": [*argv, "--collect-only"], "log": str(Path(scratch) / "pytest.log")}
        if cold:
            env = {**env, "HIH_CACHE_DIR": str(Path(scratch) / "cache")}
        done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/out", sys.executable,
                               str(checkout / "harness" / "run" / "warm.py")], input=json.dumps(order) + "\n",
                              capture_output=True, text=True, env=env, cwd=checkout, timeout=TIMEOUT_S, check=False)
        log = (Path(scratch) / "pytest.log").read_text(encoding="utf-8", errors="replace")
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None or "collected" not in log:
        tail = (done.stderr or log).strip().splitlines()[-3:]
        raise SystemExit(f"the pytest process of {checkout} under valgrind failed ({done.returncode}): "
                         f"{' / '.join(tail)}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    parser = checkout_parser(__doc__.split("\n\n")[0], rounds=1)
    parser.add_argument("--cold-cache", action="store_true", help="an empty parse cache for each count")
    args = parser.parse_args()
    figures = interleave(args.rounds, sides(args.against, HERE), lambda c: count(c, args.interface, args.cold_cache),
                         lambda n, checkout, got: f"[{checkout}] round {n}: {got:,} instructions")
    for checkout, counts in figures.items():
        print(f"{checkout}: pytest process until collected, {'cold' if args.cold_cache else 'warm'} parse cache: "
              f"min {min(counts):,} instructions over {len(counts)} count(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
