#!/usr/bin/env python3
"""CPU instructions of the `hih` process of `hih run` until it tells its warm pytest process the command line,
counted by valgrind (callgrind): the parent's share of the start (bench/start_cpu.py's "hih until the order") as a
figure other load on a shared machine cannot skew. All its threads are counted, not the warm process it starts.

    .venv/bin/python bench/order_instructions.py                        # this checkout
    .venv/bin/python bench/order_instructions.py --against /tmp/base    # another checkout first
    .venv/bin/python bench/order_instructions.py --until spawn --against /tmp/base

`--until spawn` stops the count when `hih run` has started its warm pytest process instead (the start of the
process the run's scenarios wait on: everything before it is on the start's critical path).

Each side runs its own console-script entry point with this venv and `PYTHONPATH=DIR`, from DIR, with no run
history (HIH_HISTORY=off) and the user's parse cache, as bench/start_cpu.py does; run a `hih run` of each side
first, so that .pyc files and the parse cache exist. Instructions are not time (a cache miss costs more than an
addition), so compare commits with it, not machines. A count takes a few seconds to a minute.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callgrind_count import COLLECTED  # noqa: E402
from interleaved import checkout_parser, interleave, sides  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
TIMEOUT_S = 600.0
PARENT = r"""
import os, sys
from harness.run import warm
def take(argv, log):
    print("ordered", flush=True)
    warm.discard()
    os._exit(0)
warm.take = take
if %(spawn)r:
    started = warm.prestart
    def prestart():
        started()
        print("ordered", flush=True)
        warm.discard()
        os._exit(0)
    warm.prestart = prestart
sys.argv = ["hih", "run", "--interface", %(interface)r, "--report-dir", %(report)r]
from %(module)s import %(func)s
%(func)s()
"""


def count(checkout: Path, interface: str, spawn: bool = False) -> int:
    """Instructions of `checkout`'s `hih run --interface INTERFACE` until it sends the command line (`spawn`: until
    it has started the warm process)."""
    target = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]["hih"]
    module, func = target.split(":")
    with tempfile.TemporaryDirectory(prefix="hih-order-instr-") as scratch:
        script = PARENT % {"interface": interface, "report": str(Path(scratch) / "report"), "module": module,
                           "func": func, "spawn": spawn}
        env = {**os.environ, "PYTHONPATH": str(checkout), "HIH_HISTORY": "off"}
        done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/out", sys.executable,
                               "-c", script], capture_output=True, text=True, env=env, cwd=checkout,
                              timeout=TIMEOUT_S, check=False)
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None or "ordered" not in done.stdout:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"hih run of {checkout} under valgrind failed ({done.returncode}): {' / '.join(tail)}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    parser = checkout_parser(__doc__.split("\n\n")[0], rounds=1)
    parser.add_argument("--until", choices=("order", "spawn"), default="order",
                        help="count until the command line is sent (default), or until the warm process is started")
    args = parser.parse_args()
    figures = interleave(args.rounds, sides(args.against, HERE), lambda c: count(c, args.interface,
                                                                                 args.until == "spawn"),
                         lambda n, checkout, got: f"[{checkout}] round {n}: {got:,} instructions")
    for checkout, counts in figures.items():
        print(f"{checkout}: hih until the {'warm process is started' if args.until == 'spawn' else 'order'}, min {min(counts):,} instructions over {len(counts)} count(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
