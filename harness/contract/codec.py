"""What the proxy, replay and `hih compare` need of a transport's messages, in one shape for every transport.

A codec turns a message's bytes into text (by its charset), says which transaction a request is, checks a request
or a reply against the contract (the same validators the mocks use), flattens a message into its leaf fields (path
-> value) so that two messages can be compared field by field, and copies into a recorded reply what a partner
echoes from the request (`echo`). Each transport descriptor (`harness.contract.transports`) names its codec.

Field paths use each transport's own location notation, the one findings and masking rules use: JSON pointers for
JSON (`/input/data/psn_no`, array items by number), element paths by local name for XML
(`/Envelope/Body/SubmitBloodOrder/Units/Unit[2]/Din`, a position only among same-named siblings), HL7 paths for HL7
v2 (`PID-3(2).1`, `OBX[2]-5`). Patterns (`volatile:` and `correlation:` lists, `hih compare --allow`) are paths
without positions, where `*` stands for one step and `//name` or a bare name for a field at any depth; a pattern
also covers everything under the field it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from harness.contract.findings import Finding, Severity
from harness.contract.model import Contract


@dataclass
class Seen:
    """One message as a codec saw it: the transaction it is (or answers), its findings, a JSON-ready summary."""

    operation: str | None
    findings: list[Finding] = field(default_factory=list)
    summary: Any = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]


@dataclass(frozen=True)
class Wire:
    """What travelled with a message besides its bytes: the HTTP request line and headers, or the reply's status.

    Header names are lower case. Empty for MLLP."""

    method: str = ""
    path: str = ""
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    status: int | None = None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


class Codec(Protocol):
    """A transport's messages for the proxy, replay and compare (see the module docs)."""

    kind: str
    """json, xml or hl7: how reports show and mask the text (`harness.report.formats`)."""

    def text(self, raw: bytes, contract: Contract) -> tuple[str, str]:
        """(the message as text, the charset it was decoded with)."""

    def encode(self, text: str, charset: str) -> bytes:
        """Text back to bytes in `charset` (a masked message, in the charset it came in)."""

    def fields(self, text: str) -> dict[str, str]:
        """Every leaf of the message: path -> value (non-string JSON values as JSON text)."""

    def operation(self, contract: Contract, raw: bytes, wire: Wire) -> str | None:
        """The transaction a request is, cheaply (no validation); None when it cannot be told."""

    def check_request(self, contract: Contract, raw: bytes, wire: Wire, direction: str) -> Seen:
        """The request checked against the contract; `direction` is from_hospital or to_hospital."""

    def check_reply(self, contract: Contract, raw: bytes, wire: Wire, operation: str | None, request: bytes,
                    direction: str) -> Seen:
        """The reply to `request` checked against the contract (`direction`: the way the request went)."""

    def echo(self, contract: Contract, operation: str | None, request: str, reply: str) -> str:
        """A recorded reply with what the partner copies from its request taken from this `request` (replay)."""


# -- paths and patterns ----------------------------------------------------------------------------------------------
_POSITION = re.compile(r"\[\d+\]|\(\d+\)")


def bare(path: str) -> str:
    """A path without positions: `/a/b[2]/c` -> `/a/b/c`, `OBX[2]-5(3).1` -> `OBX-5.1`."""
    return _POSITION.sub("", path)


@lru_cache(maxsize=4096)
def _pattern_regex(pattern: str, separator: str) -> re.Pattern[str]:
    text = pattern.strip()
    if separator == "/":
        if text.startswith("//"):
            text = "**/" + text[2:]
        elif not text.startswith("/"):
            text = "**/" + text
        else:
            text = text[1:]
        steps = [s for s in text.split("/") if s]
        out = []
        for step in steps:
            if step == "**":
                out.append("(?:[^/]+/)*")
            else:
                out.append(re.escape(step).replace(r"\*", "[^/]*").replace(r"\?", "[^/]") + "/")
        body = "".join(out).removesuffix("/")
        return re.compile("^/" + body + "(?:/.*)?$")
    # HL7: SEG-F.C.S, `*` for any segment or number; a field covers its components
    parts = re.escape(bare(text)).replace(r"\*", "[^-.]*")
    return re.compile("^" + parts + r"(?:\..*)?$")


def matches(pattern: str, path: str, separator: str = "/") -> bool:
    """`path` (positions ignored) is the field `pattern` names, or under it (see the module docs)."""
    return _pattern_regex(pattern, separator).match(bare(path)) is not None


def covered(path: str, patterns: tuple[str, ...] | list[str], separator: str = "/") -> bool:
    return any(matches(p, path, separator) for p in patterns)


def pattern_problem(pattern: str, transport: str) -> str | None:
    """Why `pattern` is not a field pattern of `transport`'s messages (None when it is one)."""
    text = pattern.strip()
    if not text:
        return "an empty field pattern"
    if transport == "hl7v2-mllp":
        if not re.fullmatch(r"(?:[A-Z0-9*]{3}|\*)(?:-(?:\d+|\*)(?:\.(?:\d+|\*)){0,2})?", bare(text)):
            return f"{pattern!r} is not an HL7 field path (SEG-FIELD[.COMPONENT[.SUBCOMPONENT]], e.g. MSH-7, PID-3.1)"
        return None
    if " " in text.strip("/") or text.endswith("/") and text != "/":
        return f"{pattern!r} is not a field path (/a/b, //name or a bare name)"
    return None
