"""Check an acknowledgement against the message it answers: the correlation rules every receiver must keep.

MSA-2 echoes the acknowledged MSH-10; the ACK's sender and receiver (MSH-3/4, MSH-5/6) are the original's swapped;
it has its own MSH-10 and the same MSH-12; MSA-1 fits the acknowledgement mode (original: AA/AE/AR; enhanced:
CA/CE/CR for the accept acknowledgement, AA/AE/AR for the application one). A sender that accepts an ACK
breaking the first rule accepts someone else's ACK.
"""

from __future__ import annotations

from harness.contract.findings import Finding, Severity
from harness.contract.hl7.message import Message

ORIGINAL_CODES = frozenset({"AA", "AE", "AR"})
ACCEPT_CODES = frozenset({"CA", "CE", "CR"})


def ack_problems(ack: Message, original: Message) -> list[Finding]:
    """What is wrong with `ack` as the acknowledgement of `original` (rule `correlation`); [] when nothing."""
    out: list[Finding] = []
    if ack.segment("MSA") is None:
        return [Finding(Severity.ERROR, "MSA", "the acknowledgement has no MSA segment", "correlation")]
    code, echoed = ack.get("MSA-1"), ack.get("MSA-2")
    if echoed != original.control_id:
        out.append(Finding(Severity.ERROR, "MSA-2", f"MSA-2 is {echoed!r}; the acknowledged MSH-10 is "
                           f"{original.control_id!r}", "correlation"))
    if ack.control_id and ack.control_id == original.control_id:
        out.append(Finding(Severity.WARNING, "MSH-10", "the acknowledgement reuses the acknowledged MSH-10; it needs "
                           "its own", "correlation"))
    if (ack.sender, ack.receiver) != (original.receiver, original.sender):
        out.append(Finding(Severity.WARNING, "MSH-3", f"sender/receiver {'/'.join(ack.sender)} -> "
                           f"{'/'.join(ack.receiver)} are not the original's swapped ({'/'.join(original.receiver)} -> "
                           f"{'/'.join(original.sender)})", "correlation"))
    if ack.version != original.version:
        out.append(Finding(Severity.WARNING, "MSH-12", f"version {ack.version or '(none)'} differs from the "
                           f"acknowledged message's {original.version or '(none)'}", "correlation"))
    allowed = ORIGINAL_CODES | ACCEPT_CODES if original.enhanced_mode else ORIGINAL_CODES
    if code not in allowed:
        mode = "enhanced" if original.enhanced_mode else "original"
        out.append(Finding(Severity.ERROR, "MSA-1", f"MSA-1 {code!r} is not an acknowledgement code of the {mode} "
                           f"mode ({', '.join(sorted(allowed))})", "correlation"))
    elif code in ACCEPT_CODES and original.accept_ack == "NE":
        out.append(Finding(Severity.WARNING, "MSA-1", "an accept acknowledgement although MSH-15 is NE", "correlation"))
    return out
