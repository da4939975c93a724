"""The codec of HL7 v2 over MLLP contracts (the LIS, the PACS): see `harness.contract.codec`.

Bytes are decoded by MSH-18 under the contract's charset policy. The transaction of a message is its contract
message key (`OML^O21`, `ACK`). A reply (an ACK, an ORL^O22) is checked against its profile and against the
message it answers (MSA-2 echoes MSH-10, sender and receiver swapped: `harness.contract.hl7.ack`). Fields are HL7
paths of every non-empty leaf: `PID-3(2).1`, `OBX[2]-5`.
"""

from __future__ import annotations

from harness.contract.codec import Seen, Wire
from harness.contract.hl7.ack import ack_problems
from harness.contract.hl7.charsets import codec as python_codec
from harness.contract.hl7.charsets import decode_message
from harness.contract.hl7.contract import HL7Validator, settings
from harness.contract.hl7.message import HL7Path, Message, parse
from harness.contract.model import Contract

kind = "hl7"


def validator(contract: Contract) -> HL7Validator:
    found = contract.extra.get("hl7_validator")
    if not isinstance(found, HL7Validator):
        found = HL7Validator(contract)
        contract.extra["hl7_validator"] = found
    return found


def text(raw: bytes, contract: Contract) -> tuple[str, str]:
    decoded = decode_message(raw, settings(contract).charset)
    return decoded.text, decoded.charset


def encode(text: str, charset: str) -> bytes:
    try:
        return text.encode(python_codec(charset or "UNICODE UTF-8"), errors="replace")
    except LookupError:
        return text.encode("utf-8", errors="replace")


def message_fields(message: Message) -> dict[str, str]:
    """Every non-empty leaf of a parsed message by HL7 path (MSH-1 and MSH-2, the separators, left out)."""
    seps = message.seps
    out: dict[str, str] = {}
    for seg in message.segments:
        first = 3 if seg.name in ("MSH", "FHS", "BHS") else 1
        for number in range(first, len(seg.fields)):
            value = seg.fields[number]
            if not value:
                continue
            for rep, repetition in enumerate(value.split(seps.repetition), 1):
                components = repetition.split(seps.component)
                for comp, component in enumerate(components, 1):
                    subs = component.split(seps.subcomponent)
                    for sub, leaf in enumerate(subs, 1):
                        if not leaf:
                            continue
                        path = HL7Path(seg.name, seg.index, number, rep,
                                       comp if len(components) > 1 or len(subs) > 1 else 0,
                                       sub if len(subs) > 1 else 0)
                        out[str(path)] = leaf
    return out


def fields(text: str) -> dict[str, str]:
    return message_fields(parse(text))


def operation(contract: Contract, raw: bytes, wire: Wire) -> str | None:
    message = validator(contract).decode(raw)
    if not message.segments or message.segments[0].name != "MSH":
        return None
    return validator(contract).route(message)


def check_request(contract: Contract, raw: bytes, wire: Wire, direction: str) -> Seen:
    checked = validator(contract).check(raw, direction)
    msg = checked.message
    summary = {"message_type": msg.message_type, "control_id": msg.control_id, "version": msg.version} \
        if msg.segments else None
    return Seen(checked.operation, checked.findings, summary)


def check_reply(contract: Contract, raw: bytes, wire: Wire, operation: str | None, request: bytes,
                direction: str) -> Seen:
    back = "to_hospital" if direction == "from_hospital" else "from_hospital"
    checked = validator(contract).check(raw, back)
    findings = list(checked.findings)
    original = validator(contract).decode(request)
    if checked.message.segments and original.segments:
        findings.extend(ack_problems(checked.message, original))
    msg = checked.message
    summary = {"message_type": msg.message_type, "code": msg.get("MSA-1"), "acknowledged": msg.get("MSA-2")} \
        if msg.segments else None
    return Seen(checked.operation, findings, summary)


def echo(contract: Contract, operation: str | None, request: str, reply: str) -> str:
    """MSA-2 of a recorded reply set to this request's MSH-10 (the acknowledgement must echo it)."""
    answer = parse(reply)
    asked = parse(request)
    msa = answer.segment("MSA")
    if msa is None or not asked.segments:
        return reply
    while len(msa.fields) < 3:
        msa.fields.append("")
    msa.fields[2] = asked.control_id
    return answer.to_er7()
