"""What `hih run` prints while it runs and when it ends: progress, finished interfaces, the summary table.

rich (≈ 125 M instructions with its console, progress bar and table) is imported when the first thing is shown, after
the run has started its pytest processes and told the first one its command line: the console a run is given
(`harness.cli`'s) is made when first used, and the progress bar at the first look at the events, not when the run
enters `RunProgress`.

On a terminal a progress bar redraws in place. Without one (a CI log) nothing redraws: a line is printed for each
interface that finishes and, whatever happens, one at least every `heartbeat_s` seconds, so that a log never stays
silent long enough to look hung. The summary table fits 80 columns: connectors are shown by their short label
(`reference` for hih's own); the reports carry the full names.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.run.results import ScenarioResult

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

HEARTBEAT_S = 10.0


class LazyConsole:
    """A rich console made by `make` when first used (an attribute read): `hih run` passes one, so that rich is
    imported after the first pytest process has its command line. `real()` is the console itself, for what rich
    takes as a console of its own (the progress bar)."""

    def __init__(self, make: Callable[[], Console]) -> None:
        self._make = make
        self._console: Console | None = None

    def real(self) -> Console:
        if self._console is None:
            self._console = self._make()
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


def real_console(console: Console) -> Console:
    """`console` itself, or the console a `LazyConsole` stands for."""
    return console.real() if isinstance(console, LazyConsole) else console


class RunProgress:
    """Follows the results as they arrive; use as a context manager around the run."""

    def __init__(self, console: Console, heartbeat_s: float | None = None) -> None:
        self.console = console
        self.heartbeat_s = HEARTBEAT_S if heartbeat_s is None else heartbeat_s
        self._live: bool | None = None
        self._shown = False
        """Whether the progress bar has been started (on a terminal), at the first of `collected`, `result`, `tick`."""
        self.started = time.monotonic()
        self._last_line = self.started
        self._expected: Counter[str] = Counter()
        self._done: dict[str, Counter[str]] = {}
        self._total = 0
        self._finished: set[str] = set()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    @property
    def live(self) -> bool:
        """Whether the console is a terminal (a progress bar redrawn in place), asked when first needed."""
        if self._live is None:
            self._live = bool(self.console.is_terminal)
        return self._live

    def __enter__(self) -> RunProgress:
        return self

    def _show(self) -> None:
        """The progress bar started on a terminal, once: at the first thing to show, not when the run begins."""
        if self._shown:
            return
        self._shown = True
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("[bold]hih run[/bold]"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=real_console(self.console), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("scenarios", total=None)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        self._last_line = time.monotonic()

    def collected(self, per_interface: Counter[str]) -> None:
        """How many scenarios each interface will run, as known so far (each pytest process reports its own)."""
        self._show()
        if per_interface == self._expected:
            return
        self._expected = Counter(per_interface)
        self._total = sum(per_interface.values())
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=self._total)
        elif not self.live:
            self._line(f"hih run: {self._total} scenarios in {len(per_interface)} interface(s): "
                       f"{', '.join(f'{k} {v}' for k, v in sorted(per_interface.items()))}")
        for name in list(per_interface):
            self._check_finished(name)

    def result(self, result: ScenarioResult) -> None:
        self._show()
        done = self._done.setdefault(result.interface, Counter())
        done[result.status] += 1
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.completed)
        if result.status == "failed":
            from rich.markup import escape

            self.console.print(f"[red]FAILED[/red] {escape(result.interface)} · {escape(result.feature)} · "
                               f"{escape(result.name)}", highlight=False)
        self._check_finished(result.interface)

    def _check_finished(self, name: str) -> None:
        done = self._done.get(name)
        if name and done and name not in self._finished and self._expected.get(name) and \
                sum(done.values()) >= self._expected[name]:
            self._finished.add(name)
            self._line(f"{name}: finished, {done['passed']} passed, {done['failed']} failed, {done['skipped']} skipped "
                       f"({self.elapsed():.0f} s)")

    @property
    def completed(self) -> int:
        return sum(sum(c.values()) for c in self._done.values())

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def tick(self) -> None:
        """Called while waiting: without a terminal, a line when the log has been quiet for `heartbeat_s`."""
        self._show()
        if self.live or time.monotonic() - self._last_line < self.heartbeat_s:
            return
        failed = sum(c["failed"] for c in self._done.values())
        of = f" of {self._total}" if self._total else ""
        self._line(f"hih run: {self.completed}{of} scenarios done, {failed} failed ({self.elapsed():.0f} s)")


def print_summary(console: Console, document: dict[str, Any], report_dir: Path) -> None:
    """The table per interface, the failed scenarios, and the decision line."""
    from rich.markup import escape
    from rich.table import Table

    columns = ("interface", "contract", "connector", "passed", "failed", "skipped", "time")
    rows = []
    for name, row in document["interfaces"].items():
        identity = row.get("connector_identity") or {}
        rows.append((name, str(row["contract"]), str(identity.get("label") or row["connector"]), str(row["passed"]),
                     str(row["failed"]), str(row["skipped"]), f"{row['duration_s']:.1f}s"))
    widths = [max([len(column), *(len(r[i]) for r in rows)]) for i, column in enumerate(columns)]
    # every column but the connector keeps its width; the connector gets what is left of the line (≥ 9: reference)
    room = console.width - 3 * len(columns) - 1 - sum(w for i, w in enumerate(widths) if columns[i] != "connector")
    table = Table(title="hih run", title_justify="left")
    for i, column in enumerate(columns):
        numeric = column in ("passed", "failed", "skipped", "time")
        if column == "connector":
            table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=max(9, room))
        else:
            table.add_column(column, justify="right" if numeric else "left", no_wrap=True, min_width=widths[i])
    for row in rows:
        connector = row[2] if len(row[2]) <= max(9, room) else "…" + row[2][-(max(9, room) - 1):]  # keep the factory
        table.add_row(escape(row[0]), escape(row[1]), escape(connector), row[3],
                      f"[red]{row[4]}[/red]" if row[4] != "0" else "0", row[5], row[6])
    console.print(table)
    for s in (s for s in document["scenarios"] if s["status"] == "failed"):
        console.print(f"[red]✗[/red] {escape(s['interface'])} · {escape(s['feature'])} · {escape(s['name'])}")
        console.print(f"    {s.get('message', '')[:300]}", markup=False, highlight=False)
    totals = document["totals"]
    events = document.get("events")
    if events:
        console.print(f"warning: {events['damaged_count']} run event(s) could not be read; the decision comes from "
                      f"{events['decided_from']}", markup=False, highlight=False)
    if document["decision"] == "pass":
        console.print(f"[bold green]GATE OPEN[/bold green]: {totals['passed']} passed, {totals['skipped']} skipped "
                      f"({document['duration_s']} s). Reports in {escape(str(report_dir))}")
    elif document["decision"] == "incomplete":
        incomplete = document.get("incomplete") or {}
        console.print(f"[bold yellow]GATE NOT DECIDED[/bold yellow]: the run is incomplete "
                      f"({escape(str(incomplete.get('reason')))}); {totals['passed']} passed, {totals['failed']} failed, "
                      f"{incomplete.get('not_run', 0)} not run. Partial reports in {escape(str(report_dir))}")
    else:
        not_run = len(document.get("not_run") or [])
        console.print(f"[bold red]GATE CLOSED[/bold red]: {totals['failed']} failed, {totals['passed']} passed, "
                      f"{totals['skipped']} skipped{f', {not_run} not run' if not_run else ''}. "
                      f"Reports in {escape(str(report_dir))}")
