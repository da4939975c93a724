"""A scenario failure in business words: the one-line Chinese reason a reviewer reads, then expected and actual.

Steps raise `SpecFailure` instead of a bare `assert`, so that every report (summary.json, junit.xml, report.html,
the sign-off pack) can show the reason first and the technical detail after it. The text form is the contract
between the steps and the reports, since results cross a process boundary as text:

    line 1      the reason, one Chinese sentence (`reason`)
    交易: CODE  the transaction or message type concerned, when known (`transaction`)
    期望: ...   what the specification expects (`expected`)
    实际: ...   what happened (`actual`)
    ...         any further technical detail (`detail`), possibly several lines

`parse_failure` reads that text back (also from a message that is not in this form: then all of it is the reason).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FailureText", "SpecFailure", "parse_failure"]

TRANSACTION = "交易: "
EXPECTED = "期望: "
ACTUAL = "实际: "


class SpecFailure(AssertionError):
    """A failed expectation of a spec step, told as reason, transaction, expected and actual."""

    def __init__(self, reason: str, *, expected: object = None, actual: object = None,
                 transaction: str | None = None, detail: str = "") -> None:
        self.reason = " ".join(reason.split())
        self.expected = None if expected is None else str(expected)
        self.actual = None if actual is None else str(actual)
        self.transaction = transaction
        self.detail = detail.strip()
        super().__init__(self.text())

    def text(self) -> str:
        lines = [self.reason]
        if self.transaction:
            lines.append(TRANSACTION + self.transaction)
        if self.expected is not None:
            lines.append(EXPECTED + " ".join(self.expected.split()))
        if self.actual is not None:
            lines.append(ACTUAL + " ".join(self.actual.split()))
        if self.detail:
            lines.append(self.detail)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


@dataclass(frozen=True)
class FailureText:
    """A failure message split into its parts (see the module docstring)."""

    reason: str
    transaction: str | None = None
    expected: str | None = None
    actual: str | None = None
    detail: str = ""


def parse_failure(message: str) -> FailureText:
    """The parts of a failure message written by `SpecFailure`; any other message is all reason."""
    lines = message.strip().splitlines()
    if not lines:
        return FailureText("")
    reason, rest = lines[0].strip(), lines[1:]
    found: dict[str, str] = {}
    detail: list[str] = []
    for line in rest:
        for key, prefix in (("transaction", TRANSACTION), ("expected", EXPECTED), ("actual", ACTUAL)):
            if line.startswith(prefix) and key not in found and not detail:
                found[key] = line[len(prefix):]
                break
        else:
            detail.append(line)
    if not found:  # not written by SpecFailure: keep the whole text together
        return FailureText(reason=reason, detail="\n".join(detail).strip())
    return FailureText(reason=reason, transaction=found.get("transaction"), expected=found.get("expected"),
                       actual=found.get("actual"), detail="\n".join(detail).strip())
