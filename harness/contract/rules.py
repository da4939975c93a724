"""Cross-field rules of a contract (sums, echoes, signs, conditional requirements), checked on JSON messages."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from harness.contract.findings import Finding, Severity
from harness.contract.model import Rule

_MISSING = object()


@lru_cache(maxsize=1024)
def _tokens(pointer: str) -> tuple[str, ...]:
    """A JSON pointer's reference tokens, unescaped (rules name a few pointers, resolved on every message)."""
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in pointer.lstrip("/").split("/")) if pointer else ()


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at a JSON pointer, or `_MISSING`."""
    node = document
    for token in _tokens(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return _MISSING
    return node


def as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _contains_key(node: Any, key: str) -> bool:
    """Whether `key` is a key of any object in the JSON document `node` (a plain recursion into objects and arrays
    only, not a generator per level: a mock runs it on every request)."""
    if isinstance(node, dict):
        if key in node:
            return True
        children: Any = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return False
    for child in children:
        if isinstance(child, (dict, list)) and _contains_key(child, key):
            return True
    return False


def _required_when_present(rule: Rule, message: Any, request: Any) -> list[Finding]:
    field, key = rule.params["field"], rule.params["when_present"]
    # the field is looked up first: when it is there (as in every good message) the input need not be searched
    if resolve_pointer(message, field) in (_MISSING, None, "") and _contains_key(resolve_pointer(message, "/input"), key):
        return [Finding(Severity.ERROR, field, rule.message or f"required when the input carries {key}", rule.id)]
    return []


_CENTS_BOUND = 2**50
"""Amounts up to this many cents (≈ 11 trillion yuan): a double's spacing there is under a fifth of a cent."""


def cents(value: Any) -> int | None:
    """A JSON number with at most two decimals (what amounts are), times 100, exactly; None for anything else.

    A float is taken only when it is the double nearest to a whole number of cents below `_CENTS_BOUND`: then the
    shortest text that spells it (what `as_decimal` reads) is that number of cents, since no other number of cents
    lies within the double's spacing. So two such values compare as their `Decimal`s do, at a tenth of the cost."""
    if type(value) is int:
        return value * 100
    if type(value) is float and -_CENTS_BOUND < value * 100 < _CENTS_BOUND:  # NaN and infinities fail too
        scaled = round(value * 100)
        if scaled / 100 == value:
            return scaled
    return None


def _sum(rule: Rule, message: Any, request: Any) -> list[Finding]:
    values = [resolve_pointer(message, p) for p in (rule.params["total"], *rule.params["parts"])]
    whole = [cents(v) for v in values]
    if None not in whole and whole[0] == sum(whole[1:]):  # type: ignore[arg-type]  # no None: checked
        return []  # the common case (amounts in whole cents that add up), decided exactly without Decimal
    total = as_decimal(values[0])
    parts = [as_decimal(v) for v in values[1:]]
    if total is None or any(p is None for p in parts):
        return []  # absent or mistyped values are the schema's finding, not this rule's
    added = sum((p for p in parts if p is not None), Decimal(0))
    if added != total:
        names = " + ".join(p.rsplit("/", 1)[-1] for p in rule.params["parts"])
        text = rule.message or f"{rule.params['total'].rsplit('/', 1)[-1]} {total} != {names} = {added}"
        return [Finding(Severity.ERROR, rule.params["total"], text, rule.id)]
    return []


def _equals_request(rule: Rule, message: Any, request: Any) -> list[Finding]:
    if request is None:
        return []
    value = resolve_pointer(message, rule.params["field"])
    expected = resolve_pointer(request, rule.params["request"])
    if value is _MISSING or expected is _MISSING or value == expected:
        return []
    text = rule.message or f"expected {expected!r} (request {rule.params['request']}), got {value!r}"
    return [Finding(Severity.ERROR, rule.params["field"], text, rule.id)]


def _sign(rule: Rule, message: Any, request: Any) -> list[Finding]:
    findings = []
    want = rule.params["sign"]
    for pointer in rule.params["fields"]:
        value = as_decimal(resolve_pointer(message, pointer))
        if value is None:
            continue
        ok = value <= 0 if want == "negative_or_zero" else value >= 0
        if not ok:
            findings.append(Finding(Severity.ERROR, pointer, rule.message or f"must be {want.replace('_', ' ')}: {value}", rule.id))
    return findings


CHECKS: dict[str, Callable[[Rule, Any, Any], list[Finding]]] = {
    "required_when_present": _required_when_present,
    "sum": _sum,
    "equals_request": _equals_request,
    "sign": _sign,
}


def check_rules(rules: list[Rule], where: str, operation: str, message: Any, request: Any = None) -> list[Finding]:
    """Findings of every rule for `where` (request|response) that applies to `operation`."""
    findings: list[Finding] = []
    for rule in rules:
        if rule.where == where and operation in rule.applies_to:
            findings.extend(CHECKS[rule.kind](rule, message, request))
    return findings
