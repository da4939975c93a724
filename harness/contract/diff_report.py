"""What `hih contract diff` prints: a text listing (breaking, compatible, info) and a stable JSON document."""

from __future__ import annotations

from typing import Any

from harness.contract.diff import Classification, ContractDiff
from harness.contract.diff_impact import Impact

FORMAT = "hih-contract-diff/1"
HEADINGS = {Classification.BREAKING: "BREAKING", Classification.COMPATIBLE: "COMPATIBLE", Classification.INFO: "INFO"}


def document(diff: ContractDiff, impact: Impact | None = None) -> dict[str, Any]:
    """The JSON document (schema in docs/contract-format.md, "Comparing versions")."""
    changes = []
    for index, change in enumerate(diff.changes):
        entry = change.to_dict()
        entry["impacted"] = [hit.to_dict() for hit in impact.hits[index]] if impact is not None else None
        changes.append(entry)
    return {
        "format": FORMAT,
        "interface": diff.interface,
        "transport": diff.transport,
        "old": diff.old,
        "new": diff.new,
        "breaking": diff.breaking,
        "counts": diff.counts(),
        "notes": diff.notes,
        "impact": impact.method() if impact is not None else None,
        "changes": changes,
    }


def _method_line(impact: Impact) -> str:
    method = impact.method()
    static = f"static scan of {method['static']['features']} ({method['static']['scenarios']} scenarios)"
    history = method["history"]
    if "history" in method["methods"]:
        runs = history["runs"]
        which = f"run {runs[0]}" if len(runs) == 1 else f"runs {', '.join(str(r) for r in runs)}"
        return (f"impact: run history {history['database']} ({history['scenarios']} scenarios from {which}, "
                f"contract {', '.join(history['contracts'])}) and {static}")
    why = f" (history not used: {history['problem']})" if history and history.get("problem") else ""
    return f"impact: {static}{why}"


def render_text(diff: ContractDiff, impact: Impact | None = None) -> str:
    counts = diff.counts()
    head = (f"{diff.interface} {diff.old} → {diff.new} ({diff.transport}): {counts['breaking']} breaking, "
            f"{counts['compatible']} compatible, {counts['info']} info")
    lines = [head]
    lines += [f"note: {note}" for note in diff.notes]
    if impact is not None:
        lines.append(_method_line(impact))
    if not diff.changes:
        lines.append("no change")
        return "\n".join(lines)
    for classification in Classification:
        indexed = [(i, c) for i, c in enumerate(diff.changes) if c.classification is classification]
        if not indexed:
            continue
        lines.append("")
        lines.append(f"{HEADINGS[classification]} ({len(indexed)})")
        for index, change in indexed:
            if classification is Classification.INFO:
                name = change.location.rsplit("/", 1)[-1]
                lines.append(f"  {change.location}: {change.message.removeprefix(f'{name}: ')}")
                continue
            lines.append(f"  {change.location}")
            lines.append(f"    {change.message}")
            if impact is None:
                continue
            hits = impact.hits[index]
            if not hits:
                lines.append("    impacted: no scenario exercises it")
                continue
            lines.append(f"    impacted ({len(hits)}):")
            for hit in hits:
                reason = "; ".join(hit.reasons[:2]) + (f"; +{len(hit.reasons) - 2} more" if len(hit.reasons) > 2 else "")
                lines.append(f"      {hit.scenario.feature} · {hit.scenario.name}  [{'+'.join(hit.via)}: {reason}]")
    if impact is not None:
        impacted = impact.impacted()
        lines.append("")
        lines.append(f"{len(impacted)} of {len(impact.scenarios)} scenarios exercise a breaking or compatible change")
    return "\n".join(lines)
