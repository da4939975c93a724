"""Turn the run's event stream into per-scenario results, the gate decision and summary.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.bindings import connector_label
from harness.properties import CONNECTOR_ERROR, KEY_PROPERTY
from harness.run.evidence_json import EvidenceJson
from harness.run.options import RunPlan

STATUS_ORDER = {"failed": 3, "skipped": 1, "passed": 2}


@dataclass
class ScenarioResult:
    nodeid: str
    interface: str
    feature: str
    name: str
    status: str
    duration_s: float
    message: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    key: str = ""
    """The scenario's key (harness.plugin_masking.KEY_PROPERTY); "" when not known."""


@dataclass
class Outcome:
    """Everything the runner learnt from pytest."""

    expected: int = 0
    results: dict[str, ScenarioResult] = field(default_factory=dict)
    collect_errors: list[str] = field(default_factory=list)
    exitstatus: int | None = None
    nodeids: list[str] = field(default_factory=list)
    """The key of every scenario collected to run, in collection order (harness.plugin_masking.KEY_PROPERTY)."""
    shown: dict[str, str] = field(default_factory=dict)
    """Key -> the scenario's node id as its reports show it (masked)."""
    damaged: list[str] = field(default_factory=list)
    """Events that could not be read (see harness.run.events); the decision then comes from junit.xml."""
    connector_errors: list[str] = field(default_factory=list)
    """Connector factories that raised: a configuration error (exit 2), not a verdict."""
    incomplete: str | None = None
    """Why the run stopped before every scenario ran (cancelled, out of time, pytest stopped); None when it did not."""
    decided_from: str = "events"
    finished: int = 0
    """How many pytest processes said they finished (one per lane and segment when all went well)."""
    walls: dict[str, float] = field(default_factory=dict)
    """Interface -> seconds its scenarios kept their pytest process busy (set-up, steps, reports; from the events)."""
    evidence_json: EvidenceJson = field(default_factory=EvidenceJson)
    """evidence.json's parts, encoded as the results arrive (harness.run.child)."""

    def absorb(self, event: dict[str, Any]) -> ScenarioResult | None:
        """Take one event; a malformed one is recorded as damaged, never raised."""
        try:
            return self._absorb(event)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.damaged.append(f"event {str(event.get('event'))[:40]!r}: {type(exc).__name__}: {exc}"[:300])
            return None

    def _absorb(self, event: dict[str, Any]) -> ScenarioResult | None:
        kind = event.get("event")
        if kind == "collected":
            self.expected = max(self.expected, int(event["count"]))
            keys, shown = event.get("keys"), event.get("nodeids")
            if isinstance(keys, list) and isinstance(shown, list):  # one report per process (lane or xdist worker)
                known = set(self.nodeids)
                for key, nodeid in zip(keys, shown, strict=False):
                    if str(key) not in known:
                        known.add(str(key))
                        self.nodeids.append(str(key))
                        self.shown[str(key)] = str(nodeid)
        elif kind == "collect_error":
            self.collect_errors.append(f"{event['nodeid']}: {event['message']}")
        elif kind == "finished":
            self.exitstatus = int(event["exitstatus"])
            self.finished += 1
        elif kind == "result":
            props = event.get("props", {})
            nodeid = event["nodeid"]
            new = ScenarioResult(
                nodeid=nodeid, interface=props.get("hih_interface") or "", feature=props.get("hih_feature") or "",
                name=props.get("hih_scenario") or nodeid.rsplit("::", 1)[-1], status=event["status"],
                duration_s=float(event.get("duration_s", 0.0)), message=event.get("message", ""),
                steps=json.loads(props["hih_steps"]) if props.get("hih_steps") else [], evidence=event.get("evidence", []),
                key=str(props.get(KEY_PROPERTY) or self.key_of(nodeid)),
            )
            if props.get(CONNECTOR_ERROR) and props[CONNECTOR_ERROR] not in self.connector_errors:
                self.connector_errors.append(str(props[CONNECTOR_ERROR]))
            old = self.results.get(nodeid)
            if old is not None:  # a teardown failure after a passed call: the worse status wins
                if STATUS_ORDER[new.status] <= STATUS_ORDER[old.status]:
                    return old  # the scenario's own failure is the story; a later teardown failure does not replace it
                new.steps = new.steps or old.steps
                new.evidence = new.evidence or old.evidence
                new.duration_s += old.duration_s
            self.results[nodeid] = new
            return new
        return None

    def counts(self, interface: str | None = None) -> dict[str, int]:
        rows = [r for r in self.results.values() if interface is None or r.interface == interface]
        return {s: sum(1 for r in rows if r.status == s) for s in ("passed", "failed", "skipped")}

    def key_of(self, nodeid: str) -> str:
        """The key of a scenario known by its shown node id (a result rebuilt from junit.xml or a deadline note)."""
        return next((k for k, shown in self.shown.items() if shown == nodeid), nodeid)

    @property
    def done(self) -> set[str]:
        """Keys of the scenarios that have a result."""
        return {r.key for r in self.results.values()}

    @property
    def not_run(self) -> list[str]:
        """Collected scenarios without a result (the run stopped before them), as their reports would name them."""
        done = self.done
        return [self.shown.get(k, k) for k in self.nodeids if k not in done]

    @property
    def decision(self) -> str:
        """`pass`, `fail`, or `incomplete` when the run stopped early: never `pass` for a run that did not finish."""
        c = self.counts()
        if self.incomplete is not None:
            return "incomplete"
        return "pass" if c["failed"] == 0 and c["passed"] > 0 and not self.collect_errors else "fail"


def _iso(moment: datetime) -> str:
    return moment.astimezone().isoformat(timespec="seconds")


def summary(plan: RunPlan, outcome: Outcome, started: datetime, finished: datetime) -> dict[str, Any]:
    """The summary.json document (schema in ARCHITECTURE.md, plus a few fields reviewers ask for)."""
    interfaces = {}
    for name, version in plan.versions.items():
        rows = [r for r in outcome.results.values() if r.interface == name]
        identity = plan.identities.get(name)
        interfaces[name] = {
            "contract": version, "contract_effective": plan.effective.get(name) or None,
            "connector": identity.name if identity else connector_label(name, plan.connectors[name]),
            "connector_identity": identity.to_dict() if identity else None, **outcome.counts(name),
            "duration_s": round(sum(r.duration_s for r in rows), 3),
            "wall_s": round(outcome.walls.get(name, 0.0), 3),
        }
    extra: dict[str, Any] = {}
    if outcome.incomplete is not None:
        extra["incomplete"] = {"reason": outcome.incomplete, "not_run": len(outcome.not_run)}
    if outcome.nodeids:
        extra["not_run"] = outcome.not_run
    if outcome.damaged:
        extra["events"] = {"damaged": outcome.damaged[:20], "damaged_count": len(outcome.damaged),
                           "decided_from": outcome.decided_from}
    return {
        "decision": outcome.decision,
        "started": _iso(started),
        "finished": _iso(finished),
        "duration_s": round((finished - started).total_seconds(), 3),
        "as_of": plan.as_of.isoformat(),
        "workers": plan.workers,
        "scenario_timeout_s": plan.scenario_timeout_s,
        "timeout_s": plan.timeout_s,
        "contracts_dir": str(plan.options.contracts_dir) if plan.options.contracts_dir else None,
        "tags": plan.options.tags,
        "totals": outcome.counts(),
        **extra,
        "interfaces": interfaces,
        "scenarios": [
            {"interface": r.interface, "feature": r.feature, "name": r.name, "status": r.status,
             "duration_s": round(r.duration_s, 4), "nodeid": r.nodeid, **({"message": r.message} if r.message else {}),
             "steps": r.steps}
            for r in sorted(outcome.results.values(), key=lambda r: (r.interface, r.feature, r.nodeid))
        ],
        "collect_errors": outcome.collect_errors,
    }


def write_json(path: Path, document: Any) -> None:
    """`document` as `json.dumps(..., ensure_ascii=False, indent=2)` writes it (by orjson where it writes the same
    text), atomically."""
    from harness.report.json_text import indented

    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(indented(document) + "\n", encoding="utf-8")
    tmp.replace(path)
