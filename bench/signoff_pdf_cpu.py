"""CPU time of one small `hih run` with the sign-off PDF (the default) and without it (`--no-signoff-pdf`),
alternating, each a `hih` process of its own: user+system seconds of that process and of every process it waited
for (its pytest processes, the side process that lays the PDF out), from the kernel's accounting of children.

```sh
.venv/bin/python bench/signoff_pdf_cpu.py --rounds 5 [--interface insurance] [--tags @smoke]
```
CPU, not wall: on a shared machine the wall time measures the neighbours. Each run writes into a scratch folder
with the run history off.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one(folder: Path, interface: str, tags: str, pdf: bool) -> tuple[float, float]:
    """(CPU s, wall s) of one `hih run` and the processes it waited for."""
    hih = Path(sys.executable).with_name("hih")
    argv = [str(hih), "run", "--interface", interface, "--tags", tags, "--report-dir", str(folder / "reports")]
    if not pdf:
        argv.append("--no-signoff-pdf")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=folder, env={**os.environ, "HIH_HISTORY": "off"}, capture_output=True, text=True,
                          timeout=600, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"hih run exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    if (folder / "reports" / "signoff.pdf").is_file() != pdf:
        raise SystemExit(f"signoff.pdf {'missing' if pdf else 'written'} in {folder / 'reports'}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--interface", default="insurance")
    ap.add_argument("--tags", default="@smoke")
    args = ap.parse_args(argv)
    figures: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="hih-signoff-pdf-") as scratch:
        for index in range(args.rounds):
            for pdf in (index % 2 == 0, index % 2 != 0):  # which side goes first alternates
                folder = Path(scratch) / f"{index}-{'pdf' if pdf else 'nopdf'}"
                folder.mkdir()
                figures[pdf].append(one(folder, args.interface, args.tags, pdf))
                print(f"round {index + 1} {'with PDF   ' if pdf else 'without PDF'}: CPU {figures[pdf][-1][0]:.2f} s, "
                      f"wall {figures[pdf][-1][1]:.2f} s", flush=True)
    for pdf in (True, False):
        cpus = [c for c, _ in figures[pdf]]
        print(f"{'with the PDF    ' if pdf else '--no-signoff-pdf'}: CPU median {statistics.median(cpus):.2f} s "
              f"(min {min(cpus):.2f}, max {max(cpus):.2f}), wall median {statistics.median(w for _, w in figures[pdf]):.2f} s")
    saved = statistics.median(c for c, _ in figures[True]) - statistics.median(c for c, _ in figures[False])
    print(f"CPU saved per run (medians): {saved:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
