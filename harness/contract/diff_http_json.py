"""The differ of JSON-over-HTTP contracts: envelopes, per-transaction input and output schemas, HTTP settings.

Locations read `2207 input /data/pub_hosp_rfom_flag` (the pointer inside the transaction's `input` object),
`2207 output /setlinfo/balc` and `envelope request /sign_no`; on the wire these are `/input/...`, `/output/...`
and the envelope's own members, which is what the run history records and impact matching compares.
"""

from __future__ import annotations

from typing import Any

from harness.contract.diff import Change, Classification, Target, TransportDiff, register_differ, show
from harness.contract.diff_json_schema import (
    Comparator,
    Flattener,
    Part,
    Shape,
    bound_fields,
    canonical,
    table_of_ref,
    to_change,
)
from harness.contract.json_schemas import CODES_FILE, SchemaSet
from harness.contract.model import Contract

TRANSPORT = "http-json"
ENVELOPE_SIDES = {"request": "request", "response": "response", "gateway_error": "response"}


class _Schemas:
    """The shapes of one contract version's schema files."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.set: SchemaSet = contract.extra["schema_set"]
        self.flattener = Flattener(table_of_ref(CODES_FILE))
        self._cache: dict[str, Shape] = {}

    def shape(self, relpath: str) -> Shape:
        if relpath not in self._cache:
            resolved = self.set.registry.resolver().lookup(self.set.uri(relpath))
            self._cache[relpath] = self.flattener.flatten(resolved.contents, resolved.resolver)
        return self._cache[relpath]

    def tables(self) -> dict[str, tuple[str, ...]]:
        return {name: tuple(canonical(v) for v in table.values) for name, table in self.contract.code_tables.items()}


def _parts(contract: Contract) -> dict[tuple[str | None, str], tuple[Part, str]]:
    """Every schema-described part of a contract: (operation, part) -> (Part, schema file)."""
    parts: dict[tuple[str | None, str], tuple[Part, str]] = {}
    for key, rel in contract.envelope.items():
        side = ENVELOPE_SIDES.get(key, "response")
        parts[(None, f"envelope-{key}")] = (Part(f"envelope {key}", f"envelope-{key}", side), rel)
    for key, op in contract.operations.items():
        if op.input_schema:
            parts[(key, "input")] = (Part(f"{key} input", "input", "request", key, "/input"), op.input_schema)
        if op.output_schema:
            parts[(key, "output")] = (Part(f"{key} output", "output", "response", key, "/output"), op.output_schema)
    return parts


def diff_http_json(old: Contract, new: Contract) -> TransportDiff:
    result = TransportDiff()
    before, after = _Schemas(old), _Schemas(new)
    comparator = Comparator(before.tables(), after.tables())
    old_parts, new_parts = _parts(old), _parts(new)
    for versions, parts in ((before, old_parts), (after, new_parts)):
        for part, rel in parts.values():
            for pointer, table in bound_fields(versions.shape(rel)):
                target = Target(part.operation, part.side, part.wire + pointer, "field")
                result.bindings.setdefault(table, []).append(target)
    for key in dict.fromkeys([*old_parts, *new_parts]):
        operation, name = key
        if operation is not None and (operation not in old.operations or operation not in new.operations):
            continue  # a whole operation added or removed is one change, made by the common comparison
        if key not in new_parts:
            part, _ = old_parts[key]
            result.changes.append(_part_gone(part))
        elif key not in old_parts:
            part, _ = new_parts[key]
            result.changes.append(_part_new(part))
        else:
            (part, old_rel), (_, new_rel) = old_parts[key], new_parts[key]
            deltas = comparator.compare(before.shape(old_rel), after.shape(new_rel))
            result.changes.extend(to_change(d, part) for d in deltas)
    result.changes.extend(_operation_extras(old, new))
    result.changes.extend(_http(old, new))
    return result


def _part_gone(part: Part) -> Change:
    if part.side == "response":
        text = f"{part.label} no longer described (the reply carries no such part): readers that use it get nothing"
        classification = Classification.BREAKING
    else:
        text = f"{part.label} no longer described: the partner no longer checks it"
        classification = Classification.COMPATIBLE
    return Change(classification, "part-removed", f"{part.label} /", text, operation=part.operation, part=part.part,
                  side=part.side, targets=(Target(part.operation, part.side, part.wire or None, "field"),))


def _part_new(part: Part) -> Change:
    if part.side == "response":
        text = f"{part.label} now described: readers that ignored it are unaffected"
        classification = Classification.COMPATIBLE
    else:
        text = f"{part.label} now described and checked: requests that do not fit it are rejected"
        classification = Classification.BREAKING
    return Change(classification, "part-added", f"{part.label} /", text, operation=part.operation, part=part.part,
                  side=part.side, targets=(Target(part.operation, part.side),))


def _operation_extras(old: Contract, new: Contract) -> list[Change]:
    changes = []
    for key, op in new.operations.items():
        was = old.operations.get(key)
        if was is None:
            continue
        before, after = bool(was.extra.get("requires_sign_no", True)), bool(op.extra.get("requires_sign_no", True))
        if before != after:
            changes.append(Change(
                Classification.BREAKING if after else Classification.COMPATIBLE, "sign-in-changed",
                f"contract.yaml /transactions/{key}/requires_sign_no",
                f"{key} " + ("now needs the sign_no of a sign-in (9001): senders that call it first are refused" if after
                             else "no longer needs a sign-in: senders need not change"),
                operation=key, side="request", old=before, new=after, targets=(Target(key, "request"),)))
    return changes


def _http(old: Contract, new: Contract) -> list[Change]:
    changes: list[Change] = []
    if old.http is None or new.http is None:
        return changes
    every = (Target(None, "request"),)
    settings: list[tuple[str, Any, Any]] = [
        ("base_path", old.http.base_path, new.http.base_path),
        ("single_endpoint", old.http.single_endpoint, new.http.single_endpoint),
        ("content_type", old.http.content_type, new.http.content_type),
    ]
    for name, before, after in settings:
        if before == after:
            continue
        if name == "single_endpoint" and after and not before:
            classification, why = Classification.COMPATIBLE, "a second way in: the per-transaction paths still work"
        elif name == "content_type" and before.replace(" ", "").lower() == after.replace(" ", "").lower():
            classification, why = Classification.INFO, "the same media type spelt differently"
        else:
            classification, why = Classification.BREAKING, "senders using the old setting are refused"
        changes.append(Change(classification, "http-changed", f"contract.yaml /http/{name}",
                              f"http {name}: {show(before)} → {show(after)}: {why}", side="request", old=before,
                              new=after, targets=every))
    return changes


register_differ(TRANSPORT, diff_http_json, operations_key="transactions")
