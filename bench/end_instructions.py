#!/usr/bin/env python3
"""CPU instructions of what `hih run`'s parent writes after its pytest processes have exited, less the sign-off PDF
(laid out and drawn by its side process): pytest's files masked again (`scrub_logs`), report.html, manifest.json,
signoff.html and the seal (`write_reports` without the PDF), over a copy of a report directory's own files, counted
by valgrind (callgrind): a figure other load on a shared machine cannot skew. With the side process started at the
last result, this is the parent's part of the end's critical path.

Each count runs this script in a fresh process twice, once writing the reports and once only loading what they are
made from (`--load-only`); both first load the summary, the evidence and the run's contracts, import and preload the
writers and lay out report.html's forms of the messages (`prepare_exchanges`), as a run has them by then (it loaded
its contracts before its scenarios and laid the forms out while they ran), so the figure is the writing alone.

    HIH_HISTORY=off .venv/bin/hih run --interface insurance --report-dir /tmp/insurance-run
    .venv/bin/python bench/end_instructions.py /tmp/insurance-run                       # this checkout
    .venv/bin/python bench/end_instructions.py /tmp/insurance-run --against /tmp/base   # another checkout first
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callgrind_count import report_dir_main  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
TIMEOUT_S = 900.0
KEPT = ("summary.json", "evidence.json", "junit.xml", "cucumber.json", "events.jsonl", "pytest.log")


def work(report_dir: Path, load_only: bool) -> None:
    """The reports of a copy of `report_dir`'s own files (what is ready before, as a run has it by then)."""
    os.environ["HIH_HISTORY"] = "off"
    from harness.report.html import prepare_exchanges
    from harness.report.writer import _contracts, preload, write_reports

    preload(False)
    with tempfile.TemporaryDirectory(prefix="hih-end-") as scratch:
        folder = Path(scratch)
        for name in KEPT:
            if (report_dir / name).is_file():
                shutil.copy(report_dir / name, folder / name)
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        evidence: dict[str, list[dict[str, object]]] = json.loads((folder / "evidence.json").read_text("utf-8"))
        contracts = _contracts(summary)
        for exchanges in evidence.values():
            prepare_exchanges(exchanges)
        if not load_only:
            write_reports(folder, summary, evidence, contracts, evidence_masked=True, signoff_pdf=False)
    print(f"done {len(evidence)} results")


def main() -> int:
    return report_dir_main(Path(__file__), __doc__.split("\n\n")[0], work, "the parent's reports after pytest", HERE,
                           TIMEOUT_S)


if __name__ == "__main__":
    sys.exit(main())
