"""The codec of JSON-over-HTTP contracts (the insurance platform): see `harness.contract.codec`.

The transaction of a request is its path under the contract's base path, or on the single endpoint the `infno`
of its body. A reply is checked as the transaction of its request, with the request (the rules that compare them
apply). A partner's echo is what the contract's `equals_request` rules say (medins_setl_id is the request's msgid).
"""

from __future__ import annotations

import json
from typing import Any

from harness.contract import jsonsafe
from harness.contract.codec import Seen, Wire
from harness.contract.findings import Finding, Severity
from harness.contract.http_json import HttpJsonValidator
from harness.contract.model import Contract
from harness.contract.rules import resolve_pointer

kind = "json"


def _validator(contract: Contract) -> HttpJsonValidator:
    found = contract.extra.get("json_validator")
    if not isinstance(found, HttpJsonValidator):
        found = HttpJsonValidator(contract)
        contract.extra["json_validator"] = found
    return found


def text(raw: bytes, contract: Contract) -> tuple[str, str]:
    return raw.decode("utf-8", errors="replace"), "utf-8"


def encode(text: str, charset: str) -> bytes:
    return text.encode(charset or "utf-8", errors="replace")


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def flatten(node: Any, path: str = "", out: dict[str, str] | None = None) -> dict[str, str]:
    """Leaves of a JSON document by pointer; an empty object or array is a leaf of its own (`{}`, `[]`)."""
    out = {} if out is None else out
    if isinstance(node, dict) and node:
        for key, value in node.items():
            flatten(value, f"{path}/{_escape(str(key))}", out)
    elif isinstance(node, list) and node:
        for index, value in enumerate(node):
            flatten(value, f"{path}/{index}", out)
    else:
        out[path or "/"] = node if isinstance(node, str) else json.dumps(node, ensure_ascii=False)
    return out


def fields(text: str) -> dict[str, str]:
    try:
        document = json.loads(text)
    except ValueError:
        return {"": text}
    return flatten(document)


def _base(contract: Contract) -> str:
    return contract.http.base_path.rstrip("/") if contract.http is not None else ""


def _body(contract: Contract, raw: bytes) -> tuple[Any, list[Finding]]:
    try:
        return jsonsafe.loads(raw, contract.limits.max_depth or jsonsafe.DEFAULT_MAX_DEPTH), []
    except jsonsafe.JsonRefused as exc:
        return None, [Finding(Severity.ERROR, "", exc.message, "json" if exc.reason != "depth" else "json-depth")]


def operation(contract: Contract, raw: bytes, wire: Wire) -> str | None:
    base = _base(contract)
    if wire.path.startswith(base + "/"):
        op = contract.operation_for_path(wire.path[len(base) + 1:])
        if op is not None:
            return op.key
    try:
        infno = json.loads(raw).get("infno")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return infno if isinstance(infno, str) and infno in contract.operations else None


def check_request(contract: Contract, raw: bytes, wire: Wire, direction: str) -> Seen:
    body, problems = _body(contract, raw)
    if problems:
        return Seen(operation(contract, raw, wire), problems)
    base = _base(contract)
    routed = contract.operation_for_path(wire.path[len(base) + 1:]) if wire.path.startswith(base + "/") else None
    checked = _validator(contract).validate_request(body, routed.key if routed is not None else None)
    return Seen(checked.operation, checked.findings, body)


def check_reply(contract: Contract, raw: bytes, wire: Wire, operation: str | None, request: bytes,
                direction: str) -> Seen:
    body, problems = _body(contract, raw)
    if problems:
        return Seen(operation, problems)
    asked, _ = _body(contract, request)
    checked = _validator(contract).validate_response(body, operation, asked)
    return Seen(operation, checked.findings, body)


def _set(document: Any, pointer: str, value: Any) -> bool:
    steps = [s.replace("~1", "/").replace("~0", "~") for s in pointer.split("/")[1:]]
    node = document
    for step in steps[:-1]:
        node = node.get(step) if isinstance(node, dict) else None
        if node is None:
            return False
    if not isinstance(node, dict) or not steps or steps[-1] not in node:
        return False
    node[steps[-1]] = value
    return True


def echo(contract: Contract, operation: str | None, request: str, reply: str) -> str:
    if operation is None:
        return reply
    rules = [r for r in contract.rules if r.kind == "equals_request" and r.where == "response"
             and operation in r.applies_to]
    if not rules:
        return reply
    try:
        asked, answer = json.loads(request), json.loads(reply)
    except ValueError:
        return reply
    changed = False
    for rule in rules:
        value = resolve_pointer(asked, rule.params["request"])
        if isinstance(value, str | int | float) and _set(answer, rule.params["field"], value):
            changed = True
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":")) if changed else reply
