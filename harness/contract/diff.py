"""Compare two versions of one interface's contract: each change located, classified and explained.

The parts every contract has (metadata, operations, code tables, formats, rules, signing) are compared here. The
message formats of a transport are compared by a *differ* registered for that transport with `register_differ`,
as `loader.register_format` registers a loader: `http-json` (JSON Schema) lives in `diff_http_json.py`; a SOAP
(WSDL/XSD) or HL7 profile differ registers itself the same way. A transport module that is not imported yet is
found by name: transport `hl7v2-mllp` loads `harness.contract.diff_hl7v2_mllp` if such a module exists.

Classification follows the direction of each message. A request is written by the hospital and checked by the
partner: a change that can make a request valid under the old version invalid under the new one breaks senders.
A response is written by the partner and read by the hospital: a change that can give readers something they
never got before (a missing field, a longer value, a new code) breaks readers. Descriptions are information.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.contract.model import Contract, Operation, Rule


class Classification(StrEnum):
    BREAKING = "breaking"
    COMPATIBLE = "compatible"
    INFO = "info"


ORDER = {Classification.BREAKING: 0, Classification.COMPATIBLE: 1, Classification.INFO: 2}


@dataclass(frozen=True)
class Target:
    """A part of the exchanges a change touches, to find the scenarios that exercise it.

    `operation` None means every operation; `side` is request or response (None: either); `path` locates a field
    in the message as it crosses the wire (a JSON pointer from the message root for JSON, `*` for every array
    item). `match` says what a scenario must show: `operation` (any message of that operation) or `field` (a
    message carrying `path`).
    """

    operation: str | None
    side: str | None = None
    path: str | None = None
    match: str = "operation"

    @property
    def field_name(self) -> str:
        """The last named token of `path` (what step text would mention), or ''."""
        for token in reversed((self.path or "").split("/")):
            if token and token != "*":
                return token.replace("~1", "/").replace("~0", "~")
        return ""


@dataclass(frozen=True)
class Change:
    """One difference between two contract versions."""

    classification: Classification
    category: str
    location: str
    """Where: `2207 input /data/pub_hosp_rfom_flag`, `envelope request /sign_no`, `contract.yaml /transactions/2207`."""
    message: str
    """What changed and why it is classified so (which side it breaks or why it does not)."""
    operation: str | None = None
    part: str = "contract"
    """input | output | envelope-request | envelope-response | envelope-gateway_error | contract."""
    pointer: str = ""
    side: str | None = None
    old: Any = None
    new: Any = None
    targets: tuple[Target, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "classification": self.classification.value, "category": self.category, "location": self.location,
            "operation": self.operation, "part": self.part, "pointer": self.pointer, "side": self.side,
            "message": self.message, "old": _jsonable(self.old), "new": _jsonable(self.new),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return sorted(_jsonable(v) for v in value) if isinstance(value, set | frozenset) else [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool | list):
        return value
    return str(value)


@dataclass
class TransportDiff:
    """What a transport differ found: its changes, and the fields bound to each code table (for their impact)."""

    changes: list[Change] = field(default_factory=list)
    bindings: dict[str, list[Target]] = field(default_factory=dict)
    """code table name -> every field (in either version) whose values are that table's codes."""
    notes: list[str] = field(default_factory=list)
    handled: frozenset[str] = frozenset()
    """Categories of the common comparison (`operation-removed`, `kind-changed`...) the differ reports itself with
    reasons of its own: the common changes of those categories are left out."""


Differ = Callable[[Contract, Contract], TransportDiff]
"""Compares the transport-specific parts of two versions of one interface (old, new)."""

_DIFFERS: dict[str, Differ] = {}
_OPERATIONS_KEY: dict[str, str] = {}


def register_differ(transport: str, differ: Differ, operations_key: str = "operations") -> None:
    """Teach `diff_contracts` the message formats of a transport (`http-json`, `soap`, `hl7v2-mllp`).

    `operations_key` is what the transport's contract.yaml calls its operations (`transactions`, `messages`),
    used in locations and texts.
    """
    _DIFFERS[transport] = differ
    _OPERATIONS_KEY[transport] = operations_key


def differ_for(transport: str) -> Differ | None:
    if transport not in _DIFFERS:
        module = "harness.contract.diff_" + transport.replace("-", "_").replace(".", "_")
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return _DIFFERS.get(transport)


@dataclass
class ContractDiff:
    """Every change from `old` to `new` of one interface, most severe first."""

    interface: str
    transport: str
    old: str
    new: str
    changes: list[Change]
    notes: list[str] = field(default_factory=list)

    @property
    def breaking(self) -> bool:
        return any(c.classification is Classification.BREAKING for c in self.changes)

    def counts(self) -> dict[str, int]:
        return {k.value: sum(1 for c in self.changes if c.classification is k) for k in Classification}

    def of(self, classification: Classification) -> list[Change]:
        return [c for c in self.changes if c.classification is classification]


# -- helpers shared with the transport differs ---------------------------------------------------------------
def by_side(side: str | None, effect: str) -> Classification:
    """Classification of an effect on the set of valid messages, seen from the side that must cope with it.

    `narrowed`: fewer messages are valid; `widened`: more are; `changed`: neither contains the other; `none`: no
    effect on validity. Narrowing breaks senders (requests) and is a promise to readers (responses); widening is
    the reverse. A change of unknown direction breaks both.
    """
    if effect == "none":
        return Classification.INFO
    if effect == "changed":
        return Classification.BREAKING
    if side == "response":
        return Classification.COMPATIBLE if effect == "narrowed" else Classification.BREAKING
    return Classification.BREAKING if effect == "narrowed" else Classification.COMPATIBLE


def show(value: Any) -> str:
    """A value as it reads in a message: JSON, unescaped."""
    if value is None:
        return "none"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


# -- the common parts -----------------------------------------------------------------------------------------
_METADATA = ("title", "title_en", "released", "supersedes", "document")


def _metadata(old: Contract, new: Contract) -> list[Change]:
    changes = []
    for key in _METADATA:
        before, after = getattr(old, key), getattr(new, key)
        if before != after:
            changes.append(Change(Classification.INFO, "metadata-changed", f"contract.yaml /{key}",
                                  f"{key}: {show(before or None)} → {show(after or None)}", old=before, new=after))
    return changes


def _operations(old: Contract, new: Contract) -> list[Change]:
    changes: list[Change] = []
    collection = _OPERATIONS_KEY.get(new.transport, "operations")
    word = collection.removesuffix("s")
    for key, op in old.operations.items():
        if key not in new.operations:
            changes.append(Change(
                Classification.BREAKING, "operation-removed", f"contract.yaml /{collection}/{_pointer_token(key)}",
                f"{word} {key} {op.name} removed: senders that call it are refused, readers lose its reply",
                operation=key, old=op.name, targets=(Target(key),)))
    for key, op in new.operations.items():
        if key not in old.operations:
            changes.append(Change(
                Classification.COMPATIBLE, "operation-added", f"contract.yaml /{collection}/{_pointer_token(key)}",
                f"{word} {key} {op.name} added: existing senders and readers are unaffected",
                operation=key, new=op.name, targets=(Target(key),)))
            continue
        changes.extend(_operation(key, old.operations[key], op, f"contract.yaml /{collection}/{_pointer_token(key)}"))
    return changes


def _operation(key: str, before: Operation, after: Operation, where: str) -> list[Change]:
    changes = []
    if before.path != after.path:
        changes.append(Change(
            Classification.BREAKING, "path-changed", f"{where}/path",
            f"path {show(before.path)} → {show(after.path)}: senders posting to the old path are refused",
            operation=key, side="request", old=before.path, new=after.path, targets=(Target(key, "request"),)))
    if before.idempotent and not after.idempotent:
        changes.append(Change(
            Classification.BREAKING, "idempotency-changed", f"{where}/idempotent",
            f"{key} is no longer idempotent: a sender that resends it after a lost reply now repeats the operation",
            operation=key, side="request", old=True, new=False, targets=(Target(key, "request"),)))
    elif after.idempotent and not before.idempotent:
        changes.append(Change(
            Classification.COMPATIBLE, "idempotency-changed", f"{where}/idempotent",
            f"{key} is now idempotent: resending it after a lost reply becomes safe; nothing else changes",
            operation=key, side="request", old=False, new=True, targets=(Target(key, "request"),)))
    for attr in ("name", "name_en", "kind"):
        if getattr(before, attr) != getattr(after, attr):
            changes.append(Change(
                Classification.INFO, f"{attr.replace('_', '-')}-changed", f"{where}/{attr}",
                f"{attr}: {show(getattr(before, attr) or None)} → {show(getattr(after, attr) or None)}",
                operation=key, old=getattr(before, attr), new=getattr(after, attr)))
    return changes


def _code_tables(old: Contract, new: Contract, bindings: dict[str, list[Target]]) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(set(old.code_tables) | set(new.code_tables)):
        where = f"contract.yaml /code_tables/{_pointer_token(name)}"
        bound = tuple(dict.fromkeys(bindings.get(name, [])))
        sides = {t.side for t in bound}
        before, after = old.code_tables.get(name), new.code_tables.get(name)
        used = f"bound to {len(bound)} field(s)" if bound else "bound to no field"
        if before is None:
            assert after is not None
            changes.append(Change(Classification.COMPATIBLE, "code-table-added", where,
                                  f"code table {name} ({after.title}) added, {used}", new=sorted(after.values),
                                  targets=bound))
            continue
        if after is None:
            changes.append(Change(Classification.BREAKING, "code-table-removed", where,
                                  f"code table {name} ({before.title}) removed: its codes are no longer defined",
                                  old=sorted(before.values), targets=bound))
            continue
        removed = [c for c in before.values if c not in after.values]
        added = [c for c in after.values if c not in before.values]
        if removed:
            breaks = "request" in sides or not bound
            why = ("senders that use them are rejected" if breaks
                   else "only responses carry them: readers get a subset of the codes they knew")
            if "response" in sides and breaks:
                why += "; responses no longer carry them"
            changes.append(Change(
                Classification.BREAKING if breaks else Classification.COMPATIBLE, "code-values-removed",
                f"{where}/values", f"code table {name}: {', '.join(show(c) for c in removed)} removed ({used}): {why}",
                old=removed, targets=bound))
        if added:
            breaks = "response" in sides
            why = ("responses may carry them: readers that map every code must learn them" if breaks
                   else "senders may use them; existing requests stay valid")
            changes.append(Change(
                Classification.BREAKING if breaks else Classification.COMPATIBLE, "code-values-added",
                f"{where}/values", f"code table {name}: {', '.join(show(c) for c in added)} added ({used}): {why}",
                new=added, targets=bound))
        for code in before.values:
            if code in after.values and before.values[code] != after.values[code]:
                changes.append(Change(
                    Classification.INFO, "code-meaning-changed", f"{where}/values/{_pointer_token(code)}",
                    f"code table {name}: {show(code)} reads {show(after.values[code])}, was {show(before.values[code])};"
                    " check whether the meaning changed or only the wording", old=before.values[code],
                    new=after.values[code], targets=bound))
        if before.title != after.title:
            changes.append(Change(Classification.INFO, "code-table-title-changed", f"{where}/title",
                                  f"code table {name}: title {show(before.title)} → {show(after.title)}",
                                  old=before.title, new=after.title))
    return changes


def _formats(old: Contract, new: Contract) -> list[Change]:
    changes = []
    every = (Target(None, "request"), Target(None, "response"))
    for name in sorted(set(old.formats) | set(new.formats)):
        where = f"contract.yaml /formats/{_pointer_token(name)}"
        before, after = old.formats.get(name), new.formats.get(name)
        if before is None:
            assert after is not None
            changes.append(Change(Classification.BREAKING, "format-added", where,
                                  f"format {name} {show(after.pattern)} added: values it names are now checked "
                                  "against it, so a value accepted before can be rejected", new=after.pattern, targets=every))
        elif after is None:
            changes.append(Change(Classification.COMPATIBLE, "format-removed", where,
                                  f"format {name} removed: values it named are no longer checked", old=before.pattern))
        else:
            if before.pattern != after.pattern:
                changes.append(Change(
                    Classification.BREAKING, "format-changed", f"{where}/pattern",
                    f"format {name}: pattern {show(before.pattern)} → {show(after.pattern)}: hih cannot prove the new "
                    "pattern accepts every value the old one did", old=before.pattern, new=after.pattern, targets=every))
            if before.description != after.description:
                changes.append(Change(Classification.INFO, "description-changed", f"{where}/description",
                                      f"format {name}: description {show(before.description)} → {show(after.description)}",
                                      old=before.description, new=after.description))
    return changes


def _rule_targets(rule: Rule, operations: tuple[str, ...]) -> tuple[Target, ...]:
    return tuple(Target(op, rule.where) for op in operations)


def _rules(old: Contract, new: Contract) -> list[Change]:
    changes: list[Change] = []
    before = {r.id: r for r in old.rules}
    after = {r.id: r for r in new.rules}
    for rid, rule in before.items():
        where = f"contract.yaml /rules/{_pointer_token(rid)}"
        if rid not in after:
            classification = Classification.BREAKING if rule.where == "response" else Classification.COMPATIBLE
            why = ("readers can no longer count on it" if rule.where == "response"
                   else "requests are no longer checked against it")
            changes.append(Change(classification, "rule-removed", where,
                                  f"{rule.where} rule {rid} ({rule.kind}) on {', '.join(rule.applies_to)} removed: {why}",
                                  side=rule.where, old=rule.message or rule.kind, targets=_rule_targets(rule, rule.applies_to)))
            continue
        new_rule = after[rid]
        if (rule.kind, rule.where, rule.params) != (new_rule.kind, new_rule.where, new_rule.params):
            changes.append(Change(
                Classification.BREAKING, "rule-changed", where,
                f"rule {rid}: {rule.kind} on {rule.where} {show(rule.params)} → {new_rule.kind} on {new_rule.where} "
                f"{show(new_rule.params)}: what it checks changed", side=new_rule.where,
                old=rule.params, new=new_rule.params,
                targets=_rule_targets(new_rule, tuple(dict.fromkeys(rule.applies_to + new_rule.applies_to)))))
            continue
        gained = tuple(op for op in new_rule.applies_to if op not in rule.applies_to)
        lost = tuple(op for op in rule.applies_to if op not in new_rule.applies_to)
        # a rule extended to a transaction the new version adds binds no existing sender or reader
        fresh = tuple(op for op in gained if op not in old.operations)
        gained = tuple(op for op in gained if op in old.operations)
        if fresh:
            changes.append(_rule_scope(new_rule, fresh, True, where, category="rule-extended", added=True))
        if gained:
            changes.append(_rule_scope(new_rule, gained, True, where))
        if lost:
            changes.append(_rule_scope(rule, lost, False, where))
        if rule.message != new_rule.message:
            changes.append(Change(Classification.INFO, "description-changed", f"{where}/message",
                                  f"rule {rid}: message {show(rule.message or None)} → {show(new_rule.message or None)}",
                                  old=rule.message, new=new_rule.message))
    for rid, rule in after.items():
        if rid not in before:
            changes.append(_rule_scope(rule, rule.applies_to, True, f"contract.yaml /rules/{_pointer_token(rid)}",
                                       category="rule-added"))
    return changes


def _rule_scope(rule: Rule, ops: tuple[str, ...], gained: bool, where: str, category: str = "",
                added: bool = False) -> Change:
    """A rule now (or no longer) checked on some operations: a new request check breaks senders, a response
    check gained is a promise to readers, one lost is a promise withdrawn. On transactions the new version `added`,
    either is compatible: no existing message is bound by it."""
    request = rule.where == "request"
    if added:
        return Change(Classification.COMPATIBLE, category, where,
                      f"{rule.where} rule {rule.id} ({rule.kind}) applies to the added {', '.join(ops)} as well",
                      side=rule.where, targets=_rule_targets(rule, ops))
    if gained:
        classification = Classification.BREAKING if request else Classification.COMPATIBLE
        why = "requests that ignore it are rejected" if request else "responses now promise it"
        verb = "added" if category else "now applies to"
    else:
        classification = Classification.COMPATIBLE if request else Classification.BREAKING
        why = "requests are no longer checked against it" if request else "readers can no longer count on it"
        verb = "no longer applies to"
    text = f"{rule.where} rule {rule.id} ({rule.kind}) {verb} {', '.join(ops)}: {why}"
    return Change(classification, category or ("rule-extended" if gained else "rule-narrowed"), where, text,
                  side=rule.where, targets=_rule_targets(rule, ops))


def _signing(old: Contract, new: Contract) -> list[Change]:
    before, after = old.signing, new.signing
    every = (Target(None, "request"),)
    if before == after:
        return []
    if before is None:
        assert after is not None
        return [Change(Classification.BREAKING, "signing-added", "contract.yaml /signing",
                       f"requests must now be signed ({after.scheme}): unsigned senders are refused", side="request",
                       new=after.scheme, targets=every)]
    if after is None:
        return [Change(Classification.COMPATIBLE, "signing-removed", "contract.yaml /signing",
                       f"requests need no longer be signed ({before.scheme} dropped)", side="request",
                       old=before.scheme, targets=every)]
    changes = []
    for attr in ("scheme", "headers", "algorithm"):
        b, a = getattr(before, attr), getattr(after, attr)
        if b != a:
            changes.append(Change(Classification.BREAKING, "signing-changed", f"contract.yaml /signing/{attr}",
                                  f"signing {attr}: {show(b)} → {show(a)}: senders signing the old way are refused",
                                  side="request", old=b, new=a, targets=every))
    if before.max_skew_s != after.max_skew_s:
        tighter = after.max_skew_s < before.max_skew_s
        changes.append(Change(
            Classification.BREAKING if tighter else Classification.COMPATIBLE, "signing-changed",
            "contract.yaml /signing/max_skew_s",
            f"signing clock skew {before.max_skew_s} s → {after.max_skew_s} s: "
            + ("senders with a clock further off are refused" if tighter else "senders are refused less often"),
            side="request", old=before.max_skew_s, new=after.max_skew_s, targets=every))
    return changes


def _limits(old: Contract, new: Contract) -> list[Change]:
    """A lowered input limit refuses what was accepted (breaking); a raised or dropped one refuses less."""
    changes = []
    for name in ("max_body_bytes", "max_depth", "max_headers", "max_header_bytes"):
        before, after = getattr(old.limits, name), getattr(new.limits, name)
        if before == after:
            continue
        tighter = after is not None and (before is None or after < before)
        shown = [value if value is not None else "the transport's default" for value in (before, after)]
        changes.append(Change(
            Classification.BREAKING if tighter else Classification.COMPATIBLE, "limits-changed",
            f"contract.yaml /limits/{name}", f"input limit {name} {shown[0]} → {shown[1]}: "
            + ("requests over the new limit are refused" if tighter else "requests are refused less often"),
            side="request", old=before, new=after, targets=(Target(None, "request"),)))
    return changes


def _group(change: Change) -> int:
    """Operations first (in contract order), then the envelope, then contract-wide parts."""
    if change.operation is not None:
        return 0
    return 1 if change.part.startswith("envelope") else 2


# -- entry point ----------------------------------------------------------------------------------------------
def diff_contracts(old: Contract, new: Contract) -> ContractDiff:
    """Every change from `old` to `new` (two versions of one interface), breaking first."""
    if old.interface != new.interface:
        raise ValueError(f"cannot compare {old.ref} with {new.ref}: different interfaces")
    changes = _metadata(old, new)
    notes: list[str] = []
    transport = TransportDiff()
    if old.transport != new.transport:
        changes.append(Change(Classification.BREAKING, "transport-changed", "contract.yaml /transport",
                              f"transport {old.transport} → {new.transport}: every sender and reader must change",
                              old=old.transport, new=new.transport, targets=(Target(None),)))
        notes.append("the transports differ: message formats were not compared")
    else:
        differ = differ_for(old.transport)  # imports the transport's module, which registers its differ
        if differ is None:
            notes.append(f"no message-format differ for transport {old.transport!r}: only contract.yaml was compared")
        else:
            transport = differ(old, new)
            notes.extend(transport.notes)
    changes += [c for c in _operations(old, new) if c.category not in transport.handled]
    changes += transport.changes
    changes += _code_tables(old, new, transport.bindings)
    changes += _formats(old, new)
    changes += _rules(old, new)
    changes += _signing(old, new)
    changes += _limits(old, new)
    order = {key: index for index, key in enumerate([*old.operations, *new.operations])}
    changes.sort(key=lambda c: (ORDER[c.classification], _group(c), order.get(c.operation or "", -1), c.part,
                                c.pointer, c.location))
    return ContractDiff(old.interface, new.transport, old.version, new.version, changes, notes)
