"""What `hih run` does after its last scenario's result, the reports (`harness.report.writer.write_reports`), with
the sign-off PDF laid out in a side process beside the other reports (`lay_out_ahead`, as `hih run` does) and
without (laid out last, as before), alternating in one process with WeasyPrint and the templates preloaded as a run
has them (and its objects frozen out of the cyclic collector's walks). The side process is started whatever the
machine's load (`hih run` starts it only with a core to spare). Wall time, and CPU time of this process and of the side processes it reaped.

```sh
HIH_HISTORY=off .venv/bin/hih run --interface insurance --report-dir /tmp/insurance-run
.venv/bin/python bench/end_reports.py /tmp/insurance-run --rounds 9
```
Each round copies the report directory as the run left it before its reports (summary.json, evidence.json and
pytest's files; the reports of the copy are written afresh). The side process gains only with a core to spare: on a
machine whose other work keeps both cores busy, the two sides are the same or the side process costs its own CPU.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

KEPT = ("summary.json", "evidence.json", "junit.xml", "cucumber.json", "events.jsonl", "pytest.log")


def one(source: Path, scratch: Path, ahead: bool) -> tuple[float, float, float]:
    """(wall ms, CPU ms of this process, CPU ms of the side process) of write_reports over a fresh copy of the
    run's own files."""
    from harness.report.writer import write_reports

    folder = scratch / f"r{time.monotonic_ns()}"
    folder.mkdir()
    for name in KEPT:
        if (source / name).is_file():
            shutil.copy(source / name, folder / name)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    evidence = json.loads((folder / "evidence.json").read_text(encoding="utf-8"))
    before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    write_reports(folder, summary, evidence, evidence_masked=True, lay_out_ahead=ahead)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    own, side = ((a.ru_utime - b.ru_utime + a.ru_stime - b.ru_stime) * 1000 for a, b in zip(after, before, strict=True))
    shutil.rmtree(folder)
    return wall, own, side


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir", type=Path, help="a report directory `hih run` wrote")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    os.environ.setdefault("HIH_HISTORY", "off")
    from harness.report import pdf_ahead
    from harness.report.writer import preload

    pdf_ahead.spare_core = lambda: True  # both sides measured whatever the load

    preload()
    gc.freeze()  # as `hih run` does before its reports
    figures: dict[str, list[tuple[float, float, float]]] = {"laid out last": [], "laid out ahead": []}
    with tempfile.TemporaryDirectory() as scratch:
        one(args.report_dir, Path(scratch), False)  # the first write of each kind warms caches
        one(args.report_dir, Path(scratch), True)
        for _ in range(args.rounds):
            for label, ahead in (("laid out last", False), ("laid out ahead", True)):
                wall, own, side = one(args.report_dir, Path(scratch), ahead)
                figures[label].append((wall, own, side))
                print(f"{label}: wall {wall:.0f} ms, CPU {own + side:.0f} ms (side process {side:.0f})", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")
    for label, rows in figures.items():
        walls, cpus = [w for w, _, _ in rows], [o + s for _, o, s in rows]
        print(f"{label}: wall median {statistics.median(walls):.0f} ms (min {min(walls):.0f}), "
              f"CPU median {statistics.median(cpus):.0f} ms (min {min(cpus):.0f}): this process "
              f"{statistics.median(o for _, o, _ in rows):.0f} ms, side process {statistics.median(s for _, _, s in rows):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
