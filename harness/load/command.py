"""`hih load`: start the partner mock in-process, give each worker its own connector, run the workload open loop
with a progress bar, then judge the contract's SLAs and write the reports. Exit 0 when every SLA holds, 1 when one
does not, 2 on a usage error (raised as UsageError)."""

from __future__ import annotations

import gc
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.bindings import connector_settings, default_connector, load_factory
from harness.contract.loader import ContractStore
from harness.errors import HihError, UsageError
from harness.load import engine, report
from harness.load.verdict import judge
from harness.load.workloads import Target, Workload, workload

MAX_CONCURRENCY = 512


@dataclass
class LoadOptions:
    interface: str
    profile: str
    rate: float
    duration_s: float
    warmup_s: float = 0.0
    concurrency: int = 16
    connector: str | None = None
    contract: str | None = None
    contracts_dir: Path | None = None
    report_dir: Path = Path("reports/load")
    listener: tuple[str, int] | None = None
    """The hospital's own listener (black-box use): the partner pushes there instead of to the reference connector."""
    timeout_s: float = 5.0
    drain_s: float = 30.0


def parse_address(value: str, option: str = "--listener") -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{option} {value}: expected HOST:PORT (for example 10.0.0.5:2575)")
    return host, int(port)


def _check(options: LoadOptions) -> None:
    if not options.rate > 0:
        raise UsageError(f"--rate {options.rate:g}: give iterations per second above 0")
    if not options.duration_s > 0:
        raise UsageError(f"--duration {options.duration_s:g}: give seconds above 0")
    if options.warmup_s < 0:
        raise UsageError(f"--warmup {options.warmup_s:g}: give 0 or more seconds")
    if not 1 <= options.concurrency <= MAX_CONCURRENCY:
        raise UsageError(f"--concurrency {options.concurrency}: give 1 to {MAX_CONCURRENCY} workers")
    if options.rate * (options.duration_s + options.warmup_s) > 10_000_000:
        raise UsageError("--rate × (--duration + --warmup) is over 10,000,000 iterations: run shorter or slower")


class _Connectors:
    """Makes connectors for the workers, each with a work folder of its own, and removes the folders at the end."""

    def __init__(self, options: LoadOptions, contract: Any, mock: Any, root: Path) -> None:
        self.spec = options.connector or default_connector(options.interface)
        self.factory: Callable[[Any], Any] | None = None
        self.options, self.contract, self.mock, self.root = options, contract, mock, root
        self.count = 0

    def __call__(self) -> Any:
        if self.factory is None:  # imported when first needed: a black-box run needs no connector
            self.factory = load_factory(self.spec)
        self.count += 1
        folder = self.root / f"connector-{self.count}"
        folder.mkdir(parents=True)
        settings = connector_settings(self.options.interface)(self.mock, self.contract, self.options.timeout_s, folder)
        try:
            return self.factory(settings)
        except HihError:
            raise
        except Exception as exc:  # noqa: BLE001 - a hospital's adapter failing to start is a usage problem here
            raise UsageError(f"connector {self.spec}: starting it failed: {type(exc).__name__}: {exc}") from None


def run_load(options: LoadOptions, console: Console) -> int:
    _check(options)
    contract = ContractStore(options.contracts_dir).load(options.interface, options.contract)
    chosen = workload(options.interface, options.profile)
    from mocks.registry import create_mock
    from mocks.transport.runtime import Runtime

    runtime = Runtime().start()
    root = Path(tempfile.mkdtemp(prefix="hih-load-"))
    sessions: list[engine.Session] = []
    helper: Any = None
    mock: Any = None
    try:
        mock = create_mock(contract)
        mock.start(runtime)
        connectors = _Connectors(options, contract, mock, root)
        listener = options.listener
        if chosen.name == "morning-results" and listener is None:
            helper = connectors()  # the reference connector's listener takes the results
            listener = helper.listener()
        target = Target(options.interface, contract, mock, connectors if chosen.needs_connector else None, listener,
                        f"{int(time.time()) % 1_000_000:06d}")
        label = (f"the hospital's listener {listener[0]}:{listener[1]}" if options.listener is not None and listener
                 else connectors.spec)
        console.print(f"hih load: {options.interface}@{contract.version} · {chosen.name} · {label} · "
                      f"{options.rate:g}/s for {options.duration_s:g} s, {options.concurrency} workers")
        for _ in range(options.concurrency):
            sessions.append(chosen.session(target))
        gc.collect()
        gc.freeze()  # what the set-up made stays out of the collector's walks during the run
        started = datetime.now().astimezone()
        recorder = _run(options, sessions, console)
        finished = datetime.now().astimezone()
    finally:
        for session in sessions:
            _quietly(session.close)
        if helper is not None:
            _quietly(helper.close)
        stop_pushing = getattr(mock, "stop_pushing", None)
        if callable(stop_pushing):  # an HL7 partner's connection to the hospital's listener
            _quietly(stop_pushing)
        runtime.stop()
        shutil.rmtree(root, ignore_errors=True)
        gc.unfreeze()
    offered = {name: options.rate * per for name, per in chosen.transactions.items()}
    verdicts = judge(contract.sla, recorder, offered)
    doc = _document(options, chosen, contract.version, label, recorder, verdicts, started, finished)
    options.report_dir.mkdir(parents=True, exist_ok=True)
    written = [report.write_json(doc, options.report_dir), report.write_junit(doc, options.report_dir),
               report.write_html(doc, options.report_dir)]
    _print(console, doc)
    console.print(f"reports: {', '.join(str(p) for p in written)}")
    return 0 if doc["decision"] == "pass" else 1


def _run(options: LoadOptions, sessions: list[engine.Session], console: Console) -> Any:
    plan = engine.Plan(options.rate, options.duration_s, options.warmup_s, len(sessions), options.drain_s)
    total = options.warmup_s + options.duration_s
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[status]}"), console=console, transient=True,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task("load", total=total, status="")

        def shown(p: engine.Progress) -> None:
            bar.update(task, completed=min(p.elapsed_s, total),
                       status=f"{p.done} calls, {p.errors} errors, backlog {p.backlog}")

        return engine.run(plan, sessions, shown)


def _quietly(call: Callable[[], Any]) -> None:
    try:
        call()
    except Exception:  # noqa: BLE001, S110 - closing after a run: nothing useful to report
        pass


def _document(options: LoadOptions, chosen: Workload, version: str, label: str, recorder: Any, verdicts: list[Any],
              started: datetime, finished: datetime) -> dict[str, Any]:
    seconds = options.duration_s
    transactions = {name: tx.summary(seconds) for name, tx in recorder.transactions.items()}
    return {
        "interface": options.interface, "contract": version, "profile": chosen.name, "summary": chosen.summary,
        "connector": label, "rate": options.rate, "duration_s": options.duration_s, "warmup_s": options.warmup_s,
        "measured_s": seconds, "concurrency": options.concurrency, "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"), "not_started": recorder.not_started,
        "decision": "pass" if all(v.passed for v in verdicts) else "fail",
        "slas": [v.to_dict() for v in verdicts], "transactions": transactions, "timeline": recorder.timeline(),
    }


def _print(console: Console, doc: dict[str, Any]) -> None:
    table = Table(title=f"{doc['interface']} · {doc['profile']} · {doc['rate']:g}/s for {doc['duration_s']:g} s")
    for column in ("transaction", "calls", "calls/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"):
        table.add_column(column, justify="left" if column == "transaction" else "right")
    for name, t in doc["transactions"].items():
        kinds = ", ".join(f"{k} {n}" for k, n in t["errors_by_kind"].items())
        table.add_row(name, str(t["count"]), f"{t['rate_per_s']:g}", f"{t['p50_ms']:.1f}", f"{t['p95_ms']:.1f}",
                      f"{t['p99_ms']:.1f}", f"{t['max_ms']:.1f}", f"{t['errors']}" + (f" ({kinds})" if kinds else ""))
    console.print(table)
    if doc["not_started"]:
        console.print(f"{doc['not_started']} iterations were still waiting when the run ended: the system fell behind")
    for verdict in doc["slas"]:
        console.print(f"{'PASS' if verdict['passed'] else 'FAIL'} {verdict['sla']}: {verdict['reason']}")
    if not doc["slas"]:
        console.print("no SLA in the contract for these transactions: nothing to gate")
