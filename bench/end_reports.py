"""What `hih run` does after its last scenario's result, the reports (`harness.report.writer.write_reports`), with
the sign-off PDF laid out in a side process beside the other reports (`lay_out_ahead`, as `hih run` does) and
without (laid out last, as before), alternating in one process with WeasyPrint and the templates preloaded as a run
has them (and its objects frozen out of the cyclic collector's walks). The side process is started whatever the
machine's load (`hih run` starts it only with a core to spare). Wall time, and CPU time of this process and of the side processes it reaped.

```sh
HIH_HISTORY=off .venv/bin/hih run --interface insurance --report-dir /tmp/insurance-run
.venv/bin/python bench/end_reports.py /tmp/insurance-run --rounds 9
HIH_HISTORY=off .venv/bin/hih run --interface insurance --report-dir /tmp/insurance-run
.venv/bin/python bench/end_reports.py /tmp/insurance-run --rounds 9 --runner-order
```
`--runner-order` compares instead the two orders of `hih run`'s end, both with the side process and a run history
(one per order, in a temporary folder, growing over the rounds, as a default run records): "history after" writes
summary.json and evidence.json, then the reports, then records the run (as before); "history beside" starts the side
process, then the history's thread (harness.run.history_beside), then writes the files and the reports, then waits for
the record (as `hih run` does now).
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

from interleaved import interleave

KEPT = ("summary.json", "evidence.json", "junit.xml", "cucumber.json", "events.jsonl", "pytest.log")


def one(source: Path, scratch: Path, ahead: bool, history: Path | None = None,
        beside: bool = False) -> tuple[float, float, float]:
    """(wall ms, CPU ms of this process, CPU ms of the side process) of write_reports over a fresh copy of the
    run's own files; with `history`, the end of `hih run` (summary.json and evidence.json written, the run recorded
    into `history`), in its order of now (`beside`) or before."""
    from harness.report.writer import start_signoff_pdf, write_reports
    from harness.run.history import record_run
    from harness.run.history_beside import RecordBeside

    folder = scratch / f"r{time.monotonic_ns()}"
    folder.mkdir()
    for name in KEPT:
        if (source / name).is_file():
            shutil.copy(source / name, folder / name)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    evidence_text = (folder / "evidence.json").read_text(encoding="utf-8")
    evidence = json.loads(evidence_text)
    if history is not None:
        os.environ["HIH_HISTORY"] = str(history)
    before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    if history is None:
        write_reports(folder, summary, evidence, evidence_masked=True, lay_out_ahead=ahead)
    elif beside:
        begun = start_signoff_pdf(folder, summary, evidence)
        recording = RecordBeside(summary, evidence, folder)
        (folder / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
        (folder / "evidence.json").write_text(evidence_text, encoding="utf-8")
        write_reports(folder, summary, evidence, evidence_masked=True, ahead=begun)
        recording.keep()
    else:
        (folder / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
        (folder / "evidence.json").write_text(evidence_text, encoding="utf-8")
        write_reports(folder, summary, evidence, evidence_masked=True, lay_out_ahead=True)
        record_run(summary, evidence, folder)
    wall = (time.perf_counter() - started) * 1000
    os.environ["HIH_HISTORY"] = "off"
    after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    own, side = ((a.ru_utime - b.ru_utime + a.ru_stime - b.ru_stime) * 1000 for a, b in zip(after, before, strict=True))
    shutil.rmtree(folder)
    return wall, own, side


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir", type=Path, help="a report directory `hih run` wrote")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--runner-order", action="store_true",
                        help="compare the end of `hih run` with its history recorded after the reports and beside them")
    args = parser.parse_args()
    os.environ.setdefault("HIH_HISTORY", "off")
    from harness.report import pdf_ahead
    from harness.report.writer import preload

    pdf_ahead.spare_core = lambda: True  # both sides measured whatever the load

    preload()
    gc.freeze()  # as `hih run` does before its reports
    kinds = {"laid out last": (False, False), "laid out ahead": (True, False)}
    if args.runner_order:
        kinds = {"history after": (True, False), "history beside": (True, True)}
    with tempfile.TemporaryDirectory() as scratch:
        histories = {label: Path(scratch) / f"history-{n}.sqlite" if args.runner_order else None
                     for n, label in enumerate(kinds)}

        def measure(label: str) -> tuple[float, float, float]:
            ahead, beside = kinds[label]
            return one(args.report_dir, Path(scratch), ahead, histories[label], beside)

        for label in kinds:  # the first write of each kind warms caches
            measure(label)
        figures = interleave(args.rounds, list(kinds), measure,
                             lambda _, label, got: f"{label}: wall {got[0]:.0f} ms, CPU {got[1] + got[2]:.0f} ms "
                                                   f"(side process {got[2]:.0f})")
    print(f"load average {os.getloadavg()[0]:.2f}")
    for label, rows in figures.items():
        walls, cpus = [w for w, _, _ in rows], [o + s for _, o, s in rows]
        print(f"{label}: wall median {statistics.median(walls):.0f} ms (min {min(walls):.0f}), "
              f"CPU median {statistics.median(cpus):.0f} ms (min {min(cpus):.0f}): this process "
              f"{statistics.median(o for _, o, _ in rows):.0f} ms, side process {statistics.median(s for _, _, s in rows):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
