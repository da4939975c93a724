#!/usr/bin/env python3
"""CPU instructions of what `hih run`'s parent does with each scenario's result while pytest runs the next one: its
part of evidence.json encoded (`EvidenceJson.add`) and report.html's forms of its messages laid out
(`prepare_exchanges`), over every result of a report directory, counted by valgrind (callgrind): a figure other
load on a shared machine cannot skew.

Each count runs this script in a fresh process twice, once doing the work and once only loading the evidence
(`--load-only`); the figure is the difference, so interpreter start-up, imports and the JSON load cancel out. The
parent does this work on its own core beside the pytest process, so it is not on a run's critical path while that
core is free; it is the run's CPU, and it is what the parent must have finished when the last result comes.

    HIH_HISTORY=off .venv/bin/hih run --interface insurance --report-dir /tmp/insurance-run
    .venv/bin/python bench/result_instructions.py /tmp/insurance-run                       # this checkout
    .venv/bin/python bench/result_instructions.py /tmp/insurance-run --against /tmp/base   # another checkout first
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callgrind_count import report_dir_main  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
TIMEOUT_S = 900.0


def work(report_dir: Path, load_only: bool) -> None:
    """The parent's work on every result of `report_dir` (imports first, as a run has them by then)."""
    from harness.report.html import prepare_exchanges
    from harness.run.results import Outcome

    evidence: dict[str, list[dict[str, object]]] = json.loads((report_dir / "evidence.json").read_text("utf-8"))
    if not load_only:
        encoder = Outcome().evidence_json
        for nodeid, exchanges in evidence.items():
            encoder.add(nodeid, exchanges)
            prepare_exchanges(exchanges)
    print(f"done {len(evidence)} results")


def main() -> int:
    return report_dir_main(Path(__file__), __doc__.split("\n\n")[0], work, "the parent's work on every result", HERE,
                           TIMEOUT_S)


if __name__ == "__main__":
    sys.exit(main())
