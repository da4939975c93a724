"""What two connectors sent on the wire in the same scenarios, compared per scenario and transaction.

From each run's evidence (the journal of every scenario, masked alike in both runs), the messages the hospital side
sent are taken in order: the requests of inbound exchanges, the acknowledgements of outbound ones (an HL7 partner
that sends results). Each is flattened into its fields by the transport's codec (`harness.contract.codec`), the
volatile fields of its transaction left out (`harness.contract.volatile`), and every value the partner sent earlier
in the scenario replaced by where it came from (`<2201 /output/data/mdtrt_id>`): the visit id the platform gave is
a new one in every run, and what matters is that both connectors send back the one they were given. Likewise a
volatile value the hospital side sent itself and names again later (a 2601 reversal's `omsgid`, the msgid of the
settlement it undoes) is replaced by where it was first sent (`<sent 2207 /msgid>`). The i-th
message of a transaction in one run is compared with the i-th in the other; a message sent by one run only is a
difference of its own. Scenarios whose verdicts differ are listed too.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from harness.contract.codec import Codec, covered
from harness.contract.model import Contract
from harness.contract.transports import codec
from harness.contract.volatile import separator, volatile_fields

MIN_ECHO = 4
"""Shorter partner values (codes such as "1" or "01") are not taken for echoes: they recur by chance."""
MAX_SHOWN = 300
"""A value is shown to this many characters in the report."""


@dataclass
class FieldChange:
    path: str
    old: str | None
    """None: the field is absent from OLD's message."""
    new: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.path, "old": _shown(self.old), "new": _shown(self.new)}


@dataclass
class MessageChange:
    """One message of a transaction that differs: its fields, or sent by one run only (`kind`)."""

    transaction: str
    index: int
    """Which message of the transaction in the scenario (1 for the first)."""
    kind: str
    """changed, only_old or only_new."""
    fields: list[FieldChange] = field(default_factory=list)
    allowed_by: str = ""
    """The reason of the allow-list entry that allows it ("" when none does)."""

    def to_dict(self) -> dict[str, Any]:
        return {"transaction": self.transaction, "message": self.index, "kind": self.kind,
                "fields": [f.to_dict() for f in self.fields], "allowed": bool(self.allowed_by),
                **({"allowed_because": self.allowed_by} if self.allowed_by else {})}


@dataclass
class ScenarioChanges:
    key: str
    feature: str
    name: str
    old_status: str | None
    new_status: str | None
    new_message: str = ""
    messages: list[MessageChange] = field(default_factory=list)
    verdict_allowed_by: str = ""

    @property
    def verdict_changed(self) -> bool:
        return self.old_status != self.new_status

    @property
    def open(self) -> list[MessageChange]:
        """The message differences no allow-list entry allows."""
        return [m for m in self.messages if not m.allowed_by]

    @property
    def differs(self) -> bool:
        return bool(self.open) or (self.verdict_changed and not self.verdict_allowed_by)

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.key, "feature": self.feature, "name": self.name,
                "verdict": {"old": self.old_status, "new": self.new_status, "changed": self.verdict_changed,
                            **({"allowed_because": self.verdict_allowed_by} if self.verdict_allowed_by else {}),
                            **({"new_message": self.new_message[:2000]} if self.new_message else {})},
                "messages": [m.to_dict() for m in self.messages]}


def _shown(value: str | None) -> str | None:
    if value is None or len(value) <= MAX_SHOWN:
        return value
    return value[:MAX_SHOWN] + f"… ({len(value)} characters)"


def _text(raw: Any) -> str | None:
    """The text of an evidence `*_raw` field (masked already)."""
    if not isinstance(raw, dict):
        return None
    if isinstance(raw.get("text"), str):
        return str(raw["text"])
    if isinstance(raw.get("base64"), str):
        return base64.b64decode(raw["base64"]).decode("gb18030", errors="replace")
    return None


@dataclass
class Sent:
    """One message the hospital side sent, normalised for comparing."""

    transaction: str
    fields: dict[str, str]


def sent_messages(entries: list[dict[str, Any]], contract: Contract) -> list[Sent]:
    """The messages the hospital side sent in one scenario, in order, normalised (see the module docs)."""
    reader: Codec = codec(contract.transport)
    sep = separator(contract)
    partner: dict[str, str] = {}
    own: dict[str, str] = {}
    """Volatile values the hospital side sent (msgids ...): named where they were sent when they come back."""
    out: list[Sent] = []

    def learn(text: str | None, transaction: str) -> None:
        if text is None:
            return
        for path, value in reader.fields(text).items():
            if len(value) >= MIN_ECHO and value not in partner:
                partner[value] = f"<{transaction} {path}>"

    for entry in sorted(entries, key=lambda e: e.get("id", 0)):
        transaction = str(entry.get("operation") or "?")
        outbound = entry.get("direction") == "outbound"
        mine, theirs = (entry.get("response_raw"), entry.get("request_raw")) if outbound else \
            (entry.get("request_raw"), entry.get("response_raw"))
        if outbound:
            learn(_text(theirs), transaction)
        text = _text(mine)
        if text is not None and text.strip():
            volatile = volatile_fields(contract, transaction)
            fields = reader.fields(text)
            kept = {path: partner.get(value, own.get(value, value)) for path, value in fields.items()
                    if not covered(path, volatile, sep)}
            out.append(Sent(transaction, kept))
            for path, value in fields.items():  # a reversal names the msgid of what it reverses
                if len(value) >= MIN_ECHO and value not in own and covered(path, volatile, sep):
                    own[value] = f"<sent {transaction} {path}>"
        if not outbound:
            learn(_text(theirs), transaction)
    return out


def compare_messages(old: list[Sent], new: list[Sent]) -> list[MessageChange]:
    """Per transaction, the i-th message of OLD against the i-th of NEW."""
    changes: list[MessageChange] = []
    transactions = list(dict.fromkeys([m.transaction for m in old] + [m.transaction for m in new]))
    for transaction in transactions:
        before = [m for m in old if m.transaction == transaction]
        after = [m for m in new if m.transaction == transaction]
        for index in range(max(len(before), len(after))):
            if index >= len(after):
                changes.append(MessageChange(transaction, index + 1, "only_old"))
                continue
            if index >= len(before):
                changes.append(MessageChange(transaction, index + 1, "only_new"))
                continue
            a, b = before[index].fields, after[index].fields
            fields = [FieldChange(path, a.get(path), b.get(path)) for path in sorted(set(a) | set(b))
                      if a.get(path) != b.get(path)]
            if fields:
                changes.append(MessageChange(transaction, index + 1, "changed", fields))
    return changes
