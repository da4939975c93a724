#!/usr/bin/env python3
"""CPU instructions of one reset of a mock between scenarios (`mock.reset()`, as the hih plugin makes it before
each scenario), counted by valgrind (callgrind), so that other load on a shared machine cannot skew the figure.

One process builds the interface's mock from its newest contract (not listening), resets it once, then N more
times, each after a scenario's worth of writes (the insurance ledger's balance of one person spent, a visit; the
blood centre's bag issued, an order). Counted for N = 0 and N = `--resets`; the difference over N is the figure per
reset, the interpreter's start, the imports, the mock's construction and its first seeding left out.

    .venv/bin/python bench/reset_instructions.py --interface insurance --against /tmp/base
    .venv/bin/python bench/reset_instructions.py --interface blood-center --against /tmp/base --resets 50
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callgrind_count import callgrind_instructions  # noqa: E402
from interleaved import interleave, sides  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
CHILD = """
import sys
from harness.contract.loader import ContractStore
from mocks.registry import create_mock

interface, resets = sys.argv[1], int(sys.argv[2])
mock = create_mock(ContractStore(None).load(interface, None))
mock.reset()
dins = [din for din, _ in mock.store.items("inventory")[:10]] if interface == "blood-center" else []
for n in range(resets):
    if interface == "insurance":
        person = mock.population[n % len(mock.population)]
        mock.store.put("balances", person.psn_no, "0.00")
        mock.store.put("visits", f"V{n}", {"psn_no": person.psn_no, "status": "settled"})
    else:
        din = dins[n % 10]
        mock.store.put("inventory", din, {**mock.store.get("inventory", din), "status": "ISSUED"})
        mock.store.put("orders", f"H/{n}", {"orderNo": str(n), "status": "ISSUED"})
    mock.reset()
print("done", resets)
"""


def count(checkout: Path, interface: str, resets: int) -> int:
    return callgrind_instructions(["-c", CHILD, interface, str(resets)], checkout, checkout, "done", timeout_s=900)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, default=None, metavar="DIR", help="another checkout, counted first")
    parser.add_argument("--interface", default="insurance", choices=("insurance", "blood-center"))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--resets", type=int, default=20)
    args = parser.parse_args()

    def per_reset(checkout: Path) -> float:
        return (count(checkout, args.interface, args.resets) - count(checkout, args.interface, 0)) / args.resets

    figures = interleave(args.rounds, sides(args.against, HERE), per_reset,
                         lambda n, checkout, got: f"[{n}] {checkout}: {got:,.0f} instructions a reset")
    for checkout, values in figures.items():
        print(f"{checkout}: median {statistics.median(values):,.0f} instructions a reset of the {args.interface} "
              "mock (after a scenario's writes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
