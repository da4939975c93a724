#!/usr/bin/env python3
"""CPU instructions per order of the MLLP mocks, counted by valgrind (callgrind): a figure other load cannot skew.

On a shared machine CPU time per order (`mllp_cpu.py`) moves by ±15 % from run to run with what else runs; the
instructions a round executes do not. This runs `mllp_cpu.py` (same orders, journal on, every reply checked) under
`valgrind --tool=callgrind` twice, with `--small` and `--large` orders in its measured round, and divides the
difference of the two totals by the difference of the orders: start-up, contract loading and the warm-up cancel out.
Instructions are not time (a cache miss costs more than an addition), so compare commits with it, not machines.
Needs valgrind (`apt-get install valgrind`); a run takes a few minutes (valgrind runs Python ≈ 50 times slower).

    .venv/bin/python bench/mllp_instructions.py                      # mock LIS, 200 and 1,200 orders
    .venv/bin/python bench/mllp_instructions.py --shared             # with the store each --workers process has
    .venv/bin/python bench/mllp_instructions.py --workers 2          # two workers' stores on one state, in turns
    .venv/bin/python bench/mllp_instructions.py --workers 2 --per-turn 1   # turns of one order, as on the wire
    PYTHONPATH=/tmp/base .venv/bin/python bench/mllp_instructions.py --root /tmp/base   # another commit's code
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callgrind_count import callgrind_instructions  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def instructions(root: Path, orders: int, extra: list[str], timeout_s: float) -> int:
    """Instructions valgrind counted for one `mllp_cpu.py` run of one round of `orders`."""
    script = [str(root / "bench" / "mllp_cpu.py"), "--rounds", "1", "--messages", str(orders), *extra]
    return callgrind_instructions(script, root, root, "CPU per order", timeout_s)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--interface", choices=("lis", "pacs"), default="lis")
    ap.add_argument("--shared", action="store_true", help="the store `hih mock serve --workers` gives each worker")
    ap.add_argument("--workers", type=int, default=1,
                    help="mocks sharing one state as --workers processes do (mllp_cpu.py --workers): their total")
    ap.add_argument("--per-turn", type=int, default=0,
                    help="with --workers: orders to one worker before the next (mllp_cpu.py --per-turn; default 4); "
                         "1 is the wire's case, where the workers' connections alternate order by order")
    ap.add_argument("--small", type=int, default=200)
    ap.add_argument("--large", type=int, default=1200)
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code and mllp_cpu.py are measured")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed to each valgrind run")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if shutil.which("valgrind") is None:
        ap.error("valgrind is not installed (apt-get install valgrind)")
    if not 0 < a.small < a.large:
        ap.error("give 0 < --small < --large")
    extra = ["--interface", a.interface, *(["--shared"] if a.shared else []),
             *(["--workers", str(a.workers)] if a.workers > 1 else []),
             *(["--per-turn", str(a.per_turn)] if a.per_turn else [])]
    small = instructions(a.root, a.small, extra, a.timeout)
    large = instructions(a.root, a.large, extra, a.timeout)
    per_order = (large - small) / (a.large - a.small)
    turns = f", turns of {a.per_turn}" if a.per_turn else ""
    store = f"{a.workers} workers' stores{turns}" if a.workers > 1 else "shared store" if a.shared else "memory store"
    print(f"{a.interface} ({store}, {a.root}): {per_order:,.0f} instructions per order "
          f"({large:,} for {a.large} orders, {small:,} for {a.small})")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"interface": a.interface, "shared": a.shared, "workers": a.workers,
                                      "per_turn": a.per_turn, "root": str(a.root),
                                      "small": [a.small, small], "large": [a.large, large],
                                      "per_order": per_order}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
