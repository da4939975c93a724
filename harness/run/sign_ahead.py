"""signoff.pdf laid out before a run's last result, and before its pytest processes have exited.

The end of `hih run` waits on the sign-off's side process (harness.report.pdf_ahead): it lays the pack out on the
other core while the parent writes the other reports. Started once the summary is final, that is after pytest's own
files and exit, its layout (≈ 0.6 s of wall at load 5) was the end's critical path. `EarlySignoff` starts it sooner,
twice over. About a second before the last result, as the run's pace so far tells (`LEAD_S`), from the summary
expected if the scenarios left pass (`near_last_result`): a passing run's page shows of them only their counts (and,
against the run history, names that are new or failed last time); a result other than passed since makes the
prediction again (`PREDICTIONS`). At the last result the summary is known but for the time the run finishes: the
page it gives (rendered, ≈ 5 ms) is compared with the one laid out; when they differ (a scenario failed, or the
page shows a name the prediction did not know) that side process is ended and one is started from it
(`at_last_result`), as when none was started before. Either way the end time is a placeholder (`finished_open`).
At the end, `take` hands that side process on when the final summary and evidence are the expected ones but for
the end time and the run's duration (which the pack does not show); otherwise it ends it, and the caller starts one
from the final summary, as without it. Whatever happens, the pack is the one the final summary gives: the side
process draws the PDF only when the final page is the laid-out one with the placeholders' values in their place.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.run.results import Outcome, ScenarioResult

if TYPE_CHECKING:
    from harness.report.pdf_ahead import PdfAhead
    from harness.report.preloading import Preloading
    from harness.report.signoff import AheadPage

Document = dict[str, Any]
Evidence = dict[str, list[dict[str, Any]]]
UNSHOWN = ("finished", "duration_s")
"""What the expected summary may get wrong: the end time (a placeholder on the page) and the duration (not shown)."""
LEAD_S = 1.0
"""How long before the last result (as the run's pace so far tells) the side process is started on the prediction
that the scenarios left pass: its layout takes ≈ 250–450 ms of wall with a core to spare, and the run learns of a
result some tens of milliseconds after it. The last scenarios of a run are often quicker than its average one."""
PREDICTIONS = 3
"""At most so many side processes started on a prediction: a result other than passed (a failure, a skip) makes the
prediction wrong, and it is made again, until then; after that the run waits for its last result."""


def evidence_of(outcome: Outcome) -> Evidence:
    """The run's evidence by scenario, as evidence.json and the reports take it."""
    return {r.nodeid: r.evidence for r in outcome.results.values()}


def expected_passes(outcome: Outcome, interface_of: Callable[[str], str]) -> Outcome:
    """`outcome` with every collected scenario that has no result yet passed (no evidence, no steps, its name as
    its node id ends: what the results will say is not known, and a passed scenario's is not on the page). Its
    interface: `interface_of` its node id, else that of a result from the same file."""
    done = outcome.done
    results = dict(outcome.results)
    by_file = {r.nodeid.split("::", 1)[0]: r.interface for r in outcome.results.values() if r.interface}
    for key in outcome.nodeids:
        if key not in done:
            nodeid = outcome.shown.get(key, key)
            interface = interface_of(nodeid) or by_file.get(nodeid.split("::", 1)[0], "")
            results[nodeid] = ScenarioResult(nodeid=nodeid, interface=interface, feature="",
                                             name=nodeid.rsplit("::", 1)[-1], status="passed", duration_s=0.0,
                                             key=key)
    return dataclasses.replace(outcome, results=results)


@dataclass
class EarlySignoff:
    """One run's sign-off side process, started near its last result or at it (when it can be), taken at its end."""

    work: Path
    contracts: dict[str, Any]
    document: Callable[[Outcome, datetime], Document]
    """The summary of the run as it stands in `outcome`, finished at the given time."""
    preloading: Preloading
    """The thread importing WeasyPrint: the side process is forked once it is done (the end would wait for it too;
    it is done seconds before the last result of a run of some length), never when it overran its bound."""
    interface_of: Callable[[str], str] = lambda nodeid: ""
    """The interface of a scenario by its node id (for the prediction's counts)."""
    expected: Document | None = None
    evidence: Evidence | None = None
    ahead: PdfAhead | None = None
    page: AheadPage | None = None
    """The page `ahead` lays out."""
    finished: datetime | None = None
    """The end time the page laid out shows (a placeholder), kept for the pages compared with it."""
    predictions: int = 0
    since: float | None = None
    """When every scenario was first known to be collected (monotonic): the run's pace is counted from then."""
    unpassed: int = 0
    """How many results were not passed when the side process was started on a prediction."""
    tried: bool = False

    def near_last_result(self, outcome: Outcome) -> None:
        """Start the side process from the summary expected if every scenario without a result yet passes, once
        the results so far say the last one is `LEAD_S` away; again when a result other than passed came since
        (at most `PREDICTIONS` in all). Returns at once while the reports' preloading runs, so that the run's
        events are not left waiting on it."""
        now = time.monotonic()
        if self.since is None:
            self.since = now
        if self.tried or self.predictions >= PREDICTIONS or self.preloading.ident is None or \
                self.preloading.is_alive():
            return
        done, left = len(outcome.results), len(outcome.nodeids) - len(outcome.done)
        if not done or (now - self.since) / done * left > LEAD_S:
            return
        unpassed = sum(1 for r in outcome.results.values() if r.status != "passed")
        if self.ahead is not None and unpassed == self.unpassed:
            return
        self.close()
        self.predictions += 1
        self.unpassed = unpassed
        self._start(expected_passes(outcome, self.interface_of), datetime.now())

    def at_last_result(self, outcome: Outcome) -> None:
        """Now that every scenario has its result: keep the side process started near it when the page expected
        now is the one it lays out, else start one from that page (once)."""
        if self.tried:
            return
        self.tried = True
        if not self.preloading.finished():  # WeasyPrint is not used from two threads at once, nor forked mid-import
            return  # the end says why signoff.pdf is not made
        if self.ahead is None:
            self._start(outcome, datetime.now())
        else:
            self._again(outcome)
        if self.ahead is not None:
            self.expected, self.evidence = self.document(outcome, self.finished or datetime.now()), \
                evidence_of(outcome)

    def _start(self, outcome: Outcome, finished: datetime) -> None:
        from harness.report.signoff import start_ahead
        from harness.report.writer import signoff_page

        try:
            page = signoff_page(self.work, self.document(outcome, finished), evidence_of(outcome), self.contracts,
                                finished_open=True)
            self.ahead = start_ahead(self.work, page)
        except Exception:  # noqa: BLE001 - only a head start: the end renders the pack again and reports what fails
            self.ahead = None
        if self.ahead is not None:
            self.page, self.finished = page, finished

    def _again(self, outcome: Outcome) -> None:
        """The side process started on a prediction kept when the page is the same now, else replaced."""
        from harness.report.signoff import start_ahead
        from harness.report.writer import signoff_page

        assert self.ahead is not None and self.finished is not None
        try:
            page = signoff_page(self.work, self.document(outcome, self.finished), evidence_of(outcome),
                                self.contracts, finished_open=True)
        except Exception:  # noqa: BLE001 - as in `_start`
            self.close()
            return
        if page == self.page:
            return
        self.close()
        self.ahead = start_ahead(self.work, page)
        self.page = page if self.ahead is not None else None

    def take(self, document: Document, evidence: Evidence) -> PdfAhead | None:
        """The side process kept at the last result, when `document` and `evidence` (final) are the ones expected
        then but for what the page does not depend on; else None (the side process is ended)."""
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
