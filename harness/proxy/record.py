"""Turn what crossed a proxy into recording lines (`harness.contract.recording`), identifiers masked.

Each exchange is masked with a fresh scoped masker (`Masker.scoped`): the rules of hih.toml by field path, then
every value masked that way wherever it appears again in the same exchange (an ID number echoed in an error
message, a finding quoting it). What one masker learns never outlives its exchange, so a proxy that runs for days
keeps no growing list of patients. Headers that carry credentials are written as `***`.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.contract import recording
from harness.contract.codec import Wire
from harness.contract.findings import Finding
from harness.contract.model import Contract
from harness.contract.transports import codec
from harness.report.masking import Masker

SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|password|passwd|api-key|apikey", re.I)


@dataclass
class Side:
    """One message of an exchange as the proxy saw it."""

    raw: bytes
    wire: Wire = field(default_factory=Wire)
    findings: list[Finding] = field(default_factory=list)
    at: float = field(default_factory=time.time)
    """When it crossed the proxy (formatted only when recorded: a proxy without --record never pays for it)."""


def wire_dict(wire: Wire, masker: Masker | None) -> dict[str, Any]:
    """A message's HTTP line and headers as a recording keeps them: credentials `***`, identifiers masked."""

    def shown(text: str) -> str:
        return masker.text(text) if masker is not None else text

    out: dict[str, Any] = {}
    if wire.method:
        out["method"] = wire.method
        out["path"] = shown(wire.path)
        if wire.query:
            out["query"] = shown(wire.query)
    if wire.status is not None:
        out["status"] = wire.status
    if wire.headers:
        out["headers"] = [[k, "***" if SECRET_HEADER.search(k) else shown(v)] for k, v in wire.headers]
    return out


class Recorder:
    """Writes each exchange a proxy forwarded to its recording."""

    def __init__(self, writer: recording.Writer, contract: Contract, masker: Masker) -> None:
        self.writer = writer
        self.contract = contract
        self.codec = codec(contract.transport)
        self.masker = masker
        self._numbers = itertools.count(1)

    def record(self, transaction: str | None, request: Side, reply: Side | None, senders: tuple[str, str]) -> bool:
        """Write one exchange; False when the recording has stopped (its byte limit)."""
        number = next(self._numbers)
        scoped = self.masker.scoped() if self.writer.meta.masked else None
        messages = [self._message(number, "request", senders[0], transaction, request, scoped)]
        if reply is not None:
            messages.append(self._message(number, "reply", senders[1], transaction, reply, scoped))
        return self.writer.write(number, messages)

    def _message(self, number: int, direction: str, sender: str, transaction: str | None, side: Side,
                 masker: Masker | None) -> recording.Message:
        text, charset = self.codec.text(side.raw, self.contract)
        raw = side.raw
        findings = side.findings
        if masker is not None:
            masked = masker.raw(text, self.codec.kind)
            if masked != text:
                text, raw = masked, self.codec.encode(masked, charset)
            findings = [Finding(f.severity, masker.text(f.location), masker.text(f.message), f.rule) for f in findings]
        return recording.Message(number, recording.stamp(side.at), direction, sender, transaction, text, raw, charset, findings,
                                 wire_dict(side.wire, masker))

    def stopped(self) -> str:
        return self.writer.meta.stopped

    def close(self) -> None:
        self.writer.close()


def journal_view(masker: Masker) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """How the proxy's admin API shows a journal entry: every identifier masked, as in a report."""

    def view(entry: dict[str, Any]) -> dict[str, Any]:
        return masker.scoped().exchange(entry)

    return view
