"""What changed since the last run the history recorded, per interface: newly failing and newly passing scenarios,
scenarios added and removed, the contract version and the connector.

Scenarios are matched by node id (masked the same way in every run), so an outline row stays itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LIST_LIMIT = 8
"""Scenarios listed per kind of change; the rest are counted (report.html and `hih history` have them all)."""


@dataclass
class ScenarioList:
    """Scenario names of one kind of change: the first few, and how many in all."""

    names: list[str] = field(default_factory=list)
    total: int = 0

    def add(self, name: str) -> None:
        self.total += 1
        if len(self.names) < LIST_LIMIT:
            self.names.append(name)

    @property
    def more(self) -> int:
        return self.total - len(self.names)


@dataclass
class InterfaceChanges:
    interface: str
    baseline_run: int | None
    """The run compared with (history id), or None when the history holds no earlier run of the interface."""
    baseline_started: str = ""
    contract: tuple[str, str] | None = None
    """(before, now) when the contract version changed."""
    connector: tuple[str, str] | None = None
    newly_failing: ScenarioList = field(default_factory=ScenarioList)
    newly_passing: ScenarioList = field(default_factory=ScenarioList)
    added: ScenarioList = field(default_factory=ScenarioList)
    removed: ScenarioList = field(default_factory=ScenarioList)

    @property
    def nothing(self) -> bool:
        return self.baseline_run is not None and not (
            self.contract or self.connector or self.newly_failing.total or self.newly_passing.total
            or self.added.total or self.removed.total)


def _label(feature: str, name: str) -> str:
    return f"{feature} · {name}" if feature else name


def compare(summary: dict[str, Any], previous: dict[str, dict[str, Any]]) -> list[InterfaceChanges]:
    """Changes per interface of `summary` against `previous` (history.previous_runs' answer)."""
    out = []
    for name, row in (summary.get("interfaces") or {}).items():
        before = previous.get(name)
        if before is None:
            out.append(InterfaceChanges(name, None))
            continue
        changes = InterfaceChanges(name, int(before["id"]), str(before.get("started") or ""))
        if str(before.get("contract")) != str(row.get("contract")):
            changes.contract = (str(before.get("contract")), str(row.get("contract")))
        if str(before.get("connector")) != str(row.get("connector")):
            changes.connector = (str(before.get("connector")), str(row.get("connector")))
        old: dict[str, dict[str, Any]] = before.get("scenarios") or {}
        now = [s for s in summary.get("scenarios") or [] if s.get("interface") == name]
        seen = set()
        for scenario in now:
            nodeid = str(scenario.get("nodeid", ""))
            seen.add(nodeid)
            label = _label(str(scenario.get("feature", "")), str(scenario.get("name", "")))
            status, earlier = scenario.get("status"), old.get(nodeid)
            if earlier is None:
                changes.added.add(label)
            elif status == "failed" and earlier.get("status") != "failed":
                changes.newly_failing.add(label)
            elif status == "passed" and earlier.get("status") == "failed":
                changes.newly_passing.add(label)
        for nodeid, earlier in old.items():
            if nodeid not in seen:
                changes.removed.add(_label(str(earlier.get("feature", "")), str(earlier.get("name", ""))))
        out.append(changes)
    return out
