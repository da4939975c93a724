"""The record of every run (SQLite), so `hih history` can show pass/fail across runs and mark flaky scenarios.

One database, by default `history.sqlite` next to the report directory (`reports/history.sqlite` for the default
`reports/latest`); `HIH_HISTORY=PATH` puts it elsewhere, `HIH_HISTORY=off` stops recording. It is opened in WAL
mode, so CI shards and a reader can use it at once. Besides statuses it keeps, per scenario, the operations its
journal showed and the field pointers each request and response carried: `hih contract diff` and
`hih run --changed-since` use them to find the scenarios a contract change touches.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import UsageError

if TYPE_CHECKING:  # imported where a history is read for impact analysis (`recorded`), not by every `hih run`
    from harness.contract.diff_impact import History

ENV = "HIH_HISTORY"
FILENAME = "history.sqlite"
DEFAULT_REPORT_DIR = Path("reports/latest")
SCHEMA_VERSION = 2
DEFAULT_LAST = 10

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started TEXT NOT NULL,
    finished TEXT,
    recorded TEXT NOT NULL,
    decision TEXT NOT NULL,
    duration_s REAL,
    workers INTEGER,
    tags TEXT,
    passed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    report_dir TEXT,
    selection TEXT
);
CREATE TABLE IF NOT EXISTS run_interfaces (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    interface TEXT NOT NULL,
    contract TEXT NOT NULL,
    connector TEXT NOT NULL,
    passed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    duration_s REAL,
    connector_kind TEXT,
    connector_value TEXT,
    connector_label TEXT,
    git_commit TEXT,
    wall_s REAL,
    PRIMARY KEY (run_id, interface)
);
CREATE TABLE IF NOT EXISTS scenario_results (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    nodeid TEXT NOT NULL,
    interface TEXT NOT NULL,
    feature TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    duration_s REAL,
    message TEXT,
    operations TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (run_id, nodeid)
);
CREATE INDEX IF NOT EXISTS scenario_results_by_interface ON scenario_results (interface, nodeid, run_id);
"""
_TABLES = {"runs", "run_interfaces", "scenario_results"}
# schema 1 -> 2: the connector's identity per interface of a run (rows of schema 1 have none: their connector's
# name stands for it) and the seconds the interface kept its pytest process busy
_MIGRATIONS = {2: ["ALTER TABLE run_interfaces ADD COLUMN connector_kind TEXT",
                   "ALTER TABLE run_interfaces ADD COLUMN connector_value TEXT",
                   "ALTER TABLE run_interfaces ADD COLUMN connector_label TEXT",
                   "ALTER TABLE run_interfaces ADD COLUMN git_commit TEXT",
                   "ALTER TABLE run_interfaces ADD COLUMN wall_s REAL"]}


class HistoryError(UsageError):
    """The history database is missing, unreadable or not a hih run history (exit 2, one line)."""


def history_path(report_dir: Path | None = None) -> Path | None:
    """Where runs are recorded: $HIH_HISTORY, else `history.sqlite` beside `report_dir`; None when switched off."""
    env = os.environ.get(ENV)
    if env is not None and env.strip():
        return None if env.strip().lower() in ("off", "none", "0", "false") else Path(env.strip())
    return (report_dir or DEFAULT_REPORT_DIR).resolve().parent / FILENAME


@contextmanager
def connect(path: Path, create: bool = False) -> Iterator[sqlite3.Connection]:
    """An open history database; HistoryError when it is missing (unless `create`) or not a run history."""
    if not create and not path.is_file():
        raise HistoryError(f"no run history at {path} (it is written by `hih run`; {ENV} points elsewhere)")
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path, timeout=10)) as db:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout = 10000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA foreign_keys = ON")
            existed = bool(db.execute("SELECT name FROM sqlite_master WHERE name = 'runs'").fetchone())
            if create:
                db.executescript(_SCHEMA)
                if not existed:
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not _TABLES <= tables:
                raise HistoryError(f"{path} is not a hih run history (tables {', '.join(sorted(_TABLES - tables))} missing)")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise HistoryError(f"{path} was written by a newer hih (history schema {version}, this one reads {SCHEMA_VERSION})")
            _migrate(db, version)
            yield db
    except sqlite3.Error as exc:
        raise HistoryError(f"run history {path} is unreadable: {exc}") from None
    except OSError as exc:
        raise HistoryError(f"run history {path} cannot be opened: {exc.strerror or exc}") from None


def _migrate(db: sqlite3.Connection, version: int) -> None:
    """Bring an older history up to this schema: columns are only ever added, each one when it is missing."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(run_interfaces)")}
    missing = [statement for target in range(2, SCHEMA_VERSION + 1) for statement in _MIGRATIONS[target]
               if statement.split("ADD COLUMN ")[1].split()[0] not in columns]
    if missing or version < SCHEMA_VERSION:
        with db:
            for statement in missing:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


# -- what a scenario exchanged ----------------------------------------------------------------------------------
def field_pointers(body: Any, prefix: str = "") -> set[str]:
    """Every member pointer of a JSON body, array items as `*`: {"a": [{"b": 1}]} -> /a, /a/*, /a/*/b."""
    found: set[str] = set()
    if isinstance(body, dict):
        for key, value in body.items():
            child = f"{prefix}/{str(key).replace('~', '~0').replace('/', '~1')}"
            found.add(child)
            found |= field_pointers(value, child)
    elif isinstance(body, list):
        for value in body:
            found.add(f"{prefix}/*")
            found |= field_pointers(value, f"{prefix}/*")
    return found


def exchanges(evidence: list[dict[str, Any]]) -> tuple[list[str], dict[str, dict[str, list[str]]]]:
    """The operations in journal order, and per operation the pointers its requests and responses carried."""
    operations: list[str] = []
    seen: dict[str, dict[str, set[str]]] = {}
    for exchange in evidence:
        op = exchange.get("operation")
        if not isinstance(op, str) or not op:
            continue
        operations.append(op)
        sides = seen.setdefault(op, {})
        if exchange.get("request") is not None or exchange.get("request_raw") is not None:
            sides.setdefault("request", set()).update(field_pointers(exchange.get("request")))
        if exchange.get("response") is not None or exchange.get("response_raw") is not None:
            sides.setdefault("response", set()).update(field_pointers(exchange.get("response")))
    return operations, {op: {side: sorted(paths) for side, paths in sides.items()} for op, sides in seen.items()}


# -- recording ----------------------------------------------------------------------------------------------------
def record_run(summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]], report_dir: Path) -> None:
    """Keep one finished run (summary.json's document and the exchanges per scenario nodeid).

    Never fails the run: a database that cannot be written costs a one-line warning on stderr.
    """
    path = history_path(report_dir)
    if path is None:
        return
    try:
        record(path, summary, evidence, report_dir)
    except HistoryError as exc:
        sys.stderr.write(f"hih: warning: run not recorded in the history: {exc}\n")


def record(path: Path, summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]],
           report_dir: Path | None = None) -> int:
    """Insert one run into the database at `path` (created when missing); returns the run's id."""
    totals = summary.get("totals") or {}
    with connect(path, create=True) as db, db:
        cursor = db.execute(
            "INSERT INTO runs (started, finished, recorded, decision, duration_s, workers, tags, passed, failed,"
            " skipped, report_dir, selection) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (summary.get("started") or datetime.now().astimezone().isoformat(timespec="seconds"), summary.get("finished"),
             datetime.now().astimezone().isoformat(timespec="seconds"), summary.get("decision", "fail"),
             summary.get("duration_s"), summary.get("workers"), summary.get("tags"), int(totals.get("passed", 0)),
             int(totals.get("failed", 0)), int(totals.get("skipped", 0)),
             str(report_dir) if report_dir is not None else None,
             json.dumps(summary["selection"], ensure_ascii=False) if summary.get("selection") else None))
        run_id = int(cursor.lastrowid or 0)
        for name, row in (summary.get("interfaces") or {}).items():
            identity = row.get("connector_identity") or {}
            db.execute(
                "INSERT INTO run_interfaces (run_id, interface, contract, connector, passed, failed, skipped, duration_s,"
                " connector_kind, connector_value, connector_label, git_commit, wall_s)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, name, str(row.get("contract", "")), str(row.get("connector", "")), int(row.get("passed", 0)),
                 int(row.get("failed", 0)), int(row.get("skipped", 0)), row.get("duration_s"), identity.get("kind"),
                 identity.get("value"), identity.get("label"), identity.get("git_commit"), row.get("wall_s") or None))
        for scenario in summary.get("scenarios") or []:
            nodeid = scenario.get("nodeid") or f"{scenario.get('feature')}::{scenario.get('name')}"
            operations, fields = exchanges(evidence.get(nodeid) or [])
            db.execute(
                "INSERT OR REPLACE INTO scenario_results (run_id, nodeid, interface, feature, name, status, duration_s,"
                " message, operations, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, nodeid, scenario.get("interface", ""), scenario.get("feature", ""), scenario.get("name", ""),
                 scenario.get("status", ""), scenario.get("duration_s"), scenario.get("message") or None,
                 json.dumps(operations), json.dumps(fields, ensure_ascii=False)))
    return run_id


def already_recorded(path: Path, summary: dict[str, Any]) -> bool:
    """Whether the database at `path` holds the run `summary` describes (same start, same interfaces)."""
    names = list(summary.get("interfaces") or {})
    if not path.is_file() or not summary.get("started") or not names:
        return False
    try:
        with connect(path) as db:
            marks = ",".join("?" * len(names))
            found = db.execute(f"SELECT COUNT(DISTINCT ri.interface) FROM runs r JOIN run_interfaces ri ON ri.run_id = r.id"
                               f" WHERE r.started = ? AND ri.interface IN ({marks})", (summary["started"], *names)).fetchone()
    except HistoryError:
        return False
    return int(found[0]) == len(names)


def interface_durations(path: Path | None, names: list[str]) -> dict[str, float]:
    """Each interface's time in its latest recorded full run (no --changed-since, no --tags): the seconds it kept its
    pytest process busy, else its scenarios' own time; {} when unknown.

    Used to share a run's interfaces among its pytest processes; never raises.
    """
    if path is None or not path.is_file() or not names:
        return {}
    try:
        with connect(path) as db:
            marks = ",".join("?" * len(names))
            rows = db.execute(
                f"SELECT ri.interface, COALESCE(ri.wall_s, ri.duration_s) AS seconds FROM run_interfaces ri"
                f" JOIN runs r ON r.id = ri.run_id WHERE ri.interface IN ({marks}) AND r.selection IS NULL"
                f" AND r.tags IS NULL AND COALESCE(ri.wall_s, ri.duration_s) IS NOT NULL ORDER BY r.id",
                tuple(names)).fetchall()
    except HistoryError:
        return {}
    return {row["interface"]: float(row["seconds"]) for row in rows}


# -- reading ----------------------------------------------------------------------------------------------------
def recorded(path: Path | None, interface: str) -> History:
    """For impact analysis: each scenario of `interface` as its most recent run that exchanged anything saw it.

    Never raises: a missing or unreadable database is a History with no records and a `problem`.
    """
    from harness.contract.diff_impact import History, Recorded

    if path is None:
        return History("", problem=f"run history switched off ({ENV})")
    history = History(str(path))
    try:
        with connect(path) as db:
            rows = db.execute(
                "SELECT s.nodeid, s.feature, s.name, s.run_id, ri.contract, s.fields FROM scenario_results s"
                " JOIN run_interfaces ri ON ri.run_id = s.run_id AND ri.interface = s.interface"
                " WHERE s.interface = ? AND s.status != 'skipped' AND s.operations != '[]'"
                " ORDER BY s.run_id DESC", (interface,)).fetchall()
    except HistoryError as exc:
        history.problem = str(exc)
        return history
    seen: set[str] = set()
    for row in rows:
        if row["nodeid"] in seen:
            continue
        seen.add(row["nodeid"])
        try:
            fields = json.loads(row["fields"])
        except ValueError:
            continue
        history.records.append(Recorded(
            row["nodeid"], row["feature"], row["name"], int(row["run_id"]), row["contract"],
            {op: {side: set(paths) for side, paths in sides.items()} for op, sides in fields.items()}))
    if not history.records:
        history.problem = f"no run of {interface} recorded in {path}"
    return history


def _display_name(name: str, nodeid: str) -> str:
    """An outline row reported under its template name gets its example id (`[1101]`) so rows stay apart."""
    if "<" in name and nodeid.endswith("]") and "[" in nodeid:
        params = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), nodeid[nodeid.index("["):])
        return f"{name} {params}"
    return name


def query(path: Path, interface: str | None = None, last: int = DEFAULT_LAST) -> dict[str, Any]:
    """The history document `hih history --format json` prints (schema in docs/history.md)."""
    if last < 1:
        raise HistoryError(f"--last must be at least 1, not {last}")
    with connect(path) as db:
        names = [row[0] for row in db.execute("SELECT DISTINCT interface FROM run_interfaces ORDER BY interface")]
        if interface is not None and interface not in names:
            raise HistoryError(f"no run of interface {interface!r} recorded in {path} (recorded: {', '.join(names) or 'none'})")
        total_runs = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        interfaces = {}
        for name in [interface] if interface is not None else names:
            interfaces[name] = _interface_history(db, name, last)
    return {"database": str(path), "last": last, "runs_recorded": total_runs, "interfaces": interfaces}


def _interface_history(db: sqlite3.Connection, interface: str, last: int) -> dict[str, Any]:
    rows = db.execute(
        "SELECT r.id, r.started, r.decision, r.selection, ri.contract, ri.connector, ri.passed, ri.failed, ri.skipped,"
        " ri.connector_kind, ri.connector_value, ri.connector_label, ri.git_commit"
        " FROM runs r JOIN run_interfaces ri ON ri.run_id = r.id WHERE ri.interface = ? ORDER BY r.id DESC LIMIT ?",
        (interface, last)).fetchall()
    runs = []
    previous: str | None = None
    for row in reversed(rows):
        selection = json.loads(row["selection"]) if row["selection"] else None
        gate = "incomplete" if row["decision"] == "incomplete" else \
            "pass" if row["failed"] == 0 and row["passed"] > 0 else "fail"
        identity = ({"kind": row["connector_kind"], "value": row["connector_value"], "label": row["connector_label"],
                     "git_commit": row["git_commit"]} if row["connector_kind"] else None)
        key = _identity_key(row["connector"], identity)
        runs.append({"id": row["id"], "started": row["started"], "decision": row["decision"], "gate": gate,
                     "contract": row["contract"], "connector": row["connector"], "connector_identity": identity,
                     "connector_changed": previous is not None and key != previous, "passed": row["passed"],
                     "failed": row["failed"], "skipped": row["skipped"], "selection": selection})
        previous = key
    column = {run["id"]: index for index, run in enumerate(runs)}
    scenarios: dict[str, dict[str, Any]] = {}
    if runs:
        marks = ",".join("?" * len(runs))
        results = db.execute(
            f"SELECT run_id, nodeid, feature, name, status, duration_s FROM scenario_results"
            f" WHERE interface = ? AND run_id IN ({marks}) ORDER BY run_id", (interface, *column)).fetchall()
        for row in results:
            entry = scenarios.setdefault(row["nodeid"], {"nodeid": row["nodeid"], "results": [None] * len(runs)})
            entry["feature"] = row["feature"]
            entry["name"] = _display_name(row["name"], row["nodeid"])
            entry["results"][column[row["run_id"]]] = row["status"]
    for entry in scenarios.values():
        _judge(entry, runs)
    ordered = sorted(scenarios.values(), key=lambda e: (not e["flaky"], not e["connector_changed"], e["failed"] == 0,
                                                         e["feature"], e["name"], e["nodeid"]))
    return {"runs": runs, "scenarios": ordered, "flaky": sum(1 for e in ordered if e["flaky"]),
            "connector_changed": sum(1 for e in ordered if e["connector_changed"])}


def _identity_key(connector: str, identity: dict[str, Any] | None) -> str:
    """What tells two builds of a connector apart: its identity, else (older records) its name."""
    return f"{identity['kind']}:{identity['value']}" if identity else f"name:{connector}"


def _judge(entry: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    """Flaky: passed and failed on one contract version and one connector identity. Connector changed: not flaky,
    but its outcome differs between connector identities on one contract version."""
    by_setup: dict[tuple[str, str], set[str]] = {}
    names: dict[tuple[str, str], str] = {}
    for run, status in zip(runs, entry["results"], strict=True):
        if status in ("passed", "failed"):
            setup = (run["contract"], _identity_key(run["connector"], run["connector_identity"]))
            by_setup.setdefault(setup, set()).add(status)
            names[setup] = run["connector"]
    flaky_on = [{"contract": c, "connector": names[(c, k)], "identity": k} for (c, k), statuses in by_setup.items()
                if {"passed", "failed"} <= statuses]
    entry["flaky"] = bool(flaky_on)
    entry["flaky_on"] = flaky_on
    outcomes_per_contract: dict[str, set[frozenset[str]]] = {}
    for (contract, _), statuses in by_setup.items():
        outcomes_per_contract.setdefault(contract, set()).add(frozenset(statuses))
    entry["connector_changed"] = not entry["flaky"] and any(len(o) > 1 for o in outcomes_per_contract.values())
    ran = [s for s in entry["results"] if s is not None]
    entry["passed"] = ran.count("passed")
    entry["failed"] = ran.count("failed")
    entry["skipped"] = ran.count("skipped")


_MARK = {"passed": "✓", "failed": "✗", "skipped": "-", None: "·"}
_GATE = {"pass": "✓", "fail": "✗", "incomplete": "?"}


def _identity_text(run: dict[str, Any]) -> str:
    identity = run.get("connector_identity")
    if not identity:
        return str(run["connector"])
    value = str(identity["value"])
    short = value[:12] if identity["kind"] == "files-sha256" else value
    return f"{identity.get('label') or run['connector']} {identity['kind'] if identity['kind'] != 'files-sha256' else 'sha256'}:{short}"


def render_text(document: dict[str, Any]) -> str:
    """The compact grid `hih history` prints: one column per run, newest right."""
    lines = [f"run history {document['database']} ({document['runs_recorded']} runs recorded)"]
    for name, data in document["interfaces"].items():
        runs = data["runs"]
        lines.append("")
        lines.append(f"{name}: last {len(runs)} run(s), newest right")
        for run in runs:
            started = str(run["started"]).replace("T", " ")[:16]
            note = ""
            if run["selection"]:
                since = run["selection"].get("changed_since") or {}
                note = f"  changed since {since.get(name, '?')}: {run['selection'].get('selected', '?')} selected"
            if run.get("connector_changed"):
                note += "  connector changed"
            lines.append(f"  #{run['id']:<5} {started:<16}  {run['contract']:<10} {_identity_text(run):<36} "
                         f"{run['gate']:<4}  {run['passed']} passed, {run['failed']} failed, {run['skipped']} skipped{note}")
        if not runs:
            continue
        width = len(runs)
        lines.append(f"  {''.join(_GATE.get(r['gate'], '?') for r in runs):<{width}}  {'':17}  gate")
        for entry in data["scenarios"]:
            cells = "".join(_MARK.get(s, "?") for s in entry["results"])
            flag = "flaky" if entry["flaky"] else "connector changed" if entry.get("connector_changed") else ""
            lines.append(f"  {cells:<{width}}  {flag:<17}  {entry['feature']} · {entry['name']}")
        counted = [f"{data['flaky']} flaky scenario(s)" if data["flaky"] else "no flaky scenario"]
        if data.get("connector_changed"):
            counted.append(f"{data['connector_changed']} changed with the connector")
        lines.append("  " + "; ".join(counted))
    lines.append("")
    lines.append("✓ passed  ✗ failed  - skipped  · not in that run  ? run incomplete; flaky: passed and failed on the same"
                 " contract version and connector build; connector changed: the outcome changed when the connector did")
    return "\n".join(lines)


def previous_runs(path: Path | None, interfaces: list[str], before: str | None) -> dict[str, dict[str, Any]]:
    """Per interface, the latest run recorded that started before `before` (ISO time) and included it: its id,
    start, contract, connector and `scenarios` (nodeid -> feature, name, status). For the sign-off's "what changed".

    Never raises: no database, an unreadable one or no earlier run gives no entry for that interface.
    """
    if path is None or not path.is_file() or not interfaces:
        return {}
    found: dict[str, dict[str, Any]] = {}
    try:
        with connect(path) as db:
            for name in interfaces:
                row = db.execute(
                    "SELECT r.id, r.started, r.decision, ri.contract, ri.connector FROM runs r"
                    " JOIN run_interfaces ri ON ri.run_id = r.id WHERE ri.interface = ? AND (? IS NULL OR r.started < ?)"
                    " ORDER BY r.started DESC, r.id DESC LIMIT 1", (name, before, before)).fetchone()
                if row is None:
                    continue
                scenarios = {s["nodeid"]: {"feature": s["feature"], "name": s["name"], "status": s["status"]}
                             for s in db.execute("SELECT nodeid, feature, name, status FROM scenario_results"
                                                 " WHERE run_id = ? AND interface = ?", (row["id"], name))}
                found[name] = {"id": row["id"], "started": row["started"], "decision": row["decision"],
                               "contract": row["contract"], "connector": row["connector"], "scenarios": scenarios}
    except HistoryError:
        return {}
    return found
