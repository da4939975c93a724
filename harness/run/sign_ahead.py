"""signoff.pdf laid out from a run's last result, before its pytest processes have exited.

The end of `hih run` waits on the sign-off's side process (harness.report.pdf_ahead): it lays the pack out on the
other core while the parent writes the other reports. Started once the summary is final, that is after pytest's own
files and exit (tens of milliseconds on a quiet machine, ≈ 70–110 ms at load 5). At the last result the summary is
already known but for the time the run finishes: `EarlySignoff` starts the side process then, from the summary as it
is expected to be, the end time a placeholder (`finished_open`). At the end, `take` hands that side process on when
the final summary and evidence are the expected ones but for the end time and the run's duration (which the pack
does not show); otherwise it ends it, and the caller starts one from the final summary, as without it. Whatever
happens, the pack is the one the final summary gives: the side process draws the PDF only when the final page is
the laid-out one with the placeholders' values in their place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.run.results import Outcome

if TYPE_CHECKING:
    from harness.report.pdf_ahead import PdfAhead

Document = dict[str, Any]
Evidence = dict[str, list[dict[str, Any]]]
UNSHOWN = ("finished", "duration_s")
"""What the expected summary may get wrong: the end time (a placeholder on the page) and the duration (not shown)."""


def evidence_of(outcome: Outcome) -> Evidence:
    """The run's evidence by scenario, as evidence.json and the reports take it."""
    return {r.nodeid: r.evidence for r in outcome.results.values()}


@dataclass
class EarlySignoff:
    """One run's sign-off side process, started at its last result (when it can be) and taken at its end."""

    work: Path
    contracts: dict[str, Any]
    document: Callable[[Outcome, datetime], Document]
    """The summary of the run as it stands in `outcome`, finished at the given time."""
    preloading: threading.Thread
    """The thread importing WeasyPrint: the side process is forked once it is done (the end would wait for it too;
    it is done seconds before the last result of a run of some length)."""
    expected: Document | None = None
    evidence: Evidence | None = None
    ahead: PdfAhead | None = None
    tried: bool = False

    def at_last_result(self, outcome: Outcome) -> None:
        """Start the side process from the summary expected now that every scenario has its result (once)."""
        if self.tried:
            return
        self.tried = True
        self.preloading.join()  # WeasyPrint is not used from two threads at once, nor forked mid-import
        from harness.report.writer import start_signoff_pdf

        try:
            expected, evidence = self.document(outcome, datetime.now()), evidence_of(outcome)
            self.ahead = start_signoff_pdf(self.work, expected, evidence, self.contracts, finished_open=True)
        except Exception:  # noqa: BLE001 - only a head start: the end renders the pack again and reports what fails
            self.ahead = None
            return
        if self.ahead is not None:
            self.expected, self.evidence = expected, evidence

    def take(self, document: Document, evidence: Evidence) -> PdfAhead | None:
        """The side process started at the last result, when `document` and `evidence` (final) are the ones it was
        started from but for what the page does not depend on; else None (the side process is ended)."""
        ahead, self.ahead = self.ahead, None
        if ahead is None:
            return None
        if self.expected is not None and _shown(self.expected) == _shown(document) and self.evidence == evidence:
            return ahead
        ahead.close()
        return None

    def close(self) -> None:
        """End the side process if it was not taken (the run ends without its reports)."""
        if self.ahead is not None:
            self.ahead.close()
            self.ahead = None


def _shown(document: Document) -> Document:
    return {key: value for key, value in document.items() if key not in UNSHOWN}
