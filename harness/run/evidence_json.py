"""evidence.json written from parts encoded while the scenarios run, instead of all of it after the last one.

The file is `json.dumps(evidence, ensure_ascii=False, indent=2)` and a newline, `evidence` mapping each scenario's
node id to its exchanges. Its text is the scenarios' parts joined: each part is the node id, `": "` and the
scenario's exchanges encoded at indent 2 with every line after the first indented once more (a JSON text holds no
raw newline inside a string, so every newline is the layout's). `hih run` encodes a scenario's part when its result
arrives, in the parent process that otherwise waits on pytest; after the last scenario only the parts of results
that changed since (a deadline's note, a result rebuilt from junit.xml) are encoded. A part is written by orjson where
it gives the same text (harness.report.json_text), as the one-member object `{node id: exchanges}` less its braces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.report.json_text import indented


def part(nodeid: str, exchanges: list[dict[str, Any]]) -> str:
    """One scenario's member of evidence.json, as `json.dumps(..., indent=2)` lays it out inside the object."""
    return indented({nodeid: exchanges})[4:-2]  # `{\n  ` and `\n}` off


@dataclass
class EvidenceJson:
    """Parts encoded ahead, by node id, each with the list it was encoded from (a result's evidence is not changed
    once read from the events: a changed result carries another list, and its part is encoded again)."""

    _parts: dict[str, tuple[list[dict[str, Any]], str]] = field(default_factory=dict)

    def add(self, nodeid: str, exchanges: list[dict[str, Any]]) -> None:
        """Encode a scenario's part now."""
        self._parts[nodeid] = (exchanges, part(nodeid, exchanges))

    def text(self, evidence: dict[str, list[dict[str, Any]]]) -> str:
        """The text of evidence.json for `evidence`, from the parts encoded ahead where they still hold."""
        if not evidence:
            return "{}\n"
        parts = []
        for nodeid, exchanges in evidence.items():
            known = self._parts.get(nodeid)
            parts.append(known[1] if known is not None and known[0] is exchanges else part(nodeid, exchanges))
        return "{\n  " + ",\n  ".join(parts) + "\n}\n"

    def write(self, path: Path, evidence: dict[str, list[dict[str, Any]]]) -> None:
        """Write evidence.json atomically (as harness.run.results.write_json does)."""
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.text(evidence), encoding="utf-8")
        tmp.replace(path)
