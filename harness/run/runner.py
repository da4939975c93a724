"""`hih run`: start pytest-bdd over the selected features in a child process, follow its events, decide the gate.

The reports are written into a working directory beside `--report-dir` and moved into place at the end
(harness.run.staging), so a usage error leaves the previous report as it was. Once pytest has run, the decision
never depends on the event stream alone: damaged events fall back on junit.xml and pytest's exit status
(harness.run.fallback). A cancelled run (SIGTERM, SIGINT) or one past `--timeout` stops pytest, keeps what ran and
writes a partial report whose decision is `incomplete` (exit 2), never `pass`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from harness.errors import UsageError
from harness.report import write_reports
from harness.run.combine import add_failures, combine_cucumber, combine_junit
from harness.run.deadline import EXIT_STUCK
from harness.run.events import EventReader
from harness.run.fallback import from_junit
from harness.run.history import record_run
from harness.run.options import PROJECT_ROOT, RunOptions, RunPlan, plan
from harness.run.progress import RunProgress, print_summary
from harness.run.results import Outcome, ScenarioResult, summary, write_json
from harness.run.staging import Staging

INI = Path(__file__).with_name("pytest-run.ini")
DEADLINE_LOG = "deadline.jsonl"
DONE_FILE = "done.json"
POLL_S = 0.05
STOP_GRACE_S = 5.0
EXIT_INCOMPLETE = 2


def pytest_command(p: RunPlan, report_dir: Path, select: Path | None = None, segment: int = 0) -> list[str]:
    """The child's command line; a later `segment` (pytest restarted after the deadline ended it) writes its own
    junit and cucumber files and leaves out the scenarios already done."""
    suffix = f".{segment}" if segment else ""
    args = [sys.executable, "-m", "pytest", "-c", str(INI), "--rootdir", str(PROJECT_ROOT),
            "-p", "harness.run.collector", "--hih-events", str(report_dir / "events.jsonl"),
            "--junitxml", str(report_dir / f"junit{suffix}.xml"), "-o", "junit_suite_name=hih", "-q", "-rfE",
            "--cucumberjson", str(report_dir / f"cucumber{suffix}.json"),
            "-p", "harness.run.deadline", "--hih-scenario-timeout", f"{p.scenario_timeout_s:g}",
            "--hih-deadline-log", str(report_dir / DEADLINE_LOG), "--hih-parent-pid", str(os.getpid())]
    if segment:
        args += ["--hih-done", str(report_dir / DONE_FILE)]
    for name, contract in p.contracts.items():
        args += ["--hih-contract", f"{name}={contract.version}", "--hih-connector", f"{name}={p.connectors[name]}"]
    if p.options.contracts_dir:
        args += ["--hih-contracts-dir", str(p.options.contracts_dir)]
    if p.markexpr:
        args += ["-m", p.markexpr]
    if select is not None:  # --changed-since: the child keeps only the scenarios listed in this file
        args += ["-p", "harness.run.selection", "--hih-select", str(select)]
    # plugins a spec run never uses; each costs start-up time in every run
    args += ["-p", "no:respx", "-p", "no:anyio"]
    if p.workers > 1:
        # one interface's scenarios stay on one worker when several interfaces run: each worker then starts only
        # the mocks and loads only the contracts of its interfaces
        args += ["-n", str(p.workers), "--dist", "loadfile" if len(p.feature_dirs) > 1 else "load"]
    else:
        args += ["-p", "no:xdist"]
    args += [str(d) for d in p.feature_dirs.values()]
    return args


def run(options: RunOptions, console: Console | None = None) -> int:
    """Run the gate; 0 pass, 1 fail, 2 incomplete. Usage and configuration problems raise UsageError (exit 2)."""
    console = console or Console(stderr=False)
    p = plan(options)
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


class SeeTheLog(UsageError):
    """The run could not start its scenarios and pytest's log says why: it is kept as `<report-dir>.failed/`."""


def _run(p: RunPlan, staging: Staging, console: Console) -> int:
    work = staging.path
    selection, select_file = None, None
    if p.changed_since:
        from harness.run import selection as selecting
        from harness.run.history import history_path

        selection = selecting.choose(p, history_path(p.options.report_dir))
        selecting.describe(console, selection)
        if selection.empty:
            console.print("no scenario exercises the changed parts: nothing to run, gate not evaluated")
            staging.discard()
            return 0
        p = selection.narrow(p)
        select_file = selecting.write(selection, p, work)
    started = datetime.now()
    outcome, returncode = _execute(p, work, select_file, console)
    finished = datetime.now()
    _conclude(p, outcome, returncode, work)
    document = summary(p, outcome, started, finished)
    if selection is not None:
        document["selection"] = selection.summary()
    evidence = {r.nodeid: r.evidence for r in outcome.results.values()}
    write_json(work / "summary.json", document)
    write_json(work / "evidence.json", evidence)
    write_reports(work, document, evidence)
    report_dir = staging.commit()
    record_run(document, evidence, report_dir)
    print_summary(console, document, report_dir)
    return {"pass": 0, "fail": 1}.get(document["decision"], EXIT_INCOMPLETE)


# -- the child process -------------------------------------------------------------------------------------------
@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    stop_reason: str | None = None


def _execute(p: RunPlan, work: Path, select_file: Path | None, console: Console) -> tuple[Outcome, int]:
    """Run pytest and follow it until it ends, is cancelled or runs out of time.

    In a serial run, a scenario that ignored its deadline ends pytest's process; pytest is then started again for
    the scenarios not yet run (a segment), so the run goes on as it does under xdist, whose workers are replaced.
    """
    outcome = Outcome()
    reader = EventReader(work / "events.jsonl")
    (work / "events.jsonl").touch()
    limit = time.monotonic() + p.timeout_s if p.timeout_s else None
    segments = 0
    with (work / "pytest.log").open("wb") as log, RunProgress(console) as progress, _cancellable() as cancel:
        while True:
            child = _start(p, work, select_file, segments, log)
            try:
                while child.process.poll() is None:
                    _follow(reader, outcome, progress, p)
                    if outcome.connector_errors:
                        _stop(child, "connector factory raised")
                    elif cancel.reason is not None:
                        _stop(child, cancel.reason)
                    elif limit is not None and time.monotonic() >= limit:
                        _stop(child, f"the run's --timeout of {p.timeout_s:g} s was reached")
                    progress.tick()
                    time.sleep(POLL_S)
            except BaseException:
                _stop(child, "hih stopped")
                raise
            finally:
                _follow(reader, outcome, progress, p)
            segments += 1
            if not _restart(child, outcome, work, segments):
                break
        reader.finish()
        reader.close()
    if segments > 1:
        combine_junit([work / f"junit{f'.{n}' if n else ''}.xml" for n in range(segments)], work / "junit.xml")
        combine_cucumber([work / f"cucumber{f'.{n}' if n else ''}.json" for n in range(segments)], work / "cucumber.json")
        for n in range(1, segments):
            (work / f"junit.{n}.xml").unlink(missing_ok=True)
            (work / f"cucumber.{n}.json").unlink(missing_ok=True)
        (work / DONE_FILE).unlink(missing_ok=True)
    outcome.damaged[:0] = reader.damaged
    if outcome.connector_errors:
        raise UsageError(outcome.connector_errors[0])
    if child.stop_reason is not None:
        outcome.incomplete = child.stop_reason
    return outcome, child.process.returncode


def _start(p: RunPlan, work: Path, select_file: Path | None, segment: int, log: IO[bytes]) -> _Child:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.getcwd(), os.environ.get("PYTHONPATH")]))}
    env.pop("PYTEST_ADDOPTS", None)
    # its own process group: a cancel stops pytest and its xdist workers together, and a Ctrl-C on the terminal
    # reaches hih first, which then stops pytest in order
    return _Child(subprocess.Popen(pytest_command(p, work, select_file, segment), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=os.getcwd(), env=env, start_new_session=True))


def _restart(child: _Child, outcome: Outcome, work: Path, segments: int) -> bool:
    """Whether to start pytest again: the deadline ended a serial run with scenarios left (at most once each)."""
    if child.stop_reason is not None or child.process.returncode != EXIT_STUCK or segments > len(outcome.nodeids):
        return False
    stuck = _deadline_nodeids(work / DEADLINE_LOG)
    done = set(outcome.results) | stuck
    if not [n for n in outcome.nodeids if n not in done]:
        return False
    (work / DONE_FILE).write_text(json.dumps(sorted(done), ensure_ascii=False), encoding="utf-8")
    return True


def _deadline_nodeids(log: Path) -> set[str]:
    try:
        return {str(json.loads(line)["nodeid"]) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _follow(reader: EventReader, outcome: Outcome, progress: RunProgress, p: RunPlan) -> None:
    for event in reader.poll():
        result = outcome.absorb(event)
        if event.get("event") == "collected" and outcome.nodeids:
            progress.collected(Counter(interface_for(n, p) for n in outcome.nodeids))
        elif result is not None:
            if not result.interface:
                result.interface = interface_for(result.nodeid, p)
            progress.result(result)


def interface_for(nodeid: str, p: RunPlan) -> str:
    """The interface whose feature folder holds a node id's file ("" when none does)."""
    path = (PROJECT_ROOT / nodeid.split("::", 1)[0]).resolve()
    for name, folder in p.feature_dirs.items():
        if path.is_relative_to(folder.resolve()):
            return name
    return ""


def _stop(child: _Child, reason: str) -> None:
    """Stop pytest and its workers: SIGINT (pytest ends its session and writes junit.xml), then SIGTERM, SIGKILL."""
    if child.stop_reason is None:
        child.stop_reason = reason
    for sig, wait in ((signal.SIGINT, STOP_GRACE_S), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        if child.process.poll() is not None:
            return
        try:
            os.killpg(child.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            child.process.wait(wait)
        except subprocess.TimeoutExpired:
            continue


class _Cancel:
    reason: str | None = None


@contextmanager
def _cancellable() -> Iterator[_Cancel]:
    """SIGTERM and SIGINT set a reason instead of killing hih, so the partial report can be written."""
    cancel = _Cancel()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    def handler(signum: int, frame: Any) -> None:
        cancel.reason = f"cancelled by {signal.Signals(signum).name}"

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield cancel
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# -- after the child ----------------------------------------------------------------------------------------------
def _conclude(p: RunPlan, outcome: Outcome, returncode: int, work: Path) -> None:
    """Turn what pytest left into a decidable outcome, or a UsageError when nothing could run."""
    _apply_deadline_notes(outcome, work / DEADLINE_LOG, p)
    cancelled = outcome.incomplete is not None
    if outcome.damaged or (outcome.exitstatus is None and not cancelled):
        from_junit(outcome, work / "junit.xml", returncode if outcome.exitstatus is None else outcome.exitstatus)
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
        except (ValueError, KeyError, TypeError):
            continue
        old = outcome.results.get(nodeid)
        outcome.results[nodeid] = ScenarioResult(
            nodeid=nodeid, interface=(old.interface if old else "") or interface_for(nodeid, p),
            feature=(old.feature if old else "") or props.get("hih_feature", ""),
            name=(old.name if old and old.name != nodeid.rsplit("::", 1)[-1] else "") or props.get("hih_scenario")
            or nodeid.rsplit("::", 1)[-1],
            status="failed", duration_s=old.duration_s if old else p.scenario_timeout_s, message=message,
            steps=old.steps if old else [], evidence=old.evidence if old else [])
        result = outcome.results[nodeid]
        failures.append((nodeid, message, {"hih_interface": result.interface, "hih_feature": result.feature,
                                           "hih_scenario": result.name}))
    if failures:
        add_failures(log.with_name("junit.xml"), failures)
