"""Which acknowledgements a receiver owes a message: by the mode its contract declares, not by what the sender asks.

HL7 v2 (chapter 2, "acknowledgment modes"): in **original mode** every message gets one application
acknowledgement, AA, AE or AR. **Enhanced mode** splits it into an accept (commit) acknowledgement, CA/CE/CR, and
an application acknowledgement, AA/AE/AR, each sent under the condition the sender puts in MSH-15 (accept) and
MSH-16 (application), HL7 Table 0155: AL always, NE never, ER on error or rejection only, SU on success only. When
MSH-15 and MSH-16 are both empty the original-mode rules apply.

A receiver follows the mode of its contract. Under `mode: original` the sender's MSH-15/16 change nothing (a sender
asking NE would otherwise never hear of a rejection); they earn a warning. Under `mode: enhanced` the sender's
conditions are followed; an empty or invalid one is a finding and the contract's declared condition (`accept_ack`,
`application_ack`; AL when it declares none) is used instead, so a mistake never silences a rejection by itself.

`AckMode` is the receiver's declaration, `plan(mode, message)` what it sends, `mode_findings(mode, message)` what is
wrong or noteworthy about the sender's MSH-15/16 (the same findings for the validator and the MLLP transport, so a
defect is reported once).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.contract.findings import Finding, Severity
from harness.contract.hl7.message import Message

TABLE_0155 = {"AL": "always", "NE": "never", "ER": "error/reject conditions only", "SU": "successful completion only"}
"""HL7 Table 0155, accept/application acknowledgment conditions."""
MODES = ("original", "enhanced")
ACCEPT_CODES = frozenset({"CA", "CE", "CR"})


@dataclass(frozen=True)
class AckMode:
    """The acknowledgement mode a receiver declares (the `hl7.acknowledgement` block of its contract)."""

    mode: str = "original"
    accept_ack: str = ""
    """Enhanced mode: the condition used when the sender's MSH-15 is empty or invalid (AL when not declared)."""
    application_ack: str = ""
    """Enhanced mode: the same for MSH-16."""

    @property
    def enhanced(self) -> bool:
        return self.mode == "enhanced"


@dataclass(frozen=True)
class AckPlan:
    """What one message is owed: original mode (one AA/AE/AR) or enhanced mode with its two conditions."""

    enhanced: bool
    accept: str = "AL"
    application: str = "AL"

    def sends_accept(self, accepted: bool) -> bool:
        """Enhanced mode: whether the accept acknowledgement goes out (CA when `accepted`, else CE/CR)."""
        return wanted(self.accept, accepted)

    def sends_application(self, success: bool) -> bool:
        """Enhanced mode: whether the application acknowledgement goes out (AA when `success`, else AE/AR)."""
        return wanted(self.application, success)

    def describe(self) -> str:
        return f"enhanced mode, MSH-15 {self.accept} / MSH-16 {self.application}" if self.enhanced else "original mode"


ORIGINAL = AckPlan(False)


def wanted(condition: str, success: bool) -> bool:
    """Whether an acknowledgement is sent under Table 0155 `condition` (AL, NE, ER, SU) for this outcome."""
    if condition == "NE":
        return False
    if condition == "ER":
        return not success
    if condition == "SU":
        return success
    return True


def _fields(message: Message) -> tuple[str, str]:
    return message.accept_ack, message.application_ack


def is_ack(message: Message) -> bool:
    """An acknowledgement (MSH-9.1 ACK): journaled by a receiver, never itself acknowledged."""
    return message.message_type.split("^", 1)[0] == "ACK"


def plan(mode: AckMode, message: Message) -> AckPlan:
    """The acknowledgements `message` is owed under `mode`."""
    if not mode.enhanced:
        return ORIGINAL
    accept, application = _fields(message)
    if not accept and not application:
        return ORIGINAL  # HL7: both empty means the original-mode rules
    return AckPlan(True, accept if accept in TABLE_0155 else (mode.accept_ack or "AL"),
                   application if application in TABLE_0155 else (mode.application_ack or "AL"))


def mode_findings(mode: AckMode, message: Message) -> list[Finding]:
    """What is wrong or noteworthy about the sender's MSH-15/16 under the receiver's `mode` (an ACK: nothing)."""
    if is_ack(message):
        return []
    accept, application = _fields(message)
    out: list[Finding] = []
    for where, value in (("MSH-15", accept), ("MSH-16", application)):
        if value and value not in TABLE_0155:
            out.append(Finding(Severity.ERROR, where, f"{where} {value!r} is not an acknowledgement condition of HL7 "
                               f"Table 0155 ({', '.join(TABLE_0155)})", "value_set"))
    if not mode.enhanced:
        if accept or application:
            out.append(Finding(Severity.WARNING, "MSH-15" if accept else "MSH-16",
                               f"the contract uses original acknowledgement mode: answered AA/AE/AR whatever MSH-15/16 "
                               f"({accept or '-'}/{application or '-'}) ask", "ack_mode"))
        return out
    for where, value, declared in (("MSH-15", accept, mode.accept_ack), ("MSH-16", application, mode.application_ack)):
        if not value:
            answered = "original mode answers" if not (accept or application) else \
                f"answered as {declared or 'AL'}"
            out.append(Finding(Severity.ERROR, where, f"the contract uses enhanced acknowledgement mode; {where} must "
                               f"be valued{f' ({declared})' if declared else ''}; {answered}", "usage"))
        elif declared and value in TABLE_0155 and value != declared:
            out.append(Finding(Severity.WARNING, where, f"{where} is {value}; the contract expects {declared}",
                               "ack_mode"))
    return out


def unsent(plan_: AckPlan, codes: list[str], outcome: str) -> Finding | None:
    """A finding when an enhanced-mode outcome other than success (`outcome`: AE, AR, CE, CR) reaches the sender in
    none of the acknowledgements sent (`codes`): the sender counts the message as delivered. None otherwise."""
    if outcome in ("AA", "CA") or any(code not in ("AA", "CA") for code in codes):
        return None
    return Finding(Severity.WARNING, "MSH-15", f"the {outcome} was not sent: {plan_.describe()} ask for no "
                   f"acknowledgement of it, so the sender is not told", "ack_mode")
