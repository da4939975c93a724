"""The answers of a recording, found for the requests a replaying mock receives.

A request is matched to a recorded exchange of the same transaction whose request has the same fields, the volatile
ones left out (`harness.contract.volatile`: msgid and times, MSH-7 and MSH-10, session keys ...). Failing that, and
when the contract names correlation keys for the transaction (`correlation:` in contract.yaml), to one whose
request has the same values for those keys: the answer about the same business object, although other fields
changed (a new connector version that sends one field more). Each recorded exchange answers once, in the order
recorded (a query asked before and after a change of state gets the two answers it got); once all that match
have answered, the last one answers again.

A masked recording holds masked identifiers: a live request is masked the same way (`mask`, hih.toml's rules, given
by the caller since the mocks do not read hih.toml) before it is compared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.contract import recording
from harness.contract.codec import covered, matches
from harness.contract.model import Contract
from harness.contract.transports import codec
from harness.contract.volatile import correlation_fields, separator, volatile_fields
from harness.errors import UsageError

Mask = Callable[[str, str], str]
"""(message text, kind json|xml|hl7) -> the text with identifiers masked as the recording's are."""
UNRECORDED = ("error", "contract")


@dataclass
class Match:
    """The recorded exchange that answers a request, and how it was found."""

    exchange: recording.Exchange
    by: str
    """`fields` (every non-volatile field equal) or `correlation` (the contract's correlation keys equal)."""
    differing: list[str] = field(default_factory=list)
    """For a correlation match: the fields of the request that differ from the recorded one."""

    @property
    def reply(self) -> recording.Message:
        assert self.exchange.reply is not None
        return self.exchange.reply

    def describe(self, folder: Path) -> dict[str, Any]:
        """What the journal says of an answer from the recording."""
        said: dict[str, Any] = {"recording": str(folder), "exchange": self.exchange.number, "line": self.reply.line,
                                "matched_by": self.by}
        if self.differing:
            said["differing"] = self.differing[:20]
        return said


@dataclass
class _Entry:
    exchange: recording.Exchange
    fields: dict[str, str]
    answered: int = 0


class Answers:
    """A recording, ready to answer requests of its interface."""

    def __init__(self, contract: Contract, folder: Path, mask: Mask | None = None) -> None:
        meta, exchanges = recording.read(folder)
        if meta.interface != contract.interface:
            raise UsageError(f"--replay {folder}: a recording of {meta.interface}, not of {contract.interface}")
        if meta.masked and mask is None:
            raise UsageError(f"--replay {folder}: the recording is masked, and no masking rules were given to match "
                             "requests with")
        self.contract = contract
        self.folder = folder
        self.meta = meta
        self.codec = codec(contract.transport)
        self.separator = separator(contract)
        self.mask = mask if meta.masked else None
        self.unanswered = 0
        """Recorded requests without a reply (the upstream never answered): they answer nothing."""
        self._entries: dict[str | None, list[_Entry]] = {}
        for exchange in exchanges:
            if exchange.reply is None:
                self.unanswered += 1
                continue
            fields = self._kept(exchange.transaction, self.codec.fields(exchange.request.text))
            self._entries.setdefault(exchange.transaction, []).append(_Entry(exchange, fields))

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._entries.values())

    def _kept(self, transaction: str | None, fields: dict[str, str]) -> dict[str, str]:
        volatile = volatile_fields(self.contract, transaction)
        return {path: value for path, value in fields.items() if not covered(path, volatile, self.separator)}

    def _fields(self, transaction: str | None, raw: bytes) -> dict[str, str]:
        text, _ = self.codec.text(raw, self.contract)
        if self.mask is not None:
            text = self.mask(text, self.codec.kind)
        return self._kept(transaction, self.codec.fields(text))

    def find(self, transaction: str | None, raw: bytes, consume: bool = True) -> Match | None:
        """The recorded exchange that answers this request, or None; `consume` counts the answer as given."""
        entries = self._entries.get(transaction, [])
        if not entries:
            return None
        fields = self._fields(transaction, raw)
        chosen = _next([e for e in entries if e.fields == fields])
        by, differing = "fields", []
        if chosen is None:
            keys = correlation_fields(self.contract, transaction)
            wanted = self._values(keys, fields)
            if wanted:
                chosen = _next([e for e in entries if self._values(keys, e.fields) == wanted])
                by = "correlation"
                if chosen is not None:
                    differing = sorted(p for p in set(fields) | set(chosen.fields)
                                       if fields.get(p) != chosen.fields.get(p))
        if chosen is None:
            return None
        if consume:
            chosen.answered += 1
        return Match(chosen.exchange, by, differing)

    def _values(self, keys: tuple[str, ...], fields: dict[str, str]) -> dict[str, str]:
        """The values of the correlation keys in `fields` ({} when a key has none: no match by keys then)."""
        found: dict[str, str] = {}
        for key in keys:
            values = [v for p, v in sorted(fields.items()) if matches(key, p, self.separator)]
            if not values:
                return {}
            found[key] = "\x1f".join(values)
        return found

    def echoed(self, match: Match, raw: bytes) -> str:
        """The recorded reply's text with what the partner copies from the request taken from this one."""
        text, _ = self.codec.text(raw, self.contract)
        return self.codec.echo(self.contract, match.exchange.transaction, text, match.reply.text)


def _next(entries: list[_Entry]) -> _Entry | None:
    """The first that has not answered yet, else the last (asked again, it answers again)."""
    if not entries:
        return None
    return next((e for e in entries if not e.answered), entries[-1])


def describe_unrecorded(folder: Path, transaction: str | None, mode: str) -> dict[str, Any]:
    """What the journal says of a request the recording has no answer for."""
    return {"recording": str(folder), "unrecorded": True, "transaction": transaction, "answered_by": mode}


def no_answer_text(folder: Path, transaction: str | None) -> str:
    """The error a request without a recorded answer gets (`--unrecorded error`), in the words the tester reads."""
    return (f"hih replay: 录制中没有此请求的应答 / no recorded answer for this {transaction or 'request'} "
            f"(recording {folder}; `hih mock serve --unrecorded contract` answers it by the contract)")
