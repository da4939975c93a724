#!/usr/bin/env python3
"""What a commit costs a bounded table once it is full (`mocks.state.Store.bound`), without the mock around it.

Three cases, each a table bounded at `--rows` (default 50,000, `hih mock serve --max-rows`) filled to its bound and
then written `--commits` times, one transaction a row, as the insurance ledger is:
- `messages`: rows that are all finished (any row may go: msgids, settlements), the oldest let go each commit;
- `visits`: visits registered and settled in turn, the oldest settled ones let go;
- `open`: a morning's registrations past the bound before anyone settles (40 % over it, every visit open), then one
  visit registered and an old one settled per commit: the case where each commit used to look through every row
  over the bound for a finished one.
Prints µs of CPU per commit, best of `--rounds`. Compare commits with a `git archive` copy, interleaved:

```sh
.venv/bin/python bench/state_evict.py
PYTHONPATH=/tmp/base .venv/bin/python bench/state_evict.py
```
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parents[1]))  # appended: PYTHONPATH picks the code under test

import mocks  # noqa: E402
from mocks.state import Store  # noqa: E402


def _settled(visit: Any) -> bool:
    return bool(visit["status"] != "registered")


def case_messages(rows: int, commits: int) -> float:
    store = Store()
    store.bound("messages", rows)
    for n in range(rows):
        store.put("messages", f"M{n}", {"infno": "2207", "n": n})
    started = time.process_time()
    for n in range(rows, rows + commits):
        with store.transaction():
            store.put("messages", f"M{n}", {"infno": "2207", "n": n})
    assert store.count("messages") == rows
    return time.process_time() - started


def case_visits(rows: int, commits: int) -> float:
    store = Store()
    store.bound("visits", rows, finished=_settled)
    for n in range(rows):
        store.put("visits", f"V{n}", {"status": "settled"})
    started = time.process_time()
    for n in range(rows, rows + commits):
        with store.transaction():
            store.put("visits", f"V{n}", {"status": "registered"})
        with store.transaction():
            store.put("visits", f"V{n}", {"status": "settled"})
    assert store.count("visits") == rows
    return (time.process_time() - started) / 2


def case_open(rows: int, commits: int) -> float:
    store = Store()
    store.bound("visits", rows, finished=_settled)
    start = rows * 14 // 10
    for n in range(start):
        with store.transaction():
            store.put("visits", f"V{n}", {"status": "registered"})
    started = time.process_time()
    for n in range(start, start + commits):
        with store.transaction():
            store.put("visits", f"V{n}", {"status": "registered"})
            store.put("visits", f"V{n - start}", {"status": "settled"})
    assert store.count("visits") <= 2 * rows
    return time.process_time() - started


CASES: dict[str, Callable[[int, int], float]] = {"messages": case_messages, "visits": case_visits, "open": case_open}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--commits", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    for name in args.cases.split(","):
        best = min(CASES[name](args.rows, args.commits) for _ in range(args.rounds))
        print(f"{name:9s} {best / args.commits * 1e6:8.2f} us CPU per commit (table bounded at {args.rows:,}, "
              f"{args.commits:,} commits, best of {args.rounds})", flush=True)
    print(f"code {Path(mocks.__file__).parent.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
