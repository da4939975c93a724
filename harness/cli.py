"""The `hih` command: parse arguments, delegate, and map errors to exit codes (0 pass, 1 fail, 2 usage).

Built with click (harness.cli_parts); everything a command needs beyond parsing is imported inside it, so that
`hih --help` or a usage error costs no more than Python, click and this module."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, cast

import click
from click.exceptions import Exit

from harness.cli_parts import Group, PathType
from harness.errors import HihError, UsageError

if TYPE_CHECKING:
    import threading
    from pathlib import Path

    from rich.console import Console

    from harness.contract.loader import ContractStore

PATH = PathType()


@click.group(cls=Group,
             help="Hospital Interface Harness: contract-driven mocks, executable specs and a release gate.")
def app() -> None:
    pass


@app.group("contract", help="List, show and check contracts.")
def contract_app() -> None:
    pass


@app.group("mock", help="Run mock partners as standalone servers.")
def mock_app() -> None:
    pass


def _console() -> Console:
    """The console the commands print to, made on first use: rich costs ~40 ms to import, and `hih --help` or a
    usage error should not pay it."""
    global _CONSOLE
    if _CONSOLE is None:
        from rich.console import Console

        _CONSOLE = Console(highlight=False, soft_wrap=True)
    return _CONSOLE


_CONSOLE: Console | None = None


class _Out:
    """`out.print(...)` for the commands, on the console made on first use."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_console(), name)


out: Console = _Out()  # type: ignore[assignment]

contracts_dir_option = click.option("--contracts-dir", type=PATH, default=None, metavar="DIR",
                                    help="folder of contracts (default: the project's)")


def _listed(ctx: click.Context, param: click.Parameter, value: tuple[Any, ...]) -> list[Any]:
    """A repeatable option's values, or a variadic argument's, as a list."""
    return list(value)


def _store(contracts_dir: Path | None) -> ContractStore:
    from harness.contract.loader import ContractStore

    return ContractStore(contracts_dir)


# -- run ---------------------------------------------------------------------------------------------------
signoff_pdf_option = click.option("--signoff-pdf/--no-signoff-pdf", "signoff_pdf", default=None,
                                  help="write signoff.pdf beside signoff.html (default: hih.toml [report] signoff_pdf, "
                                       "else yes); --no-signoff-pdf for shard jobs and local runs")


@app.command()
@click.option("--interface", multiple=True, callback=_listed, metavar="NAME", help="interface to run (repeatable; default: all)")
@click.option("--contract", multiple=True, callback=_listed, metavar="NAME=VERSION", help="contract version (default: the newest in force)")
@click.option("--connector", multiple=True, callback=_listed, metavar="NAME=module:factory", help="connector under test")
@click.option("--report-dir", type=PATH, default="reports/latest", show_default=True, metavar="DIR",
              help="where the reports go")
@click.option("--workers", default=None, metavar="N|auto", help="pytest processes sharing the run (default auto: one per interface, up to three times the cores, at most 5)")
@click.option("--tags", default=None, metavar="EXPR", help="Gherkin tag expression, e.g. '@smoke and not @fault'")
@contracts_dir_option
@click.option("--changed-since", multiple=True, callback=_listed, metavar="[NAME=]VERSION", help="run only the scenarios that exercise what changed since this contract version")
@click.option("--scenario-timeout", type=float, default=None, metavar="SECONDS", help="fail a scenario still running after this long (default 60)")
@click.option("--timeout", type=float, default=None, metavar="SECONDS", help="stop the whole run after this long: partial report, exit 2")
@click.option("--as-of", default=None, metavar="YYYY-MM-DD", help="run the contracts in force on this day (default: today)")
@click.option("--operator", default=None, metavar="NAME", help="who runs the gate, for the sign-off (default: the CI user or login name)")
@click.option("--release", default=None, metavar="NAME", help="the release being gated, for the sign-off")
@signoff_pdf_option
def run(interface: list[str], contract: list[str], connector: list[str], report_dir: Path,
        workers: str | None, tags: str | None, contracts_dir: Path | None, changed_since: list[str],
        scenario_timeout: float | None, timeout: float | None, as_of: str | None, operator: str | None,
        release: str | None, signoff_pdf: bool | None) -> None:
    """Run the specs against in-process mocks and the chosen connectors; the exit code is the release gate."""
    from harness.run import warm
    from harness.run.options import RunOptions, parse_pairs, parse_workers

    options = RunOptions(interfaces=interface, contracts=parse_pairs(contract, "--contract"),
                         connectors=parse_pairs(connector, "--connector"), report_dir=report_dir,
                         workers=parse_workers(workers), tags=tags, contracts_dir=contracts_dir,
                         changed_since=changed_since, scenario_timeout_s=scenario_timeout, timeout_s=timeout,
                         as_of=_day("--as-of", as_of), operator=operator, release=release, signoff_pdf=signoff_pdf)
    warm.prestart()  # pytest imports itself and the plugins while the run is planned
    try:
        from harness.run.progress import LazyConsole
        from harness.run.runner import run as run_gate

        # the console made when first used: after the first pytest process has its command line
        raise Exit(run_gate(options, cast("Console", LazyConsole(_console))))
    finally:
        warm.discard()


# -- load ----------------------------------------------------------------------------------------------------
@app.command()
@click.option("--interface", required=True, metavar="NAME", help="the interface to load")
@click.option("--profile", required=True, metavar="NAME", help="the workload (insurance: outpatient-peak; lis: morning-results, order-entry; blood-center: shortage-orders)")
@click.option("--rate", type=float, required=True, metavar="PER_S", help="iterations started per second (open loop)")
@click.option("--duration", type=float, required=True, metavar="SECONDS", help="measured seconds")
@click.option("--connector", default=None, metavar="NAME=module:factory", help="connector under test")
@click.option("--contract-version", "contract", default=None, metavar="VERSION", help="contract version (default: newest)")
@click.option("--warmup", type=float, default=0.0, show_default=True, metavar="SECONDS", help="seconds of load before the measured part")
@click.option("--concurrency", type=int, default=16, show_default=True, metavar="N", help="worker threads, each with its own connector")
@click.option("--listener", default=None, metavar="HOST:PORT", help="LIS/PACS pushes go to this hospital listener (black-box)")
@click.option("--report-dir", type=PATH, default="reports/load", show_default=True, metavar="DIR", help="where load.json, load.html and junit.xml go")
@click.option("--timeout", type=float, default=5.0, show_default=True, metavar="SECONDS", help="the connector's timeout per call")
@contracts_dir_option
def load(interface: str, profile: str, rate: float, duration: float, connector: str | None, contract: str | None,
         warmup: float, concurrency: int, listener: str | None, report_dir: Path, timeout: float,
         contracts_dir: Path | None) -> None:
    """Load a connector at a fixed rate and check the contract's SLAs; exit 0 when every SLA holds, 1 otherwise."""
    from harness.load.command import LoadOptions, parse_address, run_load
    from harness.run.options import parse_pairs

    spec = None
    if connector is not None:
        pairs = parse_pairs([connector], "--connector")
        if interface not in pairs:
            raise UsageError(f"--connector {connector}: name the interface being loaded ({interface}=module:factory)")
        spec = pairs[interface]
    options = LoadOptions(interface=interface, profile=profile, rate=rate, duration_s=duration, warmup_s=warmup,
                          concurrency=concurrency, connector=spec, contract=contract, contracts_dir=contracts_dir,
                          report_dir=report_dir, listener=parse_address(listener) if listener else None,
                          timeout_s=timeout)
    raise Exit(run_load(options, _console()))


def _day(flag: str, value: str | None) -> date | None:
    from harness.contract.versions import parse_day

    if value is None:
        return None
    day = parse_day(value)
    if day is None:
        raise UsageError(f"{flag} {value!r}: expected a day as YYYY-MM-DD")
    return day


format_option = click.option("--format", "fmt", default="text", show_default=True, metavar="text|json", help="text or json")


# -- contracts ---------------------------------------------------------------------------------------------
@contract_app.command("list")
@contracts_dir_option
@click.option("--as-of", default=None, metavar="YYYY-MM-DD", help="the day to judge by (default: today)")
def contract_list(contracts_dir: Path | None, as_of: str | None) -> None:
    """Every interface with its versions: in force (the default), superseded or upcoming, and pins from hih.toml."""

    from harness.config import load_config
    from harness.contract.loader import ContractStore
    from harness.contract.versions import upcoming

    store = ContractStore(contracts_dir, as_of=_day("--as-of", as_of))
    day = store.today()
    pins = load_config().contracts
    out.print(f"contracts in {store.root} (as of {day})")
    for name in store.interfaces():
        current = store.in_force(name)
        default = pins.get(name) or current
        contract = store.load(name, default or store.newest(name))
        out.print(f"  {name}  {contract.transport}  {contract.title}")
        later = {d.version for d in upcoming(store.dates(name), day)}
        for dates in store.dates(name):
            day_text = "always" if dates.in_force_from == date.min else str(dates.in_force_from)
            state = (f"upcoming: in force from {day_text}" if dates.version in later
                     else f"in force since {day_text}" if dates.version == current
                     else f"superseded (in force from {day_text})")
            marks = ", ".join(m for m, on in (("default", dates.version == default),
                                              ("pinned in hih.toml", dates.version == pins.get(name))) if on)
            out.print(f"    {dates.version:<10} {state}{f' ({marks})' if marks else ''}")
        if default is None:
            out.print(f"    no version in force on {day}: `hih run` leaves {name} out unless --contract names one")


@contract_app.command("show")
@click.argument("ref", metavar="NAME[@VERSION]")
@format_option
@contracts_dir_option
def contract_show(ref: str, fmt: str, contracts_dir: Path | None) -> None:
    """What a contract holds: operations, code tables, formats, rules, signing."""
    if fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {fmt!r}")
    c = _store(contracts_dir).parse_ref(ref)
    if fmt == "json":
        doc: dict[str, Any] = {
            "interface": c.interface, "version": c.version, "title": c.title, "title_en": c.title_en,
            "transport": c.transport, "released": c.released, "effective": c.effective or c.released,
            "supersedes": c.supersedes, "document": c.document,
            "operations": {k: {"name": o.name, "name_en": o.name_en, "path": o.path, "kind": o.kind,
                               "idempotent": o.idempotent, "input": o.input_schema, "output": o.output_schema}
                           for k, o in c.operations.items()},
            "code_tables": {k: t.values for k, t in c.code_tables.items()},
            "formats": {k: f.pattern for k, f in c.formats.items()},
            "rules": [{"id": r.id, "kind": r.kind, "where": r.where, "applies_to": list(r.applies_to)} for r in c.rules],
            "signing": c.signing.scheme if c.signing else None,
        }
        import json

        out.print_json(json.dumps(doc, ensure_ascii=False))
        return
    out.print(f"[bold]{c.ref}[/bold]  {c.title}")
    if c.title_en:
        out.print(f"  {c.title_en}")
    out.print(f"  transport {c.transport} · released {c.released or '-'} · in force from {c.effective or c.released or '-'}"
              f" · supersedes {c.supersedes or '-'}")
    if c.document:
        out.print(f"  document: {c.document}")
    if c.http:
        out.print(f"  base path {c.http.base_path}" + (f" · single endpoint {c.http.single_endpoint}" if c.http.single_endpoint else ""))
    if c.signing:
        out.print(f"  signing {c.signing.scheme}: {', '.join(c.signing.headers.values())} (max skew {c.signing.max_skew_s} s)")
    out.print("operations:")
    base = c.http.base_path.rstrip("/") + "/" if c.http else ""
    for key, op in c.operations.items():
        flags = f"{op.kind}, {'idempotent' if op.idempotent else 'not idempotent'}"
        out.print(f"  {key}  {op.name} ({op.name_en or '-'})  {base}{op.path}  · {flags}")
        out.print(f"        input {op.input_schema or '-'} · output {op.output_schema or 'null'}")
    out.print("code tables: " + ", ".join(f"{k} ({len(t.values)})" for k, t in c.code_tables.items()))
    out.print("formats: " + ", ".join(c.formats))
    for rule in c.rules:
        out.print(f"rule {rule.id}: {rule.kind} on {rule.where} of {', '.join(rule.applies_to)}")


@contract_app.command("check")
@click.argument("path", type=PATH, required=False, default=None, metavar="[PATH]", help="a contract folder, an interface folder or a root")
@contracts_dir_option
def contract_check(path: Path | None, contracts_dir: Path | None) -> None:
    """Check contract files, their CHANGELOG and `supersedes`; every problem is printed as path:line: message (exit 2 when any)."""
    from harness.contract.errors import ContractError
    from harness.contract.loader import CONTRACT_FILE, find_contract_folders, load_contract

    target = path or _store(contracts_dir).root
    if not target.exists():
        raise UsageError(f"{target}: no such file or folder")
    if target.is_file():
        target = target.parent
    folders, unreadable = find_contract_folders(target)
    for problem in unreadable:
        click.echo(str(problem), err=True)
    if not folders and not unreadable:
        raise UsageError(f"{target}: no {CONTRACT_FILE} found")
    from harness.contract.release import release_problems

    failed = len(unreadable)
    for folder in folders:
        try:
            contract = load_contract(folder)
        except ContractError as exc:
            failed += 1
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            continue
        problems = release_problems(contract)
        if problems:
            failed += 1
            for problem in problems:
                click.echo(str(problem), err=True)
        else:
            out.print(f"ok {contract.ref} ({len(contract.operations)} operations, {len(contract.schemas)} schemas)")
    if failed:
        raise Exit(2)


@contract_app.command("diff")
@click.argument("name", metavar="NAME")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@format_option
@click.option("--history", type=PATH, default=None, metavar="FILE", help="run history database (default: $HIH_HISTORY or reports/history.sqlite)")
@click.option("--features", type=PATH, default=None, metavar="DIR", help="features folder (default: the project's)")
@contracts_dir_option
def contract_diff(name: str, old: str, new: str, fmt: str, history: Path | None, features: Path | None,
                  contracts_dir: Path | None) -> None:
    """Changes from OLD to NEW, breaking first, with the scenarios that exercise each; exit 1 when any breaks."""
    from harness.contract.diff_report import document, render_text
    from harness.run.history import history_path
    from harness.run.options import PROJECT_ROOT
    from harness.run.selection import contract_impact

    if fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {fmt!r}")
    found = contract_impact(_store(contracts_dir), name, old, new, features or PROJECT_ROOT / "features",
                            history or history_path())
    if fmt == "json":
        import json

        click.echo(json.dumps(document(found.diff, found), ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(found.diff, found))
    raise Exit(1 if found.diff.breaking else 0)


# -- validate ----------------------------------------------------------------------------------------------
@app.command()
@click.argument("files", nargs=-1, callback=_listed, required=True, type=PATH, metavar="FILE...")
@click.option("--interface", required=True, metavar="NAME", help="the interface the captures belong to")
@click.option("--contract-version", default=None, metavar="VERSION", help="default: the newest")
@contracts_dir_option
@click.option("--transaction", default=None, metavar="CODE", help="the transaction a JSON reply answers (2207A ...)")
def validate(files: list[Path], interface: str, contract_version: str | None, contracts_dir: Path | None,
             transaction: str | None) -> None:
    """Validate captured messages, or recordings of `hih proxy` (a DIR); prints `FILE: SEVERITY LOCATION message`,
    exit 1 when any error finding."""
    from harness.contract import recording
    from harness.contract.findings import Severity
    from harness.contract.validate import validate_capture

    contract = _store(contracts_dir).load(interface, contract_version)
    errors = 0
    for file in files:
        if recording.is_recording(file):
            errors += _validate_recording(contract, file)
            continue
        if file.is_dir():
            raise UsageError(f"{file}: a folder without {recording.LINES}, so not a recording of hih proxy; give "
                             "a recording's folder or message files")
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise UsageError(f"{file}: cannot read ({exc.strerror})") from None
        checked = validate_capture(contract, raw, transaction)
        for finding in checked.findings:
            errors += finding.severity is Severity.ERROR
            click.echo(f"{file}: {finding}")
        if not checked.findings:
            click.echo(f"{file}: ok {checked.kind} {checked.operation or ''}".rstrip())
    raise Exit(1 if errors else 0)


def _validate_recording(contract: Any, folder: Path) -> int:
    """Print the findings of every message of a recording; the number of error findings."""
    from harness.contract.findings import Severity
    from harness.contract.recording_check import check

    checked = check(contract, folder)
    errors = 0
    for message in checked.messages:
        for finding in message.findings:
            errors += finding.severity is Severity.ERROR
            click.echo(f"{message.where}: {finding}")
        if not message.findings:
            click.echo(f"{message.where}: ok {message.direction} {message.transaction or ''}".rstrip())
    if not checked.messages:
        click.echo(f"{folder}: no exchange recorded")
    if checked.masked_left_out:
        click.echo(f"{folder}: note: {checked.masked_left_out} findings about values masked in the recording left out "
                   "(the proxy's findings, made before masking, are shown for them)")
    if checked.meta.stopped:
        click.echo(f"{folder}: note: {checked.meta.stopped}")
    return errors


# -- history ---------------------------------------------------------------------------------------------------
@app.command()
@click.option("--interface", default=None, metavar="NAME", help="only this interface")
@click.option("--last", type=int, default=10, show_default=True, metavar="N", help="how many runs per interface")
@format_option
@click.option("--db", type=PATH, default=None, metavar="FILE", help="run history database (default: $HIH_HISTORY or reports/history.sqlite)")
def history(interface: str | None, last: int, fmt: str, db: Path | None) -> None:
    """Pass/fail per interface and scenario across recorded runs, newest right; flaky scenarios marked."""
    from harness.run.history import HistoryError, history_path, query, render_text

    if fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {fmt!r}")
    path = db or history_path()
    if path is None:
        raise HistoryError("run history is switched off (HIH_HISTORY=off); --db names a database")
    document = query(path, interface, last)
    import json

    click.echo(json.dumps(document, ensure_ascii=False, indent=2) if fmt == "json" else render_text(document))


# -- mocks -------------------------------------------------------------------------------------------------
@mock_app.command("serve")
@click.option("--interface", multiple=True, callback=_listed, metavar="NAME", help="mock to serve (repeatable; default: all)")
@click.option("--host", default="127.0.0.1", show_default=True, metavar="HOST", help="address to bind (loopback unless told otherwise)")
@click.option("--port", multiple=True, callback=_listed, metavar="NAME=PORT", help="port per mock, or admin=PORT")
@click.option("--state", type=PATH, default=None, metavar="FILE", help="keep mock state in this SQLite file")
@click.option("--contract", multiple=True, callback=_listed, metavar="NAME=VERSION", help="contract version (default: the newest in force)")
@contracts_dir_option
@click.option("--push", multiple=True, callback=_listed, metavar="NAME=HOST:PORT", help="HL7 mocks: send results/reports to this hospital listener")
@click.option("--push-every", type=float, default=5.0, show_default=True, metavar="SECONDS", help="how often a pushing mock sends the next due message")
@click.option("--allow-host", multiple=True, callback=_listed, metavar="NAME", help="another host name the consoles and admin API answer to (repeatable)")
@click.option("--journal-mib", type=int, default=64, show_default=True, metavar="MIB", help="each mock's journal bound")
@click.option("--workers", default="1", show_default=True, metavar="N|auto", help="serve from N processes sharing the state; auto: as many as win for the mocks served")
@click.option("--max-rows", type=int, default=50_000, show_default=True, metavar="N", help="rows each growing table keeps in memory (finished visits and orders go first)")
@click.option("--replay", multiple=True, callback=_listed, type=PATH, metavar="DIR", help="answer from this recording of hih proxy (repeatable, one per interface)")
@click.option("--unrecorded", default="error", show_default=True, metavar="error|contract", help="with --replay: what a request without a recorded answer gets")
@click.option("--busy-poll-us", type=int, default=None, metavar="US", help="HL7 mocks: after a message, poll the connections this long before sleeping (default 0: sleep at once)")
def mock_serve(interface: list[str], host: str, port: list[str], state: Path | None,
               contract: list[str], contracts_dir: Path | None, push: list[str], push_every: float,
               allow_host: list[str], journal_mib: int, workers: str, max_rows: int, replay: list[Path],
               unrecorded: str, busy_poll_us: int) -> None:
    """Serve mock partners until Ctrl-C; prints each endpoint on start."""
    import threading

    from mocks.stop_signals import stopping_on_signals

    # a Ctrl-C or SIGTERM from here on stops the serve, the start finished first (mocks/stop_signals.py)
    with stopping_on_signals(threading.Event()) as stop:
        _mock_serve(interface, host, port, state, contract, contracts_dir, push, push_every, allow_host, journal_mib,
                    workers, max_rows, replay, unrecorded, busy_poll_us, stop)
    print("stopped", flush=True)


def _mock_serve(interface: list[str], host: str, port: list[str], state: Path | None,
                contract: list[str], contracts_dir: Path | None, push: list[str], push_every: float,
                allow_host: list[str], journal_mib: int, workers: str, max_rows: int, replay: list[Path],
                unrecorded: str, busy_poll_us: int, stop: threading.Event) -> None:
    from harness.run.options import parse_pairs
    from mocks.serve import ServeOptions, serve
    from mocks.transport.busy_poll import DEFAULT_WINDOW_US
    from mocks.workers_auto import parse_workers

    try:
        processes = parse_workers(workers)
    except ValueError:
        raise UsageError(f"--workers {workers}: give a number of processes or auto") from None

    options = ServeOptions(interfaces=interface, host=host, ports=_ports(port), state=state,
                           contracts=parse_pairs(contract, "--contract"), contracts_dir=contracts_dir,
                           push=parse_pairs(push, "--push"), push_every_s=push_every, allowed_hosts=allow_host,
                           journal_bytes=journal_mib * 2**20, workers=processes if isinstance(processes, int) else 1,
                           auto_workers=not isinstance(processes, int), max_rows=max_rows, replay=replay,
                           unrecorded=unrecorded, mask=_masking() if replay else None,
                           busy_poll_s=(DEFAULT_WINDOW_US if busy_poll_us is None else busy_poll_us) / 1e6)
    serve(options, lambda line: print(line, flush=True), stop)


def _masking() -> Callable[[str, str], str]:
    """hih.toml's masking rules as a function of (text, kind): what a replaying mock matches requests with."""
    from harness.config import load_config
    from harness.report.masking import Masker

    masker = Masker.from_config(load_config().masking)
    return lambda text, kind: masker.scoped().raw(text, kind)


# -- proxy -------------------------------------------------------------------------------------------------
@app.command()
@click.option("--interface", required=True, metavar="NAME", help="the interface whose traffic goes through")
@click.option("--upstream", required=True, metavar="URL|HOST:PORT", help="the partner's test environment (HTTP: a URL; MLLP: HOST:PORT)")
@click.option("--port", multiple=True, callback=_listed, metavar="NAME=PORT", help="the proxy's port, or admin=PORT")
@click.option("--record", type=PATH, default=None, metavar="DIR", help="record every exchange to DIR (JSON lines, identifiers masked)")
@click.option("--strict", is_flag=True, default=False, help="refuse messages that break the contract instead of forwarding them")
@click.option("--host", default="127.0.0.1", show_default=True, metavar="HOST", help="address to bind (loopback unless told otherwise)")
@click.option("--contract-version", "contract", default=None, metavar="VERSION", help="the contract to check against (default: the one in force)")
@contracts_dir_option
@click.option("--upstream-role", default="partner", show_default=True, metavar="partner|hospital", help="MLLP: the upstream is the partner (default) or the hospital's own listener")
@click.option("--timeout", type=float, default=30.0, show_default=True, metavar="SECONDS", help="longest wait for the upstream's reply")
@click.option("--connect-timeout", type=float, default=5.0, show_default=True, metavar="SECONDS", help="longest wait to connect to the upstream")
@click.option("--allow-host", multiple=True, callback=_listed, metavar="NAME", help="another host name the admin API answers to (repeatable)")
@click.option("--journal-mib", type=int, default=64, show_default=True, metavar="MIB", help="the journal's bound")
@click.option("--record-mib", type=int, default=512, show_default=True, metavar="MIB", help="the recording's bound")
def proxy(interface: str, upstream: str, port: list[str], record: Path | None, strict: bool, host: str,
          contract: str | None, contracts_dir: Path | None, upstream_role: str, timeout: float,
          connect_timeout: float, allow_host: list[str], journal_mib: int, record_mib: int) -> None:
    """Forward between a hospital system and a partner, check every message against the contract, record it."""
    import threading

    from mocks.stop_signals import stopping_on_signals

    with stopping_on_signals(threading.Event()) as stop:  # as `hih mock serve`: a signal while it starts is kept
        from harness.proxy.core import ProxyOptions, serve

        options = ProxyOptions(interface=interface, upstream=upstream, host=host, ports=_ports(port), record=record,
                               strict=strict, contract=contract, contracts_dir=contracts_dir,
                               upstream_role=upstream_role, timeout_s=timeout, connect_timeout_s=connect_timeout,
                               allowed_hosts=allow_host, journal_bytes=journal_mib * 2**20,
                               record_bytes=record_mib * 2**20)
        serve(options, lambda line: print(line, flush=True), stop)
    print("stopped", flush=True)


def _ports(values: list[str]) -> dict[str, int]:
    from harness.run.options import parse_pairs

    ports: dict[str, int] = {}
    for name, value in parse_pairs(values, "--port").items():
        if not value.isdigit() or not 0 <= int(value) <= 65535:
            raise UsageError(f"--port {name}={value}: a port is a number from 0 to 65535")
        ports[name] = int(value)
    return ports


# -- compare -----------------------------------------------------------------------------------------------
@app.command()
@click.option("--interface", required=True, metavar="NAME", help="the interface whose connectors are compared")
@click.option("--connector", required=True, metavar="NAME=OLD", help="the connector in production (module:factory)")
@click.option("--against", required=True, metavar="NAME=NEW", help="the version to release (module:factory)")
@click.option("--report-dir", type=PATH, default="reports/compare", show_default=True, metavar="DIR", help="where the two runs' reports and the comparison go")
@click.option("--allow", type=PATH, default=None, metavar="FILE", help="differences the upgrade is meant to make (YAML, each with a reason)")
@format_option
@click.option("--tags", default=None, metavar="EXPR", help="Gherkin tag expression selecting the scenarios")
@click.option("--contract", multiple=True, callback=_listed, metavar="NAME=VERSION", help="contract version (default: the newest in force)")
@click.option("--workers", default=None, metavar="N|auto", help="pytest processes of each run")
@contracts_dir_option
@signoff_pdf_option
def compare(interface: str, connector: str, against: str, report_dir: Path, allow: Path | None, fmt: str,
            tags: str | None, contract: list[str], workers: str | None, contracts_dir: Path | None,
            signoff_pdf: bool | None) -> None:
    """Run the scenarios with each connector and show what changed on the wire; exit 0 same, 1 different."""
    from rich.console import Console

    from harness.compare.command import CompareOptions, connector_of
    from harness.compare.command import compare as run_compare
    from harness.run.options import parse_pairs, parse_workers

    chosen = parse_workers(workers)
    options = CompareOptions(interface=interface, old=connector_of(connector, "--connector", interface),
                             new=connector_of(against, "--against", interface), report_dir=report_dir, allow=allow,
                             fmt=fmt, tags=tags, contracts=parse_pairs(contract, "--contract"),
                             contracts_dir=contracts_dir, workers=chosen if isinstance(chosen, int) else None,
                             signoff_pdf=signoff_pdf)
    progress = Console(stderr=True, highlight=False, soft_wrap=True) if fmt == "json" else out
    raise Exit(run_compare(options, progress, out))


# -- reports -----------------------------------------------------------------------------------------------
@app.group("report", help="Check and merge report directories.")
def report_app() -> None:
    pass


@report_app.command("merge")
@click.argument("directories", nargs=-1, callback=_listed, required=True, type=PATH, metavar="DIR...", help="the shards' report directories")
@click.option("--into", type=PATH, required=True, metavar="DIR", help="the merged report directory (replaced as a whole)")
@click.option("--no-signoff-pdf", "no_signoff_pdf", is_flag=True, default=False,
              help="the merged sign-off pack without signoff.pdf (default: made, whatever the shards did)")
def report_merge(directories: list[Path], into: Path, no_signoff_pdf: bool) -> None:
    """One report directory with one gate decision from CI shards' directories; exit 0 pass, 1 fail, 2 incomplete."""
    from harness.run.merge import merge

    raise Exit(merge(directories, into, out, signoff_pdf=not no_signoff_pdf))


@report_app.command("verify")
@click.argument("directory", type=PATH, metavar="DIR", help="a report directory with manifest.json")
def report_verify(directory: Path) -> None:
    """Check that a report directory still holds what its manifest.json lists: exit 0 unchanged, 1 changed."""
    from harness.report.manifest import verify

    raise Exit(verify(directory, click.echo))


# -- entry point -------------------------------------------------------------------------------------------
def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"hih: error: {message}\n")
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors become one line on stderr, never a traceback (set HIH_DEBUG=1 to see one)."""
    try:
        result = app.main(args=argv if argv is not None else sys.argv[1:], prog_name="hih", standalone_mode=False)
    except HihError as exc:  # a ContractError names its other problems first, one a line
        for problem in getattr(exc, "problems", [])[1:]:
            sys.stderr.write(f"{problem}\n")
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        if isinstance(exc, click.exceptions.Abort):
            return _fail("interrupted", 130)
        if isinstance(exc, click.ClickException):  # usage errors
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "hih"
            return _fail(f"{where}: {exc.format_message()} (see '{where} --help')", exc.exit_code)
        if os.environ.get("HIH_DEBUG"):
            import traceback

            traceback.print_exc()
        return _fail(f"internal error: {type(exc).__name__}: {exc} (set HIH_DEBUG=1 for details)", 3)
    return result if isinstance(result, int) else 0


def entry() -> None:
    """Console-script entry point of earlier installs; `harness.launch.entry` is the one a new install uses."""
    from harness.launch import entry as launch

    launch()


def quick_exit(code: int) -> None:
    """Exit with `code` without tearing the interpreter down: once the atexit handlers have run (logging, temporary
    files) and the output is flushed, there is nothing left to do, and tearing down what a run loaded (WeasyPrint
    and its libraries, the run's results) takes 0.2 s to over a second. A thread still working gets the ordinary
    exit, which waits for it."""
    import atexit
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`hih ... | head`): nothing more can be said
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
