"""Which feature scenarios exercise the parts of a contract that changed.

Two sources, both used when available, each hit saying which one found it:

- **history**: what earlier runs recorded per scenario (the operations its journal showed and the field pointers
  each request and response carried), joined to the feature files by feature and scenario name. It knows what
  really crossed the wire, including what a connector sends without the step text saying so.
- **static**: a scan of `features/<interface>/*.feature`: operation codes and field names in the step text,
  tables and examples, and the operations the steps are known to perform (a per-interface vocabulary, the
  interface descriptor's `vocabulary`). It also covers scenarios the history lacks: new ones, ones skipped on the contract
  version that was run, and ones whose messages never reached the partner (a connector that refuses to send).

A change concerns an operation as a whole (a newly required request field: every request of it) or a field
(messages carrying it; step text naming it). See `Target`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.contract.diff import Change, Classification, ContractDiff, Target
from harness.contract.interfaces import INTERFACES, StepVocabulary


# -- the step vocabulary: each interface's descriptor carries its own (harness.contract.interfaces) ---------------
def vocabulary_of(interface: str) -> StepVocabulary:
    """The operations `interface`'s step texts are known to perform (none for an interface without a descriptor)."""
    described = INTERFACES.get(interface)
    return described.vocabulary if described is not None else StepVocabulary()


# -- the static scan ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpecScenario:
    """One runnable scenario of a feature file (an outline gives one per example row)."""

    file: Path
    feature: str
    template: str
    name: str
    example: tuple[tuple[str, str], ...] | None
    text: str
    operations: frozenset[str]

    def selector(self) -> dict[str, Any]:
        """How the pytest child recognises this scenario (see harness.run.selection)."""
        return {"file": str(self.file), "scenario": self.template,
                "example": dict(self.example) if self.example is not None else None}


def _step_lines(step: Any) -> list[str]:
    lines = [str(step.name)]
    if step.datatable is not None:
        lines.extend(" | ".join(cell.value for cell in row.cells) for row in step.datatable.rows)
    if step.docstring:
        lines.append(str(step.docstring))
    return lines


def scan_features(folder: Path, interface: str, operations: Iterable[str]) -> list[SpecScenario]:
    """Every scenario of `folder/**/*.feature`, with its text and the operations it is seen to exercise."""
    from pytest_bdd.parser import FeatureParser

    known = set(operations)
    vocabulary = vocabulary_of(interface)
    codes = re.compile(r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(known, key=len, reverse=True)) + r")(?![\w.])"
                       ) if known else None
    found: list[SpecScenario] = []
    for path in sorted(folder.rglob("*.feature")):
        feature = FeatureParser(str(path.parent), path.name).parse()
        for template in feature.scenarios.values():
            contexts: list[dict[str, str] | None] = [c for ex in template.examples for c in ex.as_contexts()] or [None]
            for context in contexts:
                rendered = template.render(context or {})
                step_lines = [line for step in rendered.steps for line in _step_lines(step)]
                text = "\n".join([rendered.name, *step_lines])
                ops: set[str] = set()
                for line in step_lines:
                    ops |= vocabulary.operations(line) & known if known else vocabulary.operations(line)
                if codes is not None:
                    ops |= set(codes.findall(text))
                if ops - set(vocabulary.implied):
                    ops |= set(vocabulary.implied) & known if known else set(vocabulary.implied)
                found.append(SpecScenario(Path(os.path.realpath(path)), feature.name, template.name, rendered.name,
                                          tuple(context.items()) if context is not None else None, text, frozenset(ops)))
    return found


def mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text) is not None


# -- what earlier runs recorded -----------------------------------------------------------------------------------
@dataclass
class Recorded:
    """What one scenario exchanged in a recorded run: operation -> side -> field pointers carried."""

    nodeid: str
    feature: str
    name: str
    run_id: int
    contract: str
    exchanges: dict[str, dict[str, set[str]]]


@dataclass
class History:
    """The recorded scenarios of one interface (the most recent run of each that exchanged anything)."""

    source: str
    records: list[Recorded] = field(default_factory=list)
    problem: str = ""
    """Why there is nothing to use (no database, no run of the interface, unreadable), if so."""

    def describe(self) -> dict[str, Any]:
        runs = sorted({r.run_id for r in self.records})
        return {"database": self.source, "runs": runs, "scenarios": len(self.records),
                "contracts": sorted({r.contract for r in self.records}), "problem": self.problem or None}


# -- matching ---------------------------------------------------------------------------------------------------
def _static_reason(target: Target, scenario: SpecScenario) -> str | None:
    if target.operation is not None and target.operation not in scenario.operations:
        return None
    if not scenario.operations:
        return None
    what = target.operation or "messages"
    if target.match == "operation" or not target.path:
        return f"steps perform {what}"
    name = target.field_name
    if name and mentions(scenario.text, name):
        return f"steps perform {what} and name {name}"
    return None


def _history_reason(target: Target, record: Recorded) -> str | None:
    operations = [target.operation] if target.operation is not None else sorted(record.exchanges)
    for op in operations:
        seen = record.exchanges.get(op)
        if seen is None:
            continue
        for side in [target.side] if target.side else ["request", "response"]:
            paths = seen.get(side)
            if paths is None:
                continue
            if target.match == "operation" or not target.path:
                return f"journal shows {op} {side}s"
            if target.path in paths:
                return f"journal: {op} {side} carried {target.path}"
    return None


@dataclass
class Hit:
    """A scenario that exercises a change, with what showed it."""

    scenario: SpecScenario
    via: list[str]
    reasons: list[str]
    nodeids: list[str]

    def to_dict(self) -> dict[str, Any]:
        sc = self.scenario
        return {"feature": sc.feature, "scenario": sc.name, "file": sc.file.name,
                "example": dict(sc.example) if sc.example is not None else None,
                "nodeid": self.nodeids[0] if len(self.nodeids) == 1 else None,
                "via": self.via, "reasons": self.reasons}


@dataclass
class Impact:
    """For each change of a diff (same order), the scenarios that exercise it; info changes have none."""

    diff: ContractDiff
    scenarios: list[SpecScenario]
    hits: list[list[Hit]]
    history: History | None
    features: Path

    def method(self) -> dict[str, Any]:
        used = self.history is not None and bool(self.history.records)
        return {
            "methods": (["history"] if used else []) + ["static"],
            "history": self.history.describe() if self.history is not None else None,
            "static": {"features": _shown(self.features), "scenarios": len(self.scenarios)},
        }

    def impacted(self) -> list[tuple[SpecScenario, list[Change], list[str]]]:
        """Every scenario hit by a breaking or compatible change: (scenario, its changes, how it was found)."""
        order = {sc: i for i, sc in enumerate(self.scenarios)}
        found: dict[SpecScenario, tuple[list[Change], list[str]]] = {}
        for change, hits in zip(self.diff.changes, self.hits, strict=True):
            for hit in hits:
                changes, via = found.setdefault(hit.scenario, ([], []))
                changes.append(change)
                via.extend(v for v in hit.via if v not in via)
        return [(sc, found[sc][0], sorted(found[sc][1], key=["history", "static"].index))
                for sc in sorted(found, key=order.__getitem__)]


def _shown(path: Path) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def impact(diff: ContractDiff, features: Path, operations: Iterable[str], history: History | None = None) -> Impact:
    """The scenarios under `features` (one interface's folder) that exercise each change of `diff`."""
    scenarios = scan_features(features, diff.interface, operations) if features.is_dir() else []
    joined: dict[tuple[str, str], list[Recorded]] = {}
    for record in history.records if history is not None else []:
        joined.setdefault((record.feature, record.name), []).append(record)
    all_hits: list[list[Hit]] = []
    for change in diff.changes:
        hits: list[Hit] = []
        if change.classification is not Classification.INFO:
            for scenario in scenarios:
                hit = _hit(change, scenario, joined.get((scenario.feature, scenario.name), []))
                if hit is not None:
                    hits.append(hit)
        all_hits.append(hits)
    return Impact(diff, scenarios, all_hits, history, features)


def _hit(change: Change, scenario: SpecScenario, records: list[Recorded]) -> Hit | None:
    via: list[str] = []
    reasons: list[str] = []
    for target in change.targets:
        for record in records:
            reason = _history_reason(target, record)
            if reason is not None:
                if "history" not in via:
                    via.append("history")
                reasons.append(f"{reason} (run {record.run_id})")
        reason = _static_reason(target, scenario)
        if reason is not None:
            if "static" not in via:
                via.append("static")
            reasons.append(reason)
    if not via:
        return None
    return Hit(scenario, sorted(via, key=["history", "static"].index), list(dict.fromkeys(reasons)),
               list(dict.fromkeys(r.nodeid for r in records)))
