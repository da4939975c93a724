"""`hih report merge DIR... --into DIR`: one report directory, with one gate decision, from CI shards' directories.

Each shard directory must be a report `hih run` wrote and that has not changed since (its manifest.json is
checked, as `hih report verify` does); no interface may appear in two shards. The merged directory holds the same
files a single run writes (summary.json, evidence.json, junit.xml, cucumber.json, pytest.log, report.html,
manifest.json; the sign-off pack too, as every writer in `write_reports` runs), so a merged report reads and
verifies like a run's. The merged sign-off pack has its signoff.pdf whether or not the shards wrote theirs (shard
jobs run `hih run --no-signoff-pdf`: their packs are not the one signed); `--no-signoff-pdf` leaves it out here
too. hih.toml's `[report] signoff_pdf` is the shards' setting and does not apply to the merge. The decision: `incomplete` when a shard is incomplete or missing, else `fail` when any
shard failed, else `pass`. Shards that `hih run` already recorded in the run history are not recorded again;
otherwise the merged run is recorded (the CI templates keep the history in the merging job only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.errors import UsageError
from harness.report.manifest import MANIFEST, differences
from harness.report.writer import write_reports
from harness.run.combine import combine_cucumber, combine_junit
from harness.run.history import already_recorded, history_path, record_run
from harness.run.progress import print_summary
from harness.run.results import write_json
from harness.run.staging import Staging

EXIT = {"pass": 0, "fail": 1}


@dataclass
class Shard:
    folder: Path
    summary: dict[str, Any] | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    """Why this shard has no report (then it makes the merge incomplete)."""
    manifest_sha256: str | None = None


def read_shard(folder: Path) -> Shard:
    """A shard's summary and evidence, checked against its manifest; a missing report is a Shard with a problem."""
    if not (folder / "summary.json").is_file():
        return Shard(folder, problem=f"{folder}: no summary.json (the shard did not write a report)")
    if not (folder / MANIFEST).is_file():
        raise UsageError(f"{folder}: no {MANIFEST}: not a finished hih report directory")
    changed, _, digest = differences(folder)
    if changed:
        raise UsageError(f"{folder}: changed since hih wrote it ({'; '.join(changed[:3])}); merge only unchanged reports")
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        evidence_file = folder / "evidence.json"
        evidence = json.loads(evidence_file.read_text(encoding="utf-8")) if evidence_file.is_file() else {}
    except (OSError, ValueError) as exc:
        raise UsageError(f"{folder}: unreadable report ({type(exc).__name__}: {exc})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("interfaces"), dict):
        raise UsageError(f"{folder}/summary.json: not a hih summary")
    return Shard(folder, summary, evidence if isinstance(evidence, dict) else {}, manifest_sha256=digest)


def merged_summary(shards: list[Shard]) -> dict[str, Any]:
    """One summary document over the shards (same schema as a run's, plus `shards`)."""
    done = [s for s in shards if s.summary is not None]
    owner: dict[str, Path] = {}
    for shard in done:
        assert shard.summary is not None
        for name in shard.summary["interfaces"]:
            if name in owner:
                raise UsageError(f"interface {name!r} is in two shards: {owner[name]} and {shard.folder}")
            owner[name] = shard.folder
    summaries = [s.summary for s in done if s.summary is not None]
    decisions = [str(s.get("decision")) for s in summaries]
    missing = [s.problem for s in shards if s.problem]
    reasons = [f"{s.folder}: {(s.summary.get('incomplete') or {}).get('reason', 'incomplete')}"
               for s in done if s.summary is not None and s.summary.get("decision") == "incomplete"]
    decision = "incomplete" if missing or reasons or not summaries else "fail" if "fail" in decisions else "pass"
    scenarios = sorted((sc for s in summaries for sc in s.get("scenarios") or []),
                       key=lambda sc: (sc.get("interface", ""), sc.get("feature", ""), sc.get("nodeid", "")))
    totals = {k: sum(int((s.get("totals") or {}).get(k, 0)) for s in summaries) for k in ("passed", "failed", "skipped")}
    started = min((str(s["started"]) for s in summaries if s.get("started")), default=None)
    finished = max((str(s["finished"]) for s in summaries if s.get("finished")), default=None)
    not_run = [n for s in summaries for n in s.get("not_run") or []]
    document: dict[str, Any] = {
        "decision": decision, "started": started, "finished": finished,
        "duration_s": _seconds_between(started, finished),
        "as_of": _shared(summaries, "as_of"), "workers": None,
        "scenario_timeout_s": _shared(summaries, "scenario_timeout_s"), "timeout_s": _shared(summaries, "timeout_s"),
        "contracts_dir": _shared(summaries, "contracts_dir"), "tags": _shared(summaries, "tags"),
        "totals": totals,
    }
    if decision == "incomplete":
        document["incomplete"] = {"reason": "; ".join(missing + reasons) or "no shard report", "not_run": len(not_run)}
    document["not_run"] = not_run
    damaged = [s["events"] for s in summaries if s.get("events")]
    if damaged:
        document["events"] = {"damaged": [d for e in damaged for d in e.get("damaged", [])][:20],
                              "damaged_count": sum(int(e.get("damaged_count", 0)) for e in damaged),
                              "decided_from": "; ".join(dict.fromkeys(str(e.get("decided_from")) for e in damaged))}
    document["interfaces"] = {name: row for s in summaries for name, row in s["interfaces"].items()}
    document["scenarios"] = scenarios
    document["collect_errors"] = [e for s in summaries for e in s.get("collect_errors") or []]
    document["shards"] = [{"folder": str(s.folder), "decision": s.summary.get("decision") if s.summary else None,
                           "interfaces": list(s.summary["interfaces"]) if s.summary else [],
                           "started": s.summary.get("started") if s.summary else None,
                           "workers": s.summary.get("workers") if s.summary else None,
                           "manifest_sha256": s.manifest_sha256, "problem": s.problem,
                           **({"selection": s.summary["selection"]} if s.summary and s.summary.get("selection") else {})}
                          for s in shards]
    return document


def _shared(summaries: list[dict[str, Any]], key: str) -> Any:
    """The shards' common value of `key`; None when they differ."""
    values = list(dict.fromkeys(json.dumps(s.get(key)) for s in summaries))
    return json.loads(values[0]) if len(values) == 1 else None


def _seconds_between(started: str | None, finished: str | None) -> float | None:
    if not started or not finished:
        return None
    try:
        return round((datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds(), 3)
    except ValueError:
        return None


def merge_logs(shards: list[Shard], target: Path) -> None:
    with target.open("w", encoding="utf-8") as out:
        for shard in shards:
            out.write(f"==== {shard.folder}/pytest.log ====\n")
            path = shard.folder / "pytest.log"
            if shard.problem:
                out.write(f"{shard.problem}\n")
            elif path.is_file():
                out.write(path.read_text(encoding="utf-8", errors="replace").rstrip("\n") + "\n")


def merge(folders: list[Path], into: Path, console: Console, signoff_pdf: bool = True) -> int:
    """Write the merged report into `into` (atomically) and print its summary; the exit code is the gate's.
    `signoff_pdf`: the merged sign-off pack has signoff.pdf (whatever the shards did)."""
    if not folders:
        raise UsageError("hih report merge needs at least one shard directory")
    resolved = {f.resolve() for f in folders}
    if into.resolve() in resolved:
        raise UsageError(f"--into {into} is one of the shards; merge into a new directory")
    shards = [read_shard(folder) for folder in folders]
    document = merged_summary(shards)
    evidence = {k: v for s in shards for k, v in s.evidence.items()}
    staging = Staging(into, flag="--into")
    try:
        work = staging.path
        done = [s.folder for s in shards if s.summary is not None]
        combine_junit([folder / "junit.xml" for folder in done], work / "junit.xml")
        combine_cucumber([folder / "cucumber.json" for folder in done], work / "cucumber.json")
        merge_logs(shards, work / "pytest.log")
        write_json(work / "summary.json", document)
        write_json(work / "evidence.json", evidence)
        write_reports(work, document, evidence, signoff_pdf=signoff_pdf)
        staging.commit()
    except BaseException:
        staging.discard()
        raise
    database = history_path(into)
    if database is not None and not any(already_recorded(database, s.summary) for s in shards if s.summary):
        record_run(document, evidence, into)
    for problem in (s.problem for s in shards if s.problem):
        console.print(f"warning: {problem}", markup=False, highlight=False)
    print_summary(console, document, into)
    return EXIT.get(str(document["decision"]), 2)
