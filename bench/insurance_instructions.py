#!/usr/bin/env python3
"""CPU instructions per 2207 settlement of the insurance mock, counted by valgrind (callgrind): a figure other load
on a shared machine cannot skew.

CPU time per settlement (`settle_proto_cpu.py`, `settle_wire_cpu.py`) swings with what else runs; the instructions
the settlements execute do not. This runs `settle_proto_cpu.py --callgrind` (the mock's lean HTTP protocol fed
signed requests from memory, bounded tables, journal on, every reply checked) under `valgrind --tool=callgrind
--instr-atstart=no`, so only the timed settlements are counted (not start-up, contracts or the visits' setup), and
divides by the settlements. With `--workers 2` the settlements go in turns to two mocks keeping one ledger through
per-worker logs, as `hih mock serve --workers 2` does: the figure is both workers' instructions per settlement,
catching up with the other's writes included. Instructions are not time (a cache miss costs more than an
addition): compare commits with it, not machines. Needs valgrind; a run takes a minute or two.

    .venv/bin/python bench/insurance_instructions.py                       # one process, 300 settlements
    .venv/bin/python bench/insurance_instructions.py --workers 2           # two workers' stores, in turns
    PYTHONPATH=/tmp/base .venv/bin/python bench/insurance_instructions.py --root /tmp/base   # another commit
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


def instructions(root: Path, settlements: int, workers: int, timeout_s: float) -> int:
    """Instructions valgrind counted for the timed settlements of one `settle_proto_cpu.py` round."""
    script = [str(root / "bench" / "settle_proto_cpu.py"), "--callgrind", "--rounds", "1", "--settlements",
              str(settlements), *(["--workers", str(workers)] if workers > 1 else [])]
    return callgrind_instructions(script, root, root / "bench", "CPU per settlement", timeout_s, ("--instr-atstart=no",))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settlements", type=int, default=300)
    ap.add_argument("--workers", type=int, default=1, help="mocks keeping one ledger as --workers processes do")
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code and settle_proto_cpu.py are measured")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed to the valgrind run")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        ap.error("valgrind is not installed (apt-get install valgrind)")
    if a.settlements < 1 or a.workers < 1:
        ap.error("give --settlements and --workers of 1 or more")
    total = instructions(a.root, a.settlements, a.workers, a.timeout)
    per = total / a.settlements
    store = f"{a.workers} workers' stores" if a.workers > 1 else "one process"
    print(f"insurance 2207 ({store}, {a.root}): {per:,.0f} instructions per settlement ({total:,} for {a.settlements})")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"workers": a.workers, "root": str(a.root), "settlements": a.settlements,
                                      "instructions": total, "per_settlement": per}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
