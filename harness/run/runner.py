"""`hih run`: start pytest-bdd over the selected features in a child process, follow its events, decide the gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.errors import UsageError
from harness.report import manifest_line, write_reports
from harness.report.pdf import preload as preload_pdf
from harness.run.history import record_run
from harness.run.metadata import run_metadata
from harness.run.options import PROJECT_ROOT, RunOptions, RunPlan, plan
from harness.run.results import Outcome, summary, write_json

INI = Path(__file__).with_name("pytest-run.ini")
ARTEFACTS = ("summary.json", "junit.xml", "evidence.json", "events.jsonl", "pytest.log", "selection.json",
             "cucumber.json", "report.html", "manifest.json", "signoff.html", "signoff.pdf", "signoff.sha256")


def pytest_command(p: RunPlan, report_dir: Path, select: Path | None = None) -> list[str]:
    args = [sys.executable, "-m", "pytest", "-c", str(INI), "--rootdir", str(PROJECT_ROOT),
            "-p", "harness.run.collector", "--hih-events", str(report_dir / "events.jsonl"),
            "--junitxml", str(report_dir / "junit.xml"), "-o", "junit_suite_name=hih", "-q", "-rfE",
            "--cucumberjson", str(report_dir / "cucumber.json")]
    for name, contract in p.contracts.items():
        args += ["--hih-contract", f"{name}={contract.version}", "--hih-connector", f"{name}={p.connectors[name]}"]
    if p.options.contracts_dir:
        args += ["--hih-contracts-dir", str(p.options.contracts_dir)]
    if p.markexpr:
        args += ["-m", p.markexpr]
    if select is not None:  # --changed-since: the child keeps only the scenarios listed in this file
        args += ["-p", "harness.run.selection", "--hih-select", str(select)]
    # plugins a spec run never uses; each costs start-up time in every run
    args += ["-p", "no:respx", "-p", "no:anyio", "-p", "no:hypothesispytest"]
    if p.options.workers > 1:
        args += ["-n", str(p.options.workers)]
    else:
        args += ["-p", "no:xdist"]
    args += [str(d) for d in p.feature_dirs.values()]
    return args


def _follow(stream: IO[str], outcome: Outcome, progress: Progress, task: TaskID, console: Console) -> None:
    for line in stream.readlines():
        if not line.endswith("\n"):
            stream.seek(stream.tell() - len(line.encode("utf-8")))
            return
        event = json.loads(line)
        result = outcome.absorb(event)
        if event.get("event") == "collected":
            progress.update(task, total=outcome.expected)
        elif result is not None:
            progress.update(task, completed=len(outcome.results))
            if result.status == "failed":
                console.print(f"[red]FAILED[/red] {result.interface} · {result.feature} · {result.name}")


def run(options: RunOptions, console: Console | None = None) -> int:
    """Run the gate; 0 pass, 1 fail. Usage and configuration problems raise UsageError (exit 2)."""
    console = console or Console(stderr=False)
    p = plan(options)
    report_dir = options.report_dir
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--report-dir {report_dir}: cannot create it ({exc.strerror})") from None
    for name in ARTEFACTS:
        (report_dir / name).unlink(missing_ok=True)
    (report_dir / "events.jsonl").touch()
    selection, select_file = None, None
    if p.changed_since:
        from harness.run import selection as selecting
        from harness.run.history import history_path

        selection = selecting.choose(p, history_path(report_dir))
        selecting.describe(console, selection)
        if selection.empty:
            console.print("no scenario exercises the changed parts: nothing to run, gate not evaluated")
            return 0
        p = selection.narrow(p)
        select_file = selecting.write(selection, p, report_dir)
    started = datetime.now()
    outcome = Outcome()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.getcwd(), os.environ.get("PYTHONPATH")]))}
    env.pop("PYTEST_ADDOPTS", None)
    with (report_dir / "pytest.log").open("w", encoding="utf-8") as log, \
            (report_dir / "events.jsonl").open("r", encoding="utf-8") as events, \
            Progress(TextColumn("[bold]hih run[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                     console=console, transient=True) as progress:
        task = progress.add_task("scenarios", total=None)
        # WeasyPrint takes ~0.7 s to import: done while the scenarios run, not after them, for the sign-off PDF.
        threading.Thread(target=preload_pdf, name="hih-preload-pdf", daemon=True).start()
        child = subprocess.Popen(pytest_command(p, report_dir, select_file), stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, cwd=os.getcwd(), env=env)
        try:
            while child.poll() is None:
                _follow(events, outcome, progress, task, console)
                time.sleep(0.05)
        except KeyboardInterrupt:
            child.terminate()
            child.wait(10)
            raise
        _follow(events, outcome, progress, task, console)
    finished = datetime.now()
    if outcome.collect_errors:
        raise UsageError(f"cannot load the features: {outcome.collect_errors[0]} (see {report_dir / 'pytest.log'})")
    if not outcome.results:
        if child.returncode == 5:
            raise UsageError(f"no scenario selected{f' by --tags {options.tags!r}' if options.tags else ''}")
        raise UsageError(f"the run stopped before any scenario (pytest exit {child.returncode}); see {report_dir / 'pytest.log'}")
    if child.returncode not in (0, 1):
        raise UsageError(f"the run stopped early (pytest exit {child.returncode}); see {report_dir / 'pytest.log'}")
    document = summary(p, outcome, started, finished)
    document.update(run_metadata(options.operator, options.release))
    if selection is not None:
        document["selection"] = selection.summary()
    evidence = {r.nodeid: r.evidence for r in outcome.results.values()}
    write_json(report_dir / "summary.json", document)
    write_json(report_dir / "evidence.json", evidence)
    write_reports(report_dir, document, evidence)
    record_run(document, evidence, report_dir)
    _print(console, document, report_dir)
    console.print(manifest_line(report_dir), markup=False, highlight=False)
    return 0 if document["decision"] == "pass" else 1


def _print(console: Console, document: dict[str, object], report_dir: Path) -> None:
    table = Table(title="hih run", title_justify="left")
    for column in ("interface", "contract", "connector", "passed", "failed", "skipped", "time"):
        # The connector names the system under test: wrap it rather than cut it short on a narrow terminal.
        table.add_column(column, justify="right" if column in ("passed", "failed", "skipped", "time") else "left",
                         overflow="fold", no_wrap=column != "connector")
    interfaces = document["interfaces"]
    assert isinstance(interfaces, dict)
    for name, row in interfaces.items():
        table.add_row(name, row["contract"], row["connector"], str(row["passed"]),
                      f"[red]{row['failed']}[/red]" if row["failed"] else "0", str(row["skipped"]), f"{row['duration_s']:.2f}s")
    console.print(table)
    scenarios = document["scenarios"]
    assert isinstance(scenarios, list)
    failed = [s for s in scenarios if s["status"] == "failed"]
    for s in failed:
        console.print(f"[red]✗[/red] {s['interface']} · {s['feature']} · {s['name']}\n    {s.get('message', '')[:300]}")
    totals = document["totals"]
    assert isinstance(totals, dict)
    if document["decision"] == "pass":
        console.print(f"[bold green]GATE OPEN[/bold green]: {totals['passed']} passed, {totals['skipped']} skipped "
                      f"({document['duration_s']} s). Reports in {report_dir}")
    else:
        console.print(f"[bold red]GATE CLOSED[/bold red]: {totals['failed']} failed, {totals['passed']} passed, "
                      f"{totals['skipped']} skipped. Reports in {report_dir}")
