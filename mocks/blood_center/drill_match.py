"""Whether one exchange of the hospital system meets a drill goal.

The request side is read from the journal's decoded request (every field zeep decoded); the answer side from the raw
SOAP reply, turned into nested fields by local name, so that answers the mock builds with lxml (issue notes) are read
as fully as the others. Paths are dotted and go through lists: `order.item.abo` is every line's ABO group.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from harness.contract import xmlsafe
from mocks.blood_center.drill import ANY, Match
from mocks.transport.journal import Exchange


def xml_fields(element: etree._Element) -> Any:
    """An element as nested fields: a leaf is its text; repeated children become a list."""
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return (element.text or "").strip()
    fields: dict[str, Any] = {}
    for child in children:
        name = etree.QName(child).localname
        value = xml_fields(child)
        if name in fields:
            existing = fields[name]
            fields[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            fields[name] = value
    return fields


def answer_fields(exchange: Exchange) -> dict[str, Any] | None:
    """The fields of the SOAP answer's body element (`{"Fault": ...}` for a fault); None when nothing came back."""
    if not exchange.response_raw:
        return None
    try:
        root = xmlsafe.parse(exchange.response_raw)
    except (xmlsafe.XmlRefused, etree.XMLSyntaxError, ValueError):
        return None
    body = next((c for c in root if isinstance(c.tag, str) and etree.QName(c).localname == "Body"), None)
    content = next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None
    if content is None:
        return None
    fields = xml_fields(content)
    return {etree.QName(content).localname: fields} if etree.QName(content).localname == "Fault" else \
        (fields if isinstance(fields, dict) else {})


def values(node: Any, path: str) -> list[Any]:
    """Every value at the dotted `path` under `node`, through lists; [] when there is none."""
    parts = path.split(".")

    def walk(item: Any, rest: list[str]) -> list[Any]:
        if isinstance(item, list):
            return [v for element in item for v in walk(element, rest)]
        if not rest:
            return [] if item is None else [item]
        if isinstance(item, dict) and rest[0] in item:
            return walk(item[rest[0]], rest[1:])
        return []

    return walk(node, parts)


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool):
        return str(value).lower() == str(expected).lower()
    if isinstance(expected, int | float):
        try:
            return Decimal(str(value)) == Decimal(str(expected))
        except InvalidOperation:
            return False
    return str(value) == str(expected)


def field_met(found: list[Any], expected: Any, facts: dict[str, list[str]]) -> bool:
    """Whether the values found at a path meet what the goal expects there (see drill.schema.json)."""
    if isinstance(expected, list):
        return any(_same(v, e) for v in found for e in expected)
    if isinstance(expected, dict):
        if "empty" in expected:
            filled = [v for v in found if v not in ("", [], {})]
            return not filled if expected["empty"] else bool(filled)
        if "not" in expected:
            return not any(_same(v, expected["not"]) for v in found)
        wanted = expected["contains"]
        wanted = facts.get(wanted.lstrip("$"), []) if isinstance(wanted, str) else wanted
        return bool(wanted) and set(wanted) <= {str(v) for v in found}
    return any(_same(v, expected) for v in found)


def met(match: Match, exchange: Exchange, facts: dict[str, list[str]]) -> bool:
    """Whether `exchange` (inbound) meets `match`."""
    if exchange.direction != "inbound" or (match.operation != ANY and exchange.operation != match.operation):
        return False
    if match.fault is not None and (exchange.fault is not None) != match.fault:
        return False
    if match.request:
        body = exchange.request.get("body") if isinstance(exchange.request, dict) else None
        if body is None or not all(field_met(values(body, p), e, facts) for p, e in match.request.items()):
            return False
    if match.answer:
        answer = answer_fields(exchange)
        if answer is None or not all(field_met(values(answer, p), e, facts) for p, e in match.answer.items()):
            return False
    return True
