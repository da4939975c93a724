"""`hih compare --allow FILE`: the differences an upgrade is meant to make, each with the reason it is accepted.

    # allow.yaml: a list of entries; every entry says why
    - transaction: "2207"                 # the transaction (a glob: "22*")
      field: /input/data/acct_used_flag   # a field pattern, as in volatile: (omitted: any message of it, sent or not)
      scenario: "*结算*"                   # optional: a glob on the scenario's name (default: every scenario)
      reason: 2025 年起按新政策上报个人账户使用标志
    - verdict: true                       # a verdict that changes (passed -> failed, ...)
      scenario: "余额不足*"
      reason: 新版在余额不足时先提示收费员，旧版直接拒绝

A changed message is allowed when one entry allows every field that changed in it; a message sent by one run only
when an entry names its transaction without a field.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from harness.compare.wire import MessageChange, ScenarioChanges
from harness.contract.codec import matches
from harness.errors import UsageError

KEYS = {"transaction", "field", "scenario", "verdict", "reason"}
MAX_BYTES = 1 << 20


@dataclass
class Allowance:
    reason: str
    transaction: str | None = None
    field: str | None = None
    scenario: str | None = None
    verdict: bool = False
    line: int = 0
    used: int = 0

    def covers_scenario(self, name: str) -> bool:
        return self.scenario is None or fnmatch.fnmatchcase(name, self.scenario)

    def covers(self, change: MessageChange, name: str, separator: str) -> bool:
        if self.verdict or self.transaction is None or not self.covers_scenario(name):
            return False
        if not fnmatch.fnmatchcase(change.transaction, self.transaction):
            return False
        if self.field is None:
            return True
        field = self.field
        return change.kind == "changed" and all(matches(field, f.path, separator) for f in change.fields)


def load(path: Path) -> list[Allowance]:
    """The entries of an allow-list file; a UsageError naming the file and line for anything wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--allow {path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_BYTES:
        raise UsageError(f"--allow {path}: over {MAX_BYTES} bytes")
    try:
        data: Any = YAML(typ="rt").load(raw.decode("utf-8"))
    except (YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"--allow {path}: not YAML ({str(exc).splitlines()[0]})") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise UsageError(f"--allow {path}: a list of entries (- transaction: ..., reason: ...) expected")
    entries = []
    for index, item in enumerate(data):
        line = (data.lc.item(index)[0] + 1) if hasattr(data, "lc") else 0
        where = f"{path}:{line}"
        if not isinstance(item, dict):
            raise UsageError(f"{where}: an entry is a mapping (transaction, field, scenario, verdict, reason)")
        unknown = sorted(set(map(str, item)) - KEYS)
        if unknown:
            raise UsageError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(KEYS))})")
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise UsageError(f"{where}: every entry says why in `reason`")
        verdict = item.get("verdict", False)
        if not isinstance(verdict, bool):
            raise UsageError(f"{where}: verdict is true or false")
        texts = {k: item.get(k) for k in ("transaction", "field", "scenario")}
        for key, value in texts.items():
            if value is not None and not isinstance(value, str | int):
                raise UsageError(f"{where}: {key} is a text")
        transaction = str(texts["transaction"]) if texts["transaction"] is not None else None
        if verdict == (transaction is not None):
            raise UsageError(f"{where}: an entry allows either a transaction's messages (transaction:) or a changed "
                             "verdict (verdict: true)")
        if texts["field"] is not None and transaction is None:
            raise UsageError(f"{where}: field needs the transaction it belongs to")
        entries.append(Allowance(reason.strip(), transaction, str(texts["field"]) if texts["field"] is not None else None,
                                 str(texts["scenario"]) if texts["scenario"] is not None else None, verdict, line))
    return entries


def apply(entries: list[Allowance], scenarios: list[ScenarioChanges], separator: str) -> None:
    """Mark each difference an entry allows (with its reason), counting each entry's uses."""
    for scenario in scenarios:
        for change in scenario.messages:
            found = next((e for e in entries if e.covers(change, scenario.name, separator)), None)
            if found is not None:
                found.used += 1
                change.allowed_by = found.reason
        if scenario.verdict_changed:
            verdict = next((e for e in entries if e.verdict and e.covers_scenario(scenario.name)), None)
            if verdict is not None:
                verdict.used += 1
                scenario.verdict_allowed_by = verdict.reason
