"""`hih compare`: the selected scenarios run once with each connector, and what changed on the wire between them.

Each side is an ordinary `hih run` of the one interface (the runner, its lanes and reports: `DIR/old/` and
`DIR/new/`, each a complete report directory with its own sign-off pack). Their evidence is then compared
(`harness.compare.wire`), the allow-list applied (`harness.compare.allow`), and the result written to
`DIR/compare.json` and `DIR/report.html` ("线上报文变化 / What changed on the wire"). Exit 0 when nothing differs
beyond the allow-list, 1 when something does, 2 on a usage error or when a run could not be completed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.compare import allow as allowing
from harness.compare.report import render
from harness.compare.wire import ScenarioChanges, compare_messages, sent_messages
from harness.contract.interfaces import interface as described
from harness.contract.loader import ContractStore
from harness.contract.volatile import separator, volatile_fields
from harness.errors import UsageError
from harness.run.options import RunOptions, parse_pairs
from harness.run.results import write_json

SIDES = ("old", "new")
COMPARE_JSON = "compare.json"
REPORT_HTML = "report.html"


@dataclass
class CompareOptions:
    interface: str
    old: str
    """`module:factory` of the connector in production."""
    new: str
    """`module:factory` of the version to release."""
    report_dir: Path = Path("reports/compare")
    allow: Path | None = None
    fmt: str = "text"
    tags: str | None = None
    contracts: dict[str, str] = field(default_factory=dict)
    contracts_dir: Path | None = None
    workers: int | None = None
    signoff_pdf: bool | None = None
    """Each side's signoff.pdf (`hih run --no-signoff-pdf`: False); None: hih.toml `[report]`, else made."""


def connector_of(value: str, flag: str, interface: str) -> str:
    """`NAME=module:factory` of --connector / --against, checked to name the compared interface."""
    pairs = parse_pairs([value], flag)
    name, spec = next(iter(pairs.items()))
    if name != interface:
        raise UsageError(f"{flag} {value}: names {name!r}; this comparison is of {interface} ({flag} {interface}=...)")
    if ":" not in spec:
        raise UsageError(f"{flag} {value}: the connector is module:factory")
    return spec


def compare(options: CompareOptions, console: Console, out: Console) -> int:
    """Run both sides, compare, write the report; 0 the same (beyond the allow-list), 1 different, 2 incomplete."""
    if options.fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {options.fmt!r}")
    described(options.interface)
    allowances = allowing.load(options.allow) if options.allow is not None else []
    from harness.run.runner import run

    outcomes: dict[str, int] = {}
    for side, spec in zip(SIDES, (options.old, options.new), strict=True):
        console.print(f"hih compare: {side.upper()} = {spec}", markup=False, highlight=False)
        run_options = RunOptions(interfaces=[options.interface], connectors={options.interface: spec},
                                 contracts=options.contracts, report_dir=options.report_dir / side, tags=options.tags,
                                 contracts_dir=options.contracts_dir, workers=options.workers,
                                 release=f"hih compare {side}", signoff_pdf=options.signoff_pdf)
        outcomes[side] = run(run_options, console)
        if outcomes[side] not in (0, 1):
            raise UsageError(f"the {side.upper()} run ({spec}) did not complete (exit {outcomes[side]}); its report: "
                             f"{options.report_dir / side}")
    document = build(options, allowances)
    write_json(options.report_dir / COMPARE_JSON, document)
    (options.report_dir / REPORT_HTML).write_text(render(document), encoding="utf-8")
    if options.fmt == "json":
        out.print_json(json.dumps(document, ensure_ascii=False))
    else:
        print_text(out, document, options.report_dir)
    return 0 if document["decision"] == "same" else 1


def _read(folder: Path, name: str) -> Any:
    try:
        return json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{folder / name}: cannot read the run's {name} ({exc})") from None


def build(options: CompareOptions, allowances: list[allowing.Allowance]) -> dict[str, Any]:
    """The comparison of the two report directories under `options.report_dir` (compare.json's document)."""
    summaries = {side: _read(options.report_dir / side, "summary.json") for side in SIDES}
    evidence = {side: _read(options.report_dir / side, "evidence.json") for side in SIDES}
    version = summaries["new"]["interfaces"][options.interface]["contract"]
    contract = ContractStore(options.contracts_dir).load(options.interface, version)
    rows = {side: {s["nodeid"]: s for s in summaries[side]["scenarios"] if s["interface"] == options.interface}
            for side in SIDES}
    scenarios: list[ScenarioChanges] = []
    for key in list(dict.fromkeys([*rows["old"], *rows["new"]])):
        old, new = rows["old"].get(key), rows["new"].get(key)
        shown = new or old
        assert shown is not None
        changes = ScenarioChanges(key, shown["feature"], shown["name"], old["status"] if old else None,
                                  new["status"] if new else None, (new or {}).get("message", ""))
        if old and new:
            changes.messages = compare_messages(sent_messages(evidence["old"].get(key, []), contract),
                                                sent_messages(evidence["new"].get(key, []), contract))
        scenarios.append(changes)
    allowing.apply(allowances, scenarios, separator(contract))
    differing = [s for s in scenarios if s.messages or s.verdict_changed]
    open_ = [s for s in differing if s.differs]
    sides = {side: {"connector": spec, "report": f"{side}/report.html", "decision": summaries[side]["decision"],
                    "totals": summaries[side]["totals"]}
             for side, spec in zip(SIDES, (options.old, options.new), strict=True)}
    return {
        "interface": options.interface, "contract": version, "compared": datetime.now().astimezone().isoformat(
            timespec="seconds"),
        **sides,
        "scenarios_compared": len(scenarios),
        "decision": "differs" if open_ else "same",
        "differences": sum(len(s.open) + (s.verdict_changed and not s.verdict_allowed_by) for s in open_),
        "allowed": sum(len(s.messages) - len(s.open) + bool(s.verdict_allowed_by) for s in differing),
        "volatile": {op: list(volatile_fields(contract, op)) for op in ["*", *contract.operations]
                     if op == "*" or contract.volatile.get(op)},
        "allow_unused": [{"line": a.line, "reason": a.reason} for a in allowances if not a.used],
        "scenarios": [s.to_dict() for s in differing],
    }


def print_text(out: Console, document: dict[str, Any], folder: Path) -> None:
    say = lambda text: out.print(text, markup=False, highlight=False)  # noqa: E731
    say(f"hih compare {document['interface']} (contract {document['contract']}): OLD {document['old']['connector']} · "
        f"NEW {document['new']['connector']}")
    for side in SIDES:
        totals = document[side]["totals"]
        say(f"  {side.upper()}: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped "
            f"({folder / document[side]['report']})")
    say(f"线上报文变化 / What changed on the wire: {document['differences']} difference(s) in "
        f"{document['scenarios_compared']} scenarios, {document['allowed']} allowed")
    for scenario in document["scenarios"]:
        title = f"  {scenario['feature']} › {scenario['name']}"
        verdict = scenario["verdict"]
        if verdict["changed"]:
            mark = " (allowed)" if verdict.get("allowed_because") else ""
            say(f"{title}: verdict {verdict['old']} → {verdict['new']}{mark}")
        for message in scenario["messages"]:
            mark = " (allowed)" if message["allowed"] else ""
            where = f"{title} [{message['transaction']} #{message['message']}]"
            if message["kind"] != "changed":
                say(f"{where}: sent {'by OLD only' if message['kind'] == 'only_old' else 'by NEW only'}{mark}")
            for change in message["fields"]:
                say(f"{where}: {change['field']}: {_quote(change['old'])} → {_quote(change['new'])}{mark}")
    for unused in document["allow_unused"]:
        say(f"note: allow-list entry at line {unused['line']} allowed nothing ({unused['reason']})")
    say(f"decision: {document['decision']} (report {folder / REPORT_HTML}, {folder / COMPARE_JSON})")


def _quote(value: str | None) -> str:
    return "(absent)" if value is None else json.dumps(value, ensure_ascii=False)
