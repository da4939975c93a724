"""What removing each scenario's connector work folder costs the scenario that follows: the folder removed where the
scenario ends (as `hih run` did) against handed to `harness.work_folders` (removed by a thread meanwhile).

```sh
.venv/bin/python bench/work_folders.py                 # 200 scenarios each way, in the temporary folder
.venv/bin/python bench/work_folders.py --dir /var/tmp --scenarios 500
```
Each "scenario" makes its folder (`tempfile.mkdtemp`, as the plugin does), appends a line to an event file and
flushes it, then removes the folder. Prints the milliseconds per scenario both ways, the time `finish` then waits
for the thread, and how long one `rmdir` of an empty folder takes on that file system (on an ext4 mounted with
`discard` it is milliseconds).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import work_folders  # noqa: E402 - the checkout's, not an installed one


def scenarios(root: Path, count: int, remove: Callable[[Path], None]) -> float:
    """Milliseconds per scenario."""
    with (root / "events.jsonl").open("a", encoding="utf-8") as events:
        started = time.perf_counter()
        for _ in range(count):
            folder = Path(tempfile.mkdtemp(prefix="hih-insurance-", dir=root))
            events.write("x" * 4000 + "\n")
            events.flush()
            remove(folder)
        return (time.perf_counter() - started) * 1000 / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the folders go (default: the temporary folder)")
    args = parser.parse_args()
    inline, beside, waits, rmdirs = [], [], [], []
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        root = Path(scratch)
        for _ in range(args.rounds):  # interleaved
            inline.append(scenarios(root, args.scenarios, lambda f: shutil.rmtree(f, ignore_errors=True)))
            beside.append(scenarios(root, args.scenarios, work_folders.remove))
            started = time.perf_counter()
            work_folders.finish()
            waits.append((time.perf_counter() - started) * 1000)
            for _ in range(50):
                os.mkdir(root / "d")
                started = time.perf_counter()
                os.rmdir(root / "d")
                rmdirs.append((time.perf_counter() - started) * 1000)
    print(f"load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds of {args.scenarios} scenarios")
    print(f"removed where the scenario ends: median {statistics.median(inline):.3f} ms a scenario")
    print(f"handed to the remover thread:    median {statistics.median(beside):.3f} ms a scenario "
          f"(then finish waited {statistics.median(waits):.1f} ms)")
    print(f"rmdir of an empty folder:        median {statistics.median(rmdirs):.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
