"""Validation findings: severity, location and message, as NIST-style HL7 and schema validators report them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How bad a finding is: an error breaks the contract, a warning is suspect, info is a note."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    """One thing a validator noticed about one message.

    `location` is a JSON pointer for JSON (`/input/data/card_sn`), an XPath for XML, an HL7 path (`PID-3.1`)
    for HL7 v2; `rule` names the schema keyword or contract rule that produced it.
    """

    severity: Severity
    location: str
    message: str
    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data

    def __str__(self) -> str:
        return f"{self.severity.value.upper()} {self.location or '/'} {self.message}"


MAX_MESSAGE = 500
"""A finding's message is read by people: a value quoted in it (an 8 MiB string, say) is cut to this many characters."""


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` cut to about `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters in all)"


def has_errors(findings: list[Finding]) -> bool:
    """True when any finding is an error."""
    return any(f.severity is Severity.ERROR for f in findings)
