"""The `hih` command: parse arguments, delegate, and map errors to exit codes (0 pass, 1 fail, 2 usage)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from harness.contract.errors import ContractError
from harness.errors import HihError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from harness.contract.loader import ContractStore

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Hospital Interface Harness: contract-driven mocks, executable specs and a release gate.")
contract_app = typer.Typer(help="List, show and check contracts.", rich_markup_mode=None)
mock_app = typer.Typer(help="Run mock partners as standalone servers.", rich_markup_mode=None)
app.add_typer(contract_app, name="contract")
app.add_typer(mock_app, name="mock")


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

ContractsDir = Annotated[Path | None, typer.Option("--contracts-dir", help="folder of contracts (default: the project's)")]


def _store(contracts_dir: Path | None) -> ContractStore:
    from harness.contract.loader import ContractStore

    return ContractStore(contracts_dir)


# -- run ---------------------------------------------------------------------------------------------------
@app.command()
def run(
    interface: Annotated[list[str], typer.Option("--interface", help="interface to run (repeatable; default: all)")] = [],  # noqa: B006
    contract: Annotated[list[str], typer.Option("--contract", metavar="NAME=VERSION", help="contract version (default: the newest in force)")] = [],  # noqa: B006
    connector: Annotated[list[str], typer.Option("--connector", metavar="NAME=module:factory", help="connector under test")] = [],  # noqa: B006
    report_dir: Annotated[Path, typer.Option("--report-dir", help="where the reports go")] = Path("reports/latest"),
    workers: Annotated[str | None, typer.Option("--workers", metavar="N|auto", help="pytest processes sharing the run (default auto: one per interface, up to three times the cores, at most 5)")] = None,
    tags: Annotated[str | None, typer.Option("--tags", help="Gherkin tag expression, e.g. '@smoke and not @fault'")] = None,
    contracts_dir: ContractsDir = None,
    changed_since: Annotated[list[str], typer.Option("--changed-since", metavar="[NAME=]VERSION", help="run only the scenarios that exercise what changed since this contract version")] = [],  # noqa: B006
    scenario_timeout: Annotated[float | None, typer.Option("--scenario-timeout", metavar="SECONDS", help="fail a scenario still running after this long (default 60)")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", metavar="SECONDS", help="stop the whole run after this long: partial report, exit 2")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", metavar="YYYY-MM-DD", help="run the contracts in force on this day (default: today)")] = None,
    operator: Annotated[str | None, typer.Option("--operator", metavar="NAME", help="who runs the gate, for the sign-off (default: the CI user or login name)")] = None,
    release: Annotated[str | None, typer.Option("--release", metavar="NAME", help="the release being gated, for the sign-off")] = None,
) -> None:
    """Run the specs against in-process mocks and the chosen connectors; the exit code is the release gate."""
    from harness.run.options import RunOptions, parse_pairs, parse_workers
    from harness.run.runner import run as run_gate

    options = RunOptions(interfaces=interface, contracts=parse_pairs(contract, "--contract"),
                         connectors=parse_pairs(connector, "--connector"), report_dir=report_dir,
                         workers=parse_workers(workers), tags=tags, contracts_dir=contracts_dir,
                         changed_since=changed_since, scenario_timeout_s=scenario_timeout, timeout_s=timeout,
                         as_of=_day("--as-of", as_of), operator=operator, release=release)
    raise typer.Exit(run_gate(options, _console()))


# -- load ----------------------------------------------------------------------------------------------------
@app.command()
def load(
    interface: Annotated[str, typer.Option("--interface", help="the interface to load")],
    profile: Annotated[str, typer.Option("--profile", help="the workload (insurance: outpatient-peak; lis: morning-results, order-entry; blood-center: shortage-orders)")],
    rate: Annotated[float, typer.Option("--rate", help="iterations started per second (open loop)")],
    duration: Annotated[float, typer.Option("--duration", metavar="SECONDS", help="measured seconds")],
    connector: Annotated[str | None, typer.Option("--connector", metavar="NAME=module:factory", help="connector under test")] = None,
    contract: Annotated[str | None, typer.Option("--contract-version", metavar="VERSION", help="contract version (default: newest)")] = None,
    warmup: Annotated[float, typer.Option("--warmup", metavar="SECONDS", help="seconds of load before the measured part")] = 0.0,
    concurrency: Annotated[int, typer.Option("--concurrency", help="worker threads, each with its own connector")] = 16,
    listener: Annotated[str | None, typer.Option("--listener", metavar="HOST:PORT", help="LIS/PACS pushes go to this hospital listener (black-box)")] = None,
    report_dir: Annotated[Path, typer.Option("--report-dir", help="where load.json, load.html and junit.xml go")] = Path("reports/load"),
    timeout: Annotated[float, typer.Option("--timeout", metavar="SECONDS", help="the connector's timeout per call")] = 5.0,
    contracts_dir: ContractsDir = None,
) -> None:
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
    raise typer.Exit(run_load(options, _console()))


def _day(flag: str, value: str | None) -> date | None:
    from harness.contract.versions import parse_day

    if value is None:
        return None
    day = parse_day(value)
    if day is None:
        raise UsageError(f"{flag} {value!r}: expected a day as YYYY-MM-DD")
    return day


# -- contracts ---------------------------------------------------------------------------------------------
@contract_app.command("list")
def contract_list(contracts_dir: ContractsDir = None,
                  as_of: Annotated[str | None, typer.Option("--as-of", metavar="YYYY-MM-DD", help="the day to judge by (default: today)")] = None) -> None:
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
def contract_show(
    ref: Annotated[str, typer.Argument(metavar="NAME[@VERSION]")],
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    contracts_dir: ContractsDir = None,
) -> None:
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
def contract_check(path: Annotated[Path | None, typer.Argument(help="a contract folder, an interface folder or a root")] = None,
                   contracts_dir: ContractsDir = None) -> None:
    """Check contract files, their CHANGELOG and `supersedes`; every problem is printed as path:line: message (exit 2 when any)."""
    from harness.contract.loader import CONTRACT_FILE, find_contract_folders, load_contract

    target = path or _store(contracts_dir).root
    if not target.exists():
        raise UsageError(f"{target}: no such file or folder")
    if target.is_file():
        target = target.parent
    folders, unreadable = find_contract_folders(target)
    for problem in unreadable:
        typer.echo(str(problem), err=True)
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
                typer.echo(str(problem), err=True)
            continue
        problems = release_problems(contract)
        if problems:
            failed += 1
            for problem in problems:
                typer.echo(str(problem), err=True)
        else:
            out.print(f"ok {contract.ref} ({len(contract.operations)} operations, {len(contract.schemas)} schemas)")
    if failed:
        raise typer.Exit(2)


@contract_app.command("diff")
def contract_diff(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    old: Annotated[str, typer.Argument(metavar="OLD")],
    new: Annotated[str, typer.Argument(metavar="NEW")],
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    history: Annotated[Path | None, typer.Option("--history", help="run history database (default: $HIH_HISTORY or reports/history.sqlite)")] = None,
    features: Annotated[Path | None, typer.Option("--features", help="features folder (default: the project's)")] = None,
    contracts_dir: ContractsDir = None,
) -> None:
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

        typer.echo(json.dumps(document(found.diff, found), ensure_ascii=False, indent=2))
    else:
        typer.echo(render_text(found.diff, found))
    raise typer.Exit(1 if found.diff.breaking else 0)


# -- validate ----------------------------------------------------------------------------------------------
@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...")],
    interface: Annotated[str, typer.Option("--interface", help="the interface the captures belong to")],
    contract_version: Annotated[str | None, typer.Option("--contract-version", help="default: the newest")] = None,
    contracts_dir: ContractsDir = None,
    transaction: Annotated[str | None, typer.Option("--transaction", metavar="CODE",
                                                    help="the transaction a JSON reply answers (2207A ...)")] = None,
) -> None:
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
            typer.echo(f"{file}: {finding}")
        if not checked.findings:
            typer.echo(f"{file}: ok {checked.kind} {checked.operation or ''}".rstrip())
    raise typer.Exit(1 if errors else 0)


def _validate_recording(contract: Any, folder: Path) -> int:
    """Print the findings of every message of a recording; the number of error findings."""
    from harness.contract.findings import Severity
    from harness.contract.recording_check import check

    checked = check(contract, folder)
    errors = 0
    for message in checked.messages:
        for finding in message.findings:
            errors += finding.severity is Severity.ERROR
            typer.echo(f"{message.where}: {finding}")
        if not message.findings:
            typer.echo(f"{message.where}: ok {message.direction} {message.transaction or ''}".rstrip())
    if not checked.messages:
        typer.echo(f"{folder}: no exchange recorded")
    if checked.masked_left_out:
        typer.echo(f"{folder}: note: {checked.masked_left_out} findings about values masked in the recording left out "
                   "(the proxy's findings, made before masking, are shown for them)")
    if checked.meta.stopped:
        typer.echo(f"{folder}: note: {checked.meta.stopped}")
    return errors


# -- history ---------------------------------------------------------------------------------------------------
@app.command()
def history(
    interface: Annotated[str | None, typer.Option("--interface", help="only this interface")] = None,
    last: Annotated[int, typer.Option("--last", help="how many runs per interface")] = 10,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    db: Annotated[Path | None, typer.Option("--db", help="run history database (default: $HIH_HISTORY or reports/history.sqlite)")] = None,
) -> None:
    """Pass/fail per interface and scenario across recorded runs, newest right; flaky scenarios marked."""
    from harness.run.history import HistoryError, history_path, query, render_text

    if fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {fmt!r}")
    path = db or history_path()
    if path is None:
        raise HistoryError("run history is switched off (HIH_HISTORY=off); --db names a database")
    document = query(path, interface, last)
    import json

    typer.echo(json.dumps(document, ensure_ascii=False, indent=2) if fmt == "json" else render_text(document))


# -- mocks -------------------------------------------------------------------------------------------------
@mock_app.command("serve")
def mock_serve(
    interface: Annotated[list[str], typer.Option("--interface", help="mock to serve (repeatable; default: all)")] = [],  # noqa: B006
    host: Annotated[str, typer.Option("--host", help="address to bind (loopback unless told otherwise)")] = "127.0.0.1",
    port: Annotated[list[str], typer.Option("--port", metavar="NAME=PORT", help="port per mock, or admin=PORT")] = [],  # noqa: B006
    state: Annotated[Path | None, typer.Option("--state", help="keep mock state in this SQLite file")] = None,
    contract: Annotated[list[str], typer.Option("--contract", metavar="NAME=VERSION")] = [],  # noqa: B006
    contracts_dir: ContractsDir = None,
    push: Annotated[list[str], typer.Option("--push", metavar="NAME=HOST:PORT",
                                            help="HL7 mocks: send results/reports to this hospital listener")] = [],  # noqa: B006
    push_every: Annotated[float, typer.Option("--push-every", metavar="SECONDS",
                                              help="how often a pushing mock sends the next due message")] = 5.0,
    allow_host: Annotated[list[str], typer.Option("--allow-host", metavar="NAME",
                                                  help="another host name the consoles and admin API answer to (repeatable)")] = [],  # noqa: B006
    journal_mib: Annotated[int, typer.Option("--journal-mib", metavar="MIB", help="each mock's journal bound")] = 64,
    workers: Annotated[int, typer.Option("--workers", metavar="N", help="serve from N processes sharing the state (insurance, lis, pacs)")] = 1,
    max_rows: Annotated[int, typer.Option("--max-rows", metavar="N", help="rows each growing table keeps in memory (finished visits and orders go first)")] = 50_000,
    replay: Annotated[list[Path], typer.Option("--replay", metavar="DIR", help="answer from this recording of hih proxy (repeatable, one per interface)")] = [],  # noqa: B006
    unrecorded: Annotated[str, typer.Option("--unrecorded", metavar="error|contract", help="with --replay: what a request without a recorded answer gets")] = "error",
) -> None:
    """Serve mock partners until Ctrl-C; prints each endpoint on start."""
    from harness.run.options import parse_pairs
    from mocks.serve import ServeOptions, serve

    options = ServeOptions(interfaces=interface, host=host, ports=_ports(port), state=state,
                           contracts=parse_pairs(contract, "--contract"), contracts_dir=contracts_dir,
                           push=parse_pairs(push, "--push"), push_every_s=push_every, allowed_hosts=allow_host,
                           journal_bytes=journal_mib * 2**20, workers=workers, max_rows=max_rows, replay=replay,
                           unrecorded=unrecorded, mask=_masking() if replay else None)
    serve(options, lambda line: print(line, flush=True))
    print("stopped", flush=True)


def _masking() -> Callable[[str, str], str]:
    """hih.toml's masking rules as a function of (text, kind): what a replaying mock matches requests with."""
    from harness.config import load_config
    from harness.report.masking import Masker

    masker = Masker.from_config(load_config().masking)
    return lambda text, kind: masker.scoped().raw(text, kind)


# -- proxy -------------------------------------------------------------------------------------------------
@app.command()
def proxy(
    interface: Annotated[str, typer.Option("--interface", help="the interface whose traffic goes through")],
    upstream: Annotated[str, typer.Option("--upstream", metavar="URL|HOST:PORT", help="the partner's test environment (HTTP: a URL; MLLP: HOST:PORT)")],
    port: Annotated[list[str], typer.Option("--port", metavar="NAME=PORT", help="the proxy's port, or admin=PORT")] = [],  # noqa: B006
    record: Annotated[Path | None, typer.Option("--record", metavar="DIR", help="record every exchange to DIR (JSON lines, identifiers masked)")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="refuse messages that break the contract instead of forwarding them")] = False,
    host: Annotated[str, typer.Option("--host", help="address to bind (loopback unless told otherwise)")] = "127.0.0.1",
    contract: Annotated[str | None, typer.Option("--contract-version", metavar="VERSION", help="the contract to check against (default: the one in force)")] = None,
    contracts_dir: ContractsDir = None,
    upstream_role: Annotated[str, typer.Option("--upstream-role", metavar="partner|hospital", help="MLLP: the upstream is the partner (default) or the hospital's own listener")] = "partner",
    timeout: Annotated[float, typer.Option("--timeout", metavar="SECONDS", help="longest wait for the upstream's reply")] = 30.0,
    connect_timeout: Annotated[float, typer.Option("--connect-timeout", metavar="SECONDS", help="longest wait to connect to the upstream")] = 5.0,
    allow_host: Annotated[list[str], typer.Option("--allow-host", metavar="NAME", help="another host name the admin API answers to (repeatable)")] = [],  # noqa: B006
    journal_mib: Annotated[int, typer.Option("--journal-mib", metavar="MIB", help="the journal's bound")] = 64,
    record_mib: Annotated[int, typer.Option("--record-mib", metavar="MIB", help="the recording's bound")] = 512,
) -> None:
    """Forward between a hospital system and a partner, check every message against the contract, record it."""
    from harness.proxy.core import ProxyOptions, serve

    options = ProxyOptions(interface=interface, upstream=upstream, host=host, ports=_ports(port), record=record,
                           strict=strict, contract=contract, contracts_dir=contracts_dir, upstream_role=upstream_role,
                           timeout_s=timeout, connect_timeout_s=connect_timeout, allowed_hosts=allow_host,
                           journal_bytes=journal_mib * 2**20, record_bytes=record_mib * 2**20)
    serve(options, lambda line: print(line, flush=True))
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
def compare(
    interface: Annotated[str, typer.Option("--interface", help="the interface whose connectors are compared")],
    connector: Annotated[str, typer.Option("--connector", metavar="NAME=OLD", help="the connector in production (module:factory)")],
    against: Annotated[str, typer.Option("--against", metavar="NAME=NEW", help="the version to release (module:factory)")],
    report_dir: Annotated[Path, typer.Option("--report-dir", help="where the two runs' reports and the comparison go")] = Path("reports/compare"),
    allow: Annotated[Path | None, typer.Option("--allow", metavar="FILE", help="differences the upgrade is meant to make (YAML, each with a reason)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    tags: Annotated[str | None, typer.Option("--tags", help="Gherkin tag expression selecting the scenarios")] = None,
    contract: Annotated[list[str], typer.Option("--contract", metavar="NAME=VERSION", help="contract version (default: the newest in force)")] = [],  # noqa: B006
    workers: Annotated[str | None, typer.Option("--workers", metavar="N|auto", help="pytest processes of each run")] = None,
    contracts_dir: ContractsDir = None,
) -> None:
    """Run the scenarios with each connector and show what changed on the wire; exit 0 same, 1 different."""
    from rich.console import Console

    from harness.compare.command import CompareOptions, connector_of
    from harness.compare.command import compare as run_compare
    from harness.run.options import parse_pairs, parse_workers

    chosen = parse_workers(workers)
    options = CompareOptions(interface=interface, old=connector_of(connector, "--connector", interface),
                             new=connector_of(against, "--against", interface), report_dir=report_dir, allow=allow,
                             fmt=fmt, tags=tags, contracts=parse_pairs(contract, "--contract"),
                             contracts_dir=contracts_dir, workers=chosen if isinstance(chosen, int) else None)
    progress = Console(stderr=True, highlight=False, soft_wrap=True) if fmt == "json" else out
    raise typer.Exit(run_compare(options, progress, out))


# -- reports -----------------------------------------------------------------------------------------------
report_app = typer.Typer(help="Check and merge report directories.", rich_markup_mode=None)
app.add_typer(report_app, name="report")


@report_app.command("merge")
def report_merge(
    directories: Annotated[list[Path], typer.Argument(metavar="DIR...", help="the shards' report directories")],
    into: Annotated[Path, typer.Option("--into", help="the merged report directory (replaced as a whole)")],
) -> None:
    """One report directory with one gate decision from CI shards' directories; exit 0 pass, 1 fail, 2 incomplete."""
    from harness.run.merge import merge

    raise typer.Exit(merge(directories, into, out))


@report_app.command("verify")
def report_verify(directory: Annotated[Path, typer.Argument(metavar="DIR", help="a report directory with manifest.json")]) -> None:
    """Check that a report directory still holds what its manifest.json lists: exit 0 unchanged, 1 changed."""
    from harness.report.manifest import verify

    raise typer.Exit(verify(directory, typer.echo))


# -- entry point -------------------------------------------------------------------------------------------
def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"hih: error: {message}\n")
    return code


def _command(argv: list[str]) -> Any:
    """The `hih` click group with only the command being run built in full.

    Typer builds a command by reading its function's signature and evaluating every annotation, ~2 ms each; built
    all at once they cost a third of `hih --help`. The others are stand-ins that carry their name and help (all the
    group's own help shows of them), so help, usage errors and suggestions read as before."""
    import inspect

    from typer import main as typer_main
    from typer.core import TyperCommand, TyperGroup

    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    short, markup = app.pretty_exceptions_short, app.rich_markup_mode
    commands: dict[str, Any] = {}
    for info in app.registered_commands:
        assert info.callback is not None
        name = info.name or typer_main.get_command_name(info.callback.__name__)
        commands[name] = (typer_main.get_command_from_info(info, pretty_exceptions_short=short, rich_markup_mode=markup)
                          if name == chosen
                          else TyperCommand(name, help=inspect.getdoc(info.callback), rich_markup_mode=app.rich_markup_mode))
    for group in app.registered_groups:
        solved = typer_main.solve_typer_info_defaults(group)
        name = solved.name or ""
        commands[name] = (typer_main.get_group_from_info(group, suggest_commands=app.suggest_commands,
                                                         pretty_exceptions_short=short, rich_markup_mode=markup)
                          if name == chosen else TyperGroup(name=name, help=solved.help, rich_markup_mode=app.rich_markup_mode))
    return TyperGroup(name=None, commands=commands, help=app.info.help, rich_markup_mode=app.rich_markup_mode,
                      suggest_commands=app.suggest_commands)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors become one line on stderr, never a traceback (set HIH_DEBUG=1 to see one)."""
    command = _command(argv if argv is not None else sys.argv[1:])
    try:
        result = command.main(args=argv if argv is not None else sys.argv[1:], prog_name="hih", standalone_mode=False)
    except ContractError as exc:
        for problem in exc.problems[1:]:
            sys.stderr.write(f"{problem}\n")
        return _fail(str(exc), 2)
    except HihError as exc:
        return _fail(str(exc), 2)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        if type(exc).__name__ == "Abort":
            return _fail("interrupted", 130)
        if callable(getattr(exc, "format_message", None)) and isinstance(getattr(exc, "exit_code", None), int):
            # click's usage errors (typer bundles its own click, so match by shape rather than by class)
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "hih"
            return _fail(f"{where}: {exc.format_message()} (see '{where} --help')", exc.exit_code)  # type: ignore[attr-defined]
        if os.environ.get("HIH_DEBUG"):
            import traceback

            traceback.print_exc()
        return _fail(f"internal error: {type(exc).__name__}: {exc} (set HIH_DEBUG=1 for details)", 3)
    return result if isinstance(result, int) else 0


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
