"""`hih validate --interface NAME DIR`: check a recording of `hih proxy` against a contract version.

Every recorded message is checked again, with the transport's codec, as the proxy checked it: a request by its
wire (path, SOAPAction) and direction, a reply as the answer to its request. The version may differ from the one
in force when it was recorded (what would this traffic say under 2025.1?). In a masked recording an identifier
reads `5101**********2426`, which its format no longer fits: a finding about a masked value is not a finding about
the traffic, so those are left out, and the findings the proxy made before masking are given for them instead
(when the versions are the same) .
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.contract import recording
from harness.contract.codec import Wire
from harness.contract.findings import Finding
from harness.contract.model import Contract
from harness.contract.transports import codec
from harness.contract.volatile import separator
from harness.errors import UsageError


@dataclass
class Checked:
    """One recorded message and what checking it found."""

    where: str
    """`DIR/recording.jsonl:LINE`."""
    direction: str
    transaction: str | None
    findings: list[Finding] = field(default_factory=list)


@dataclass
class RecordingCheck:
    meta: recording.Meta
    messages: list[Checked] = field(default_factory=list)
    masked_left_out: int = 0
    """Findings about values masked in the recording, left out."""


def wire_of(message: recording.Message) -> Wire:
    data = message.wire
    return Wire(str(data.get("method", "")), str(data.get("path", "")), str(data.get("query", "")),
                tuple(message.headers), message.status)


def _masked(text_fields: dict[str, str], location: str, sep: str) -> bool:
    """The finding's location is (or holds) a value masked in the recording."""
    if not location:
        return False
    for path, value in text_fields.items():
        if "*" in value and (path == location or path.startswith(location) and path[len(location)] in (sep, "(", "[")):
            return True
    return False


def check(contract: Contract, folder: Path) -> RecordingCheck:
    meta, exchanges = recording.read(folder)
    if meta.interface != contract.interface:
        raise UsageError(f"{folder} is a recording of {meta.interface}, not {contract.interface}")
    reader = codec(contract.transport)
    direction = "from_hospital" if meta.upstream_role == "partner" else "to_hospital"
    same_version = meta.contract == contract.version
    sep = separator(contract)
    result = RecordingCheck(meta)
    file = folder / recording.LINES
    for exchange in exchanges:
        request, reply = exchange.request, exchange.reply
        sides: list[tuple[recording.Message, list[Finding]]] = [
            (request, reader.check_request(contract, request.raw, wire_of(request), direction).findings)]
        if reply is not None:
            sides.append((reply, reader.check_reply(contract, reply.raw, wire_of(reply), request.transaction,
                                                    request.raw, direction).findings))
        for message, found in sides:
            kept: list[Finding] = []
            if meta.masked:
                values = reader.fields(message.text)
                for finding in found:
                    if _masked(values, finding.location, sep):
                        result.masked_left_out += 1
                    else:
                        kept.append(finding)
                if same_version:
                    kept.extend(f for f in message.findings if _masked(values, f.location, sep) and f not in kept)
            else:
                kept = found
            result.messages.append(Checked(f"{file}:{message.line}", message.direction, message.transaction, kept))
    return result
