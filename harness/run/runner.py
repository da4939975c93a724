"""`hih run`: start pytest-bdd over the selected features in child processes, follow their events, decide the gate.

The reports are written into a working directory beside `--report-dir` and moved into place at the end
(harness.run.staging), so a usage error leaves the previous report as it was. The interfaces are shared among
side-by-side pytest processes (harness.run.lanes, harness.run.child). Once pytest has run, the decision never
depends on the event stream alone: damaged events fall back on junit.xml and pytest's exit status
(harness.run.fallback). A cancelled run (SIGTERM, SIGINT) or one past `--timeout` stops pytest, keeps what ran and
writes a partial report whose decision is `incomplete` (exit 2), never `pass`.
"""

from __future__ import annotations

import gc
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.contract.loader import ContractStore
from harness.errors import UsageError
from harness.report.preloading import Preloading
from harness.run import warm
from harness.run.child import DEADLINE_LOG, Beside, execute, interface_for
from harness.run.history import history_path, interface_durations
from harness.run.lanes import deal
from harness.run.metadata import run_metadata
from harness.run.options import RunOptions, RunPlan, plan
from harness.run.progress import print_summary
from harness.run.results import Outcome, ScenarioResult, summary, write_json
from harness.run.sign_ahead import EarlySignoff, evidence_of
from harness.run.staging import Staging

if TYPE_CHECKING:
    from rich.console import Console

EXIT_INCOMPLETE = 2


def run(options: RunOptions, console: Console | None = None) -> int:
    """Run the gate; 0 pass, 1 fail, 2 incomplete. Usage and configuration problems raise UsageError (exit 2)."""
    if console is None:  # `hih run` gives its own, made when first used (harness.run.progress)
        from rich.console import Console

        console = Console(stderr=False)
    # the slowest checks (contract files, connector imports) are made beside pytest's start-up (Beside)
    p = plan(options, check_contracts=False, check_connectors=False)
    for note in p.notes:
        console.print(note, markup=False, highlight=False)
    staging = Staging(options.report_dir)
    try:
        return _run(p, staging, console)
    except BaseException as exc:
        kept = staging.discard(keep_log=isinstance(exc, SeeTheLog))
        if kept is not None:
            raise UsageError(f"{exc} (pytest's log: {kept / 'pytest.log'})") from None
        raise
    finally:
        warm.reap()  # pytest processes that said their last word before they exited: long gone by now


class SeeTheLog(UsageError):
    """The run could not start its scenarios and pytest's log says why: it is kept as `<report-dir>.failed/`."""


def _run(p: RunPlan, staging: Staging, console: Console) -> int:
    work = staging.path
    selection, select_file = None, None
    if p.changed_since:
        from harness.run import selection as selecting

        selection = selecting.choose(p, history_path(p.options.report_dir))
        selecting.describe(console, selection)
        if selection.empty:
            console.print("no scenario exercises the changed parts: nothing to run, gate not evaluated")
            staging.discard()
            return 0
        p = selection.narrow(p)
        select_file = selecting.write(selection, p, work)
    started = datetime.now()
    # the report templates and WeasyPrint (~0.7 s to import) made ready while the scenarios run, not after them;
    # without signoff.pdf (--no-signoff-pdf) WeasyPrint is never imported. Started once the pytest processes are
    # (`execute`'s `started`): before, its imports took the interpreter lock from what leads to the first one's
    # command line
    preloading = Preloading(_preload_reports, p.signoff_pdf)
    recorded = interface_durations(history_path(p.options.report_dir), list(p.feature_dirs))
    store = ContractStore(p.options.contracts_dir)
    kinds = {name: store.transport(name, version) for name, version in p.versions.items()}

    def document(outcome: Outcome, finished: datetime) -> dict[str, Any]:
        made = summary(p, outcome, started, finished)
        made.update(run_metadata(p.options.operator, p.options.release))
        if selection is not None:
            made["selection"] = selection.summary()
        return made

    # signoff.pdf laid out by a side process on the other core from about a second before the last result (the
    # summary expected if the scenarios left pass), checked at the last result (the summary then is the expected one
    # but for its end time), while pytest writes its files and exits
    only = next(iter(p.versions)) if len(p.versions) == 1 else ""
    early = EarlySignoff(work, p.contracts, document, preloading, lambda nodeid: interface_for(nodeid, p) or only)
    try:
        outcome, returncode, processes = execute(p, deal(p.feature_dirs, p.workers, recorded, kinds), work,
                                                 select_file, console, Beside(p.check),
                                                 early.at_last_result if p.signoff_pdf else None, preloading.start,
                                                 early.near_last_result if p.signoff_pdf else None)
        if outcome.connector_errors:
            raise UsageError(outcome.connector_errors[0])
        finished = datetime.now()
        _conclude(p, outcome, returncode, work, processes)
        final = document(outcome, finished)
        evidence = evidence_of(outcome)
        ahead = early.take(final, evidence)
    except BaseException:
        early.close()
        raise
    # imported after the scenarios: the pytest processes start sooner
    from harness.report.writer import manifest_line, start_signoff_pdf, write_reports
    from harness.run.history_beside import RecordBeside

    # WeasyPrint is not used from two threads at once: past the preloading's bound, the run does not touch it
    withheld = None if preloading.finished() else preloading.overdue()
    # what the run holds (contracts, results, WeasyPrint and the templates) lives until the exit: frozen out of the
    # cyclic collector's walks, which the reports' many short-lived objects would otherwise set off again and again
    gc.freeze()

    # without a side process from the last result (or with one whose page is not the final one) it is started now,
    # the longest part of what follows (forked before the history's thread starts); the history records the run
    # meanwhile, mostly waiting on the disk
    if ahead is None and p.signoff_pdf and withheld is None:
        ahead = start_signoff_pdf(work, final, evidence, p.contracts)
    recording = RecordBeside(final, evidence, staging.target)
    try:
        write_json(work / "summary.json", final)
        outcome.evidence_json.write(work / "evidence.json", evidence)  # the parts encoded as the results came
        # the plugin masked the evidence
        write_reports(work, final, evidence, p.contracts, evidence_masked=True, signoff_pdf=p.signoff_pdf,
                      ahead=ahead, pdf_withheld=withheld)
        report_dir = staging.commit()
    except BaseException:
        if ahead is not None:
            ahead.close()
        recording.drop()
        raise
    recording.keep()
    print_summary(console, final, report_dir)
    console.print(manifest_line(report_dir), markup=False, highlight=False)
    return {"pass": 0, "fail": 1}.get(final["decision"], EXIT_INCOMPLETE)


def _preload_reports(signoff_pdf: bool) -> None:
    from harness.report.writer import preload

    preload(signoff_pdf)


# -- after pytest -------------------------------------------------------------------------------------------------
def _conclude(p: RunPlan, outcome: Outcome, returncode: int, work: Path, processes: int) -> None:
    """Turn what pytest left into a decidable outcome, or a UsageError when nothing could run."""
    _apply_deadline_notes(outcome, work / DEADLINE_LOG, p)
    cancelled = outcome.incomplete is not None
    if outcome.damaged or (outcome.finished < processes and not cancelled):
        from harness.run.fallback import from_junit  # lxml: only when the events cannot be trusted

        from_junit(outcome, work / "junit.xml", returncode)
        for result in outcome.results.values():
            result.interface = result.interface or interface_for(result.nodeid, p)
    if outcome.collect_errors:
        raise SeeTheLog(f"cannot load the features: {outcome.collect_errors[0]}")
    if not outcome.results and not cancelled:
        if returncode == 5:
            raise UsageError(f"no scenario selected{f' by --tags {p.options.tags!r}' if p.options.tags else ''}")
        raise SeeTheLog(f"the run stopped before any scenario (pytest exit {returncode})")
    if not cancelled and outcome.not_run and not any(r.status == "failed" for r in outcome.results.values()):
        outcome.incomplete = f"pytest stopped early (exit {returncode})"


def _apply_deadline_notes(outcome: Outcome, log: Path, p: RunPlan) -> None:
    """A scenario whose process the deadline ended: its result carries the deadline's message (junit.xml too)."""
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return
    failures: list[tuple[str, str, dict[str, str]]] = []
    for line in lines:
        try:
            note = json.loads(line)
            nodeid, message, props = str(note["nodeid"]), str(note["message"]), dict(note.get("props") or {})
            key = str(note.get("key") or outcome.key_of(nodeid))
        except (ValueError, KeyError, TypeError):
            continue
        old = outcome.results.get(nodeid)
        outcome.results[nodeid] = ScenarioResult(
            nodeid=nodeid, interface=(old.interface if old else "") or interface_for(nodeid, p),
            feature=(old.feature if old else "") or props.get("hih_feature", ""),
            name=(old.name if old and old.name != nodeid.rsplit("::", 1)[-1] else "") or props.get("hih_scenario")
            or nodeid.rsplit("::", 1)[-1],
            status="failed", duration_s=old.duration_s if old else p.scenario_timeout_s, message=message,
            steps=old.steps if old else [], evidence=old.evidence if old else [], key=key)
        result = outcome.results[nodeid]
        failures.append((nodeid, message, {"hih_interface": result.interface, "hih_feature": result.feature,
                                           "hih_scenario": result.name}))
    if failures:
        from harness.run.combine import add_failures  # lxml: only when a scenario's deadline note is added

        add_failures(log.with_name("junit.xml"), failures)
