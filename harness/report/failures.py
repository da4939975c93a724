"""A failed scenario told in business words: interface, transaction code and Chinese name, one-line Chinese reason,
then the technical detail (expected, actual, the rest).

Steps raise `harness.failure.SpecFailure`, whose text `parse_failure` reads back. A failure in another form (a
bare assertion, an exception from a connector) keeps all its text as detail, under a generic Chinese reason naming
the step that failed. The transaction is the failure's `交易:` line, else the operation of the scenario's last
exchange with the mock (what the failing step was doing), and its Chinese name is the contract operation's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.failure import parse_failure

_TYPE_PREFIX = re.compile(r"^(?:(?:[a-z_]\w*\.)+([A-Z]\w*)|([A-Z]\w*(?:Error|Failure|Exception|Exit|Timeout)\w*)): ?")
DETAIL_LINES = 8
DETAIL_CHARS = 900


@dataclass(frozen=True)
class BusinessFailure:
    """One failed scenario as the sign-off pack shows it."""

    interface: str
    feature: str
    scenario: str
    transaction: str
    """The transaction code or message type (`2205`, `OML^O21`, `SubmitBloodOrder`), or ""."""
    transaction_name: str
    """Its Chinese name from the contract (`门诊费用明细撤销`), or ""."""
    reason: str
    expected: str | None
    actual: str | None
    detail: str
    """Technical detail, cut to a few lines (report.html has all of it)."""
    step: str
    """The step that failed (keyword and text), or ""."""

    @property
    def transaction_label(self) -> str:
        return " ".join(p for p in (self.transaction, self.transaction_name) if p)


def _without_type(text: str) -> tuple[str, str]:
    """(exception type name or "", the text without a leading `package.SpecFailure: `)."""
    match = _TYPE_PREFIX.match(text)
    return (match.group(1) or match.group(2), text[match.end():]) if match else ("", text)


def _cut(text: str) -> str:
    lines = text.strip().splitlines()
    cut = "\n".join(lines[:DETAIL_LINES])
    if len(cut) > DETAIL_CHARS:
        cut = cut[:DETAIL_CHARS].rstrip()
    return cut + (" …" if cut != text.strip() else "")


def _failed_step(scenario: dict[str, Any]) -> dict[str, Any] | None:
    return next((s for s in scenario.get("steps") or [] if s.get("status") in ("failed", "undefined")), None)


def _last_operation(exchanges: list[dict[str, Any]]) -> str:
    for exchange in reversed(exchanges):
        if isinstance(exchange.get("operation"), str) and exchange["operation"]:
            return str(exchange["operation"])
    return ""


def business_failure(scenario: dict[str, Any], exchanges: list[dict[str, Any]], operations: dict[str, str]) -> BusinessFailure:
    """The failure of one scenario row of summary.json, with its exchanges (evidence) and the contract's
    operation names (key -> Chinese name)."""
    step = _failed_step(scenario)
    step_text = f"{step.get('keyword', '')} {step.get('name', '')}".strip() if step else ""
    message = str(scenario.get("message") or (step or {}).get("error") or "").strip()
    kind, text = _without_type(message)
    parsed = parse_failure(text)
    spec_form = kind == "SpecFailure" or any(v is not None for v in (parsed.transaction, parsed.expected, parsed.actual))
    if spec_form and parsed.reason:
        reason, detail = parsed.reason, parsed.detail
    else:
        where = f"步骤「{step_text}」" if step_text else "场景"
        reason = f"{where}未通过：" + (f"出现异常 {kind}（见技术细节）" if kind and "Assertion" not in kind
                                       else "结果与规格不符（见技术细节）")
        detail = message
    transaction = (parsed.transaction or "").strip() or _last_operation(exchanges)
    code = transaction.split()[0] if transaction else ""
    return BusinessFailure(
        interface=str(scenario.get("interface", "")), feature=str(scenario.get("feature", "")),
        scenario=str(scenario.get("name", "")), transaction=code,
        transaction_name=operations.get(code, "") or " ".join(transaction.split()[1:]),
        reason=reason, expected=parsed.expected if spec_form else None, actual=parsed.actual if spec_form else None,
        detail=_cut(detail) if detail else "", step=step_text)
