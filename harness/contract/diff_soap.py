"""The differ of SOAP contracts (transport `soap`): operations, SOAP settings, and the XSD of every message.

Each operation's input (the request, written by the hospital) and output (the response, read by the hospital) is
flattened from its body element into fields keyed by path (`/order/item/aboGroup`, attributes as `@name`): the
occurrence in the whole message (a field under an optional parent or in a choice is optional; maxOccurs multiply),
the simple type's built-in base and its facets (enumeration, pattern, length, maxLength/minLength, the inclusive and
exclusive bounds, totalDigits/fractionDigits) or `complex`. Named types, `ref`, `complexContent`/`simpleContent`
extension and nested `sequence`/`choice`/`all` are followed; a construct hih does not model (`xs:any`, a list or
union type, an attribute group, a recursive type) gives an `info` change saying it was not compared.

Payload record types (XML records carried as text, each with its own XSD) are compared from their root element
the same way, as requests (the hospital writes them). Locations read `SubmitOrder input /order/item/aboGroup`,
`SubmitOrder output /status`, `payload BIRTH_NOTICE /BirthNotice/sex`. Classification per side follows `by_side`:
narrowing breaks senders, widening breaks readers, a replaced type or pattern breaks both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from harness.contract.diff import (
    Change,
    Classification,
    Target,
    TransportDiff,
    by_side,
    register_differ,
    show,
)
from harness.contract.model import Contract
from harness.contract.soap import TRANSPORT, SoapSpec, spec_of
from harness.contract.soap_wsdl import XS, local_name, resolve_qname

BREAKING, COMPATIBLE, INFO = Classification.BREAKING, Classification.COMPATIBLE, Classification.INFO
NUMERIC_FACETS = ("minInclusive", "maxInclusive", "minExclusive", "maxExclusive")
COUNT_FACETS = ("length", "maxLength", "minLength", "totalDigits", "fractionDigits")
MAX_DEPTH = 40


def _q(name: str) -> str:
    return f"{{{XS}}}{name}"


# -- the flattened shape of a message ---------------------------------------------------------------------------
@dataclass
class Field:
    """One element or attribute of a message, as it can occur in the whole message."""

    min: int
    max: float
    kind: str = "simple"
    """simple | complex | unknown"""
    base: str = ""
    """The built-in type at the root of the simple type (`string`, `int`), or '' for a complex one."""
    type_name: str | None = None
    """The named type (Clark) of the declaration, None for an anonymous one."""
    facets: dict[str, Any] = field(default_factory=dict)
    nillable: bool = False
    bound_type: str | None = None
    """The nearest named simple type that carries the enumeration (to find its code table)."""

    @property
    def card(self) -> str:
        return f"{self.min}..{'*' if self.max == math.inf else int(self.max)}"


@dataclass
class Shape:
    fields: dict[str, Field] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)
    """path -> the construct that was not compared there."""


class _Schemas:
    """The global declarations of one contract version's schemas (WSDL-embedded, imported, included, payload)."""

    def __init__(self, contract: Contract) -> None:
        self.elements: dict[str, etree._Element] = {}
        self.complex: dict[str, etree._Element] = {}
        self.simple: dict[str, etree._Element] = {}
        self.attribute_groups: dict[str, etree._Element] = {}
        self.groups: dict[str, etree._Element] = {}
        for root in contract.schemas.values():
            schemas = [root] if root.tag == _q("schema") else list(root.iter(_q("schema")))
            for schema in schemas:
                target = schema.get("targetNamespace")
                for child in schema:
                    name = child.get("name")
                    if not name or not isinstance(child.tag, str):
                        continue
                    key = f"{{{target}}}{name}" if target else name
                    table = {_q("element"): self.elements, _q("complexType"): self.complex,
                             _q("simpleType"): self.simple, _q("group"): self.groups,
                             _q("attributeGroup"): self.attribute_groups}.get(child.tag)
                    if table is not None:
                        table.setdefault(key, child)

    # -- simple types ------------------------------------------------------------------------------------------
    def simple_of(self, node: etree._Element | None, name: str | None, into: Field, where: str, shape: Shape,
                  depth: int = 0) -> None:
        """Fill `into` with the base and facets of a simple type given by name (Clark) or as an inline node."""
        if depth > MAX_DEPTH:
            shape.unknown.setdefault(where, "a simple type derived too deeply")
            return
        if node is None:
            if name is None:
                into.base = into.base or "anySimpleType"
                return
            if name.startswith(f"{{{XS}}}"):
                into.base = local_name(name)
                return
            node = self.simple.get(name)
            if node is None:
                into.base = into.base or name
                shape.unknown.setdefault(where, f"type {local_name(name)} (not found in the schemas)")
                return
        restriction = node.find(_q("restriction"))
        if restriction is None:
            construct = "list" if node.find(_q("list")) is not None else "union"
            into.base = f"{construct}"
            shape.unknown.setdefault(where, f"a simple type {construct}")
            return
        # facets of the most derived type win; bases add what they constrain and the derived one does not
        for facet in restriction:
            if not isinstance(facet.tag, str):
                continue
            key, value = local_name(facet.tag), facet.get("value")
            if key == "enumeration":
                if "enumeration" not in into.facets or into.facets.get("_enum_from") == depth:
                    into.facets.setdefault("enumeration", ())
                    into.facets["enumeration"] = (*into.facets["enumeration"], value)
                    into.facets["_enum_from"] = depth
                    if into.bound_type is None and name is not None:
                        into.bound_type = name
            elif key == "pattern":
                if "pattern" not in into.facets or into.facets.get("_pattern_from") == depth:
                    into.facets["pattern"] = (*into.facets.get("pattern", ()), value)
                    into.facets["_pattern_from"] = depth
            elif key in COUNT_FACETS or key in NUMERIC_FACETS:
                into.facets.setdefault(key, value)
            elif key in ("whiteSpace", "annotation"):
                continue
            elif key == "simpleType":
                self.simple_of(facet, None, into, where, shape, depth + 1)
                return
            else:
                shape.unknown.setdefault(where, f"facet {key}")
        base = resolve_qname(restriction, restriction.get("base"))
        if base is None and restriction.find(_q("simpleType")) is None:
            into.base = "anySimpleType"
        elif base is not None:
            self.simple_of(None, base, into, where, shape, depth + 1)

    # -- elements and complex types ----------------------------------------------------------------------------
    def flatten(self, element: str, with_root: bool = False) -> Shape:
        """The fields under the global element `element`; paths start below it, or at it when `with_root`."""
        shape = Shape()
        decl = self.elements.get(element)
        if decl is None:
            shape.unknown["/"] = f"element {local_name(element)} (not found in the schemas)"
            return shape
        self._content(decl, f"/{local_name(element)}" if with_root else "", 1, 1, shape, (), 0)
        return shape

    def _declaration(self, decl: etree._Element, prefix: str, pmin: int, pmax: float, shape: Shape,
                     stack: tuple[str, ...], depth: int) -> None:
        """An `xs:element` inside a particle: recorded at `prefix/name`, then its content."""
        low, high = _occurs(decl)
        target = decl
        if decl.get("ref"):
            ref = resolve_qname(decl, decl.get("ref"))
            target = self.elements.get(ref or "")
            if target is None:
                shape.unknown.setdefault(f"{prefix}/{local_name(decl.get('ref', ''))}", "an element ref not found")
                return
        name = target.get("name") or "?"
        path = f"{prefix}/{name}"
        self._content(target, path, pmin * low, _mul(pmax, high), shape, stack, depth)

    def _content(self, decl: etree._Element, path: str, low: int, high: float, shape: Shape,
                 stack: tuple[str, ...], depth: int) -> None:
        if depth > MAX_DEPTH:
            shape.unknown.setdefault(path or "/", "nesting too deep")
            return
        type_name = resolve_qname(decl, decl.get("type"))
        item = Field(low, high, type_name=type_name, nillable=decl.get("nillable") in ("true", "1"))
        if path:
            shape.fields[path] = item
        inline_complex = decl.find(_q("complexType"))
        inline_simple = decl.find(_q("simpleType"))
        if inline_complex is not None:
            item.kind, item.base = "complex", ""
            self._complex(inline_complex, path, low, high, shape, stack, depth + 1, item)
        elif inline_simple is not None:
            self.simple_of(inline_simple, None, item, path, shape)
        elif type_name is not None and type_name in self.complex:
            item.kind = "complex"
            if type_name in stack:
                shape.unknown.setdefault(path, f"recursive type {local_name(type_name)}")
                return
            self._complex(self.complex[type_name], path, low, high, shape, (*stack, type_name), depth + 1, item)
        elif type_name == f"{{{XS}}}anyType":
            item.kind = "unknown"
            shape.unknown.setdefault(path or "/", "xs:anyType")
        elif type_name is None:
            item.base = "anyType"
        else:
            self.simple_of(None, type_name, item, path, shape)

    def _complex(self, node: etree._Element, path: str, low: int, high: float, shape: Shape,
                 stack: tuple[str, ...], depth: int, item: Field) -> None:
        for child in node:
            if not isinstance(child.tag, str):
                continue
            tag = local_name(child.tag)
            if tag in ("sequence", "choice", "all"):
                self._particle(child, path, low, high, shape, stack, depth)
            elif tag == "attribute":
                self._attribute(child, path, low, high, shape)
            elif tag in ("complexContent", "simpleContent"):
                derivation = next((c for c in child if isinstance(c.tag, str) and local_name(c.tag) in
                                   ("extension", "restriction")), None)
                if derivation is None:
                    shape.unknown.setdefault(path or "/", f"an empty {tag}")
                    continue
                base = resolve_qname(derivation, derivation.get("base"))
                if tag == "simpleContent":
                    item.kind = "simple"
                    if local_name(derivation.tag) == "restriction":
                        shape.unknown.setdefault(path or "/", "a simpleContent restriction")
                    self.simple_of(None, base, item, path, shape)
                elif local_name(derivation.tag) == "extension" and base in self.complex:
                    if base in stack:
                        shape.unknown.setdefault(path or "/", f"recursive type {local_name(base or '')}")
                    else:
                        self._complex(self.complex[base], path, low, high, shape, (*stack, base), depth + 1, item)
                elif local_name(derivation.tag) == "extension" and base != f"{{{XS}}}anyType":
                    shape.unknown.setdefault(path or "/", f"an extension of {local_name(base or '?')}")
                self._complex(derivation, path, low, high, shape, stack, depth + 1, item)
            elif tag in ("annotation",):
                continue
            elif tag == "group" and child.get("ref"):
                group = self.groups.get(resolve_qname(child, child.get("ref")) or "")
                if group is None:
                    shape.unknown.setdefault(path or "/", "a group ref not found")
                else:
                    self._complex(group, path, low, high, shape, stack, depth + 1, item)
            elif tag == "anyAttribute":
                shape.unknown.setdefault(f"{path}/@*", "xs:anyAttribute")
            else:
                shape.unknown.setdefault(path or "/", f"xs:{tag}")

    def _particle(self, node: etree._Element, path: str, low: int, high: float, shape: Shape,
                  stack: tuple[str, ...], depth: int) -> None:
        own_low, own_high = _occurs(node)
        low, high = low * own_low, _mul(high, own_high)
        kind = local_name(node.tag)
        branches = [c for c in node if isinstance(c.tag, str) and local_name(c.tag) != "annotation"]
        if kind == "choice" and len(branches) > 1:
            low = 0
        for child in branches:
            tag = local_name(child.tag)
            if tag == "element":
                self._declaration(child, path, low, high, shape, stack, depth)
            elif tag in ("sequence", "choice", "all"):
                self._particle(child, path, low, high, shape, stack, depth + 1)
            elif tag == "group" and child.get("ref"):
                group = self.groups.get(resolve_qname(child, child.get("ref")) or "")
                g_low, g_high = _occurs(child)
                inner = [c for c in (group if group is not None else []) if isinstance(c.tag, str)
                         and local_name(c.tag) in ("sequence", "choice", "all")]
                if not inner:
                    shape.unknown.setdefault(path or "/", "a group ref not found")
                for particle in inner:
                    self._particle(particle, path, low * g_low, _mul(high, g_high), shape, stack, depth + 1)
            elif tag == "any":
                shape.unknown.setdefault(f"{path}/*", "xs:any (any element)")
            else:
                shape.unknown.setdefault(path or "/", f"xs:{tag}")

    def _attribute(self, node: etree._Element, path: str, low: int, high: float, shape: Shape) -> None:
        decl = node
        name = node.get("name")
        if node.get("ref"):
            shape.unknown.setdefault(f"{path}/@{local_name(node.get('ref', ''))}", "an attribute ref")
            return
        if node.get("use") == "prohibited":
            return
        required = node.get("use") == "required"
        item = Field(low if required else 0, high, type_name=resolve_qname(decl, decl.get("type")))
        at = f"{path}/@{name}"
        shape.fields[at] = item
        inline = node.find(_q("simpleType"))
        self.simple_of(inline, item.type_name if inline is None else None, item, at, shape)


def _occurs(node: etree._Element) -> tuple[int, float]:
    try:
        low = int(node.get("minOccurs", "1"))
    except ValueError:
        low = 1
    raw = node.get("maxOccurs", "1")
    try:
        high = math.inf if raw == "unbounded" else float(int(raw))
    except ValueError:
        high = 1.0
    return low, high


def _mul(a: float, b: float) -> float:
    if a == 0 or b == 0:
        return 0.0
    return a * b


# -- comparing two shapes ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Part:
    label: str
    """`SubmitOrder input`, `payload BIRTH_NOTICE`."""
    part: str
    side: str
    operations: tuple[str | None, ...]

    @property
    def operation(self) -> str | None:
        return self.operations[0] if len(self.operations) == 1 else None

    def targets(self, path: str | None) -> tuple[Target, ...]:
        match = "field" if path else "operation"
        return tuple(Target(op, self.side, path or None, match) for op in self.operations)


WHO = {"request": "senders", "response": "readers"}


def _why(side: str, effect: str) -> str:
    if effect == "changed":
        return "neither accepts all the other does: senders and readers must both change"
    if effect == "narrowed":
        return ("requests valid before can be rejected" if side == "request"
                else "readers get a subset of what they got before")
    return ("existing requests stay valid" if side == "request"
            else "readers may get values they never got before")


class _Comparator:
    def __init__(self, part: _Part, old_sets: dict[str, str], new_sets: dict[str, str]) -> None:
        self.part = part
        self.old_sets, self.new_sets = old_sets, new_sets
        self.changes: list[Change] = []

    def add(self, classification: Classification, category: str, path: str, text: str, old: Any = None,
            new: Any = None) -> None:
        self.changes.append(Change(classification, category, f"{self.part.label} {path or '/'}", text,
                                   operation=self.part.operation, part=self.part.part, pointer=path,
                                   side=self.part.side, old=old, new=new, targets=self.part.targets(path)))

    def effect(self, category: str, path: str, effect: str, text: str, old: Any = None, new: Any = None) -> None:
        self.add(by_side(self.part.side, effect), category, path, f"{text}: {_why(self.part.side, effect)}", old, new)

    def compare(self, before: Shape, after: Shape) -> list[Change]:
        side = self.part.side
        gone = [p for p in before.fields if p not in after.fields]
        new = [p for p in after.fields if p not in before.fields]
        for path in gone:
            if _parent_listed(path, gone):
                continue
            why = ("senders that fill it are rejected" if side == "request"
                   else "readers that use it no longer get it")
            self.add(BREAKING, "field-removed", path, f"{_name(path)} removed: {why}", old=before.fields[path].card)
        for path in new:
            if _parent_listed(path, new):
                continue
            item = after.fields[path]
            if item.min > 0 and side == "request":
                self.add(BREAKING, "field-added", path,
                         f"{_name(path)} added, required ({item.card}): senders that leave it out are rejected",
                         new=item.card)
            elif item.min > 0:
                self.add(COMPATIBLE, "field-added", path,
                         f"{_name(path)} added, always present ({item.card}): readers that ignore it are unaffected",
                         new=item.card)
            else:
                self.add(COMPATIBLE, "field-added", path, f"{_name(path)} added, optional ({item.card}): "
                         + ("existing requests stay valid" if side == "request" else "readers that ignore it are unaffected"),
                         new=item.card)
        for path, old_field in before.fields.items():
            if path in after.fields:
                self.field(path, old_field, after.fields[path])
        for path in sorted(set(before.unknown) | set(after.unknown)):
            what = after.unknown.get(path) or before.unknown[path]
            self.add(INFO, "not-compared", path, f"{what} not compared")
        return self.changes

    def field(self, path: str, old: Field, new: Field) -> None:
        name = _name(path)
        if old.min < new.min:
            self.effect("cardinality-changed", path, "narrowed",
                        f"{name} now required ({old.card} → {new.card})", old.card, new.card)
        elif old.min > new.min:
            self.effect("cardinality-changed", path, "widened",
                        f"{name} now optional ({old.card} → {new.card})", old.card, new.card)
        if old.max > new.max:
            self.effect("cardinality-changed", path, "narrowed",
                        f"{name} may occur fewer times ({old.card} → {new.card})", old.card, new.card)
        elif old.max < new.max:
            self.effect("cardinality-changed", path, "widened",
                        f"{name} may occur more times ({old.card} → {new.card})", old.card, new.card)
        if old.kind != new.kind or old.base != new.base:
            was = old.base or old.kind
            now = new.base or new.kind
            self.add(BREAKING, "type-changed", path,
                     f"{name} type {was} → {now}: senders and readers of the old type must change", was, now)
            return
        if old.type_name != new.type_name and old.type_name and new.type_name:
            self.add(INFO, "type-renamed", path,
                     f"{name} type {local_name(old.type_name or 'anonymous')} → {local_name(new.type_name or 'anonymous')}"
                     " (same base; its facets are compared below)", old.type_name, new.type_name)
        if old.nillable != new.nillable:
            self.effect("nillable-changed", path, "widened" if new.nillable else "narrowed",
                        f"{name} {'may now be' if new.nillable else 'may no longer be'} nil", old.nillable, new.nillable)
        self.facets(path, old, new)

    def facets(self, path: str, old: Field, new: Field) -> None:
        name = _name(path)
        a, b = old.facets, new.facets
        table_before = self.old_sets.get(old.bound_type or "")
        table_after = self.new_sets.get(new.bound_type or "")
        bound = table_before is not None and table_before == table_after
        if not bound and a.get("enumeration") != b.get("enumeration"):
            before, after = a.get("enumeration"), b.get("enumeration")
            if before is None:
                self.effect("values-changed", path, "narrowed", f"{name} now limited to {show(list(after or ()))}",
                            None, after)
            elif after is None:
                self.effect("values-changed", path, "widened", f"{name} no longer an enumeration (was "
                            f"{show(list(before))})", before, None)
            else:
                removed = [v for v in before if v not in after]
                added = [v for v in after if v not in before]
                if removed:
                    self.effect("values-removed", path, "narrowed",
                                f"{name}: {', '.join(show(v) for v in removed)} no longer allowed", removed, None)
                if added:
                    self.effect("values-added", path, "widened",
                                f"{name}: {', '.join(show(v) for v in added)} now allowed", None, added)
        if a.get("pattern") != b.get("pattern"):
            before, after = a.get("pattern"), b.get("pattern")
            effect = "narrowed" if before is None else "widened" if after is None else "changed"
            self.effect("pattern-changed", path, effect, f"{name} pattern {show(before and list(before))} → "
                        f"{show(after and list(after))}", before, after)
        for key in COUNT_FACETS:
            before, after = a.get(key), b.get(key)
            if before == after:
                continue
            effect = _bound_effect(key, before, after)
            self.effect("length-changed" if "ength" in key else "digits-changed", path, effect,
                        f"{name} {key} {show(before)} → {show(after)}", before, after)
        for key in NUMERIC_FACETS:
            before, after = a.get(key), b.get(key)
            if before == after:
                continue
            self.effect("range-changed", path, _bound_effect(key, before, after),
                        f"{name} {key} {show(before)} → {show(after)}", before, after)


def _bound_effect(key: str, before: str | None, after: str | None) -> str:
    """narrowed | widened | changed for a facet that bounds values from above (`max…`, lengths, digits) or below."""
    if key == "length":
        return "changed"
    upper = key.startswith("max") or key in ("totalDigits", "fractionDigits")
    if before is None:
        return "narrowed"
    if after is None:
        return "widened"
    try:
        old, new = Decimal(before), Decimal(after)
    except InvalidOperation:
        return "changed"
    tighter = new < old if upper else new > old
    return "narrowed" if tighter else "widened"


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1] or path


def _parent_listed(path: str, paths: list[str]) -> bool:
    return any(path.startswith(other + "/") for other in paths)


# -- the parts of a contract ------------------------------------------------------------------------------------
def _parts(spec: SoapSpec) -> dict[tuple[str, str], tuple[_Part, str]]:
    """(operation or payload type, part) -> (the part, its root element Clark name)."""
    parts: dict[tuple[str, str], tuple[_Part, str]] = {}
    for name, op in spec.operations.items():
        if op.input:
            parts[(name, "input")] = (_Part(f"{name} input", "input", "request", (name,)), op.input)
        if op.output:
            parts[(name, "output")] = (_Part(f"{name} output", "output", "response", (name,)), op.output)
    for tname, ptype in spec.payload_types.items():
        carriers = tuple(n for n, op in spec.operations.items()
                         if op.payload is not None and (not op.payload.types or tname in op.payload.types))
        parts[(tname, "payload")] = (_Part(f"payload {tname}", "payload", "request", carriers or (None,)), ptype.root)
    return parts


def diff_soap(old: Contract, new: Contract) -> TransportDiff:
    result = TransportDiff()
    before, after = spec_of(old), spec_of(new)
    schemas_before, schemas_after = _Schemas(old), _Schemas(new)
    old_parts, new_parts = _parts(before), _parts(after)
    shapes: dict[tuple[int, str, str], Shape] = {}

    def shape(schemas: _Schemas, root: str, part: _Part) -> Shape:
        key = (id(schemas), root, part.part)
        if key not in shapes:
            shapes[key] = schemas.flatten(root, with_root=part.part == "payload")
        return shapes[key]

    for spec, schemas, parts in ((before, schemas_before, old_parts), (after, schemas_after, new_parts)):
        for part, root in parts.values():
            for path, item in shape(schemas, root, part).fields.items():
                table = spec.value_sets.get(item.bound_type or "")
                if table is not None:
                    result.bindings.setdefault(table, []).extend(part.targets(path))
    for key in dict.fromkeys([*old_parts, *new_parts]):
        owner, kind = key
        if kind != "payload" and (owner not in before.operations or owner not in after.operations):
            continue  # a whole operation added or removed is one change, made by the common comparison
        if key not in new_parts:
            part, _ = old_parts[key]
            if kind == "payload":
                result.changes.append(Change(BREAKING, "payload-type-removed", f"contract.yaml /payload_types/{owner}",
                                             f"payload record type {owner} removed: senders of such records are refused",
                                             operation=part.operation, part="payload", side="request",
                                             targets=part.targets(None)))
            continue
        if key not in old_parts:
            part, _ = new_parts[key]
            if kind == "payload":
                result.changes.append(Change(COMPATIBLE, "payload-type-added", f"contract.yaml /payload_types/{owner}",
                                             f"payload record type {owner} added: existing senders are unaffected",
                                             operation=part.operation, part="payload", side="request",
                                             targets=part.targets(None)))
            continue
        (part, old_root), (new_part, new_root) = old_parts[key], new_parts[key]
        if old_root != new_root:
            result.changes.append(Change(
                BREAKING, "body-changed", f"{part.label} /",
                f"{part.label} root element {local_name(old_root)} → {local_name(new_root)}: "
                f"{WHO[part.side]} of the old element must change", operation=part.operation, part=part.part,
                side=part.side, old=old_root, new=new_root, targets=part.targets(None)))
        comparator = _Comparator(new_part, before.value_sets, after.value_sets)
        result.changes.extend(comparator.compare(shape(schemas_before, old_root, part), shape(schemas_after, new_root, new_part)))
    result.changes.extend(_operations(before, after))
    result.changes.extend(_settings(before, after))
    return result


def _operations(before: SoapSpec, after: SoapSpec) -> list[Change]:
    changes: list[Change] = []
    for name, op in after.operations.items():
        was = before.operations.get(name)
        if was is None:
            continue
        where = f"contract.yaml /operations/{name}"
        request = (Target(name, "request"),)
        if was.soap_action != op.soap_action:
            changes.append(Change(BREAKING, "soap-action-changed", f"{where}/soap_action",
                                  f"SOAPAction {show(was.soap_action)} → {show(op.soap_action)}: senders sending the "
                                  "old action are refused", operation=name, side="request", old=was.soap_action,
                                  new=op.soap_action, targets=request))
        if was.auth != op.auth:
            changes.append(Change(
                BREAKING if op.auth else COMPATIBLE, "auth-changed", f"{where}/auth",
                f"{name} " + ("now needs the auth header: senders that call it without credentials are refused"
                              if op.auth else "no longer needs the auth header: senders need not change"),
                operation=name, side="request", old=was.auth, new=op.auth, targets=request))
        old_payload = was.payload.element if was.payload else None
        new_payload = op.payload.element if op.payload else None
        if old_payload != new_payload:
            changes.append(Change(BREAKING, "payload-changed", f"{where}/payload",
                                  f"{name} payload element {show('/'.join(old_payload) if old_payload else None)} → "
                                  f"{show('/'.join(new_payload) if new_payload else None)}: senders of records must change",
                                  operation=name, side="request", targets=request))
        elif was.payload and op.payload and was.payload.types != op.payload.types:
            gone = [t for t in was.payload.types or before.payload_types if t not in (op.payload.types or after.payload_types)]
            changes.append(Change(BREAKING if gone else COMPATIBLE, "payload-changed", f"{where}/payload/types",
                                  f"{name} record types {show(list(was.payload.types) or 'all')} → "
                                  f"{show(list(op.payload.types) or 'all')}: "
                                  + ("senders of the dropped types are refused" if gone else "existing senders are unaffected"),
                                  operation=name, side="request", targets=request))
    return changes


def _settings(before: SoapSpec, after: SoapSpec) -> list[Change]:
    changes: list[Change] = []
    every = (Target(None, "request"),)
    if before.version != after.version:
        changes.append(Change(BREAKING, "soap-changed", "contract.yaml /soap/version",
                              f"SOAP {before.version} → {after.version}: envelopes and content type change for every "
                              "sender and reader", side="request", old=before.version, new=after.version, targets=every))
    if before.max_bytes != after.max_bytes:
        smaller = after.max_bytes < before.max_bytes
        changes.append(Change(BREAKING if smaller else COMPATIBLE, "soap-changed", "contract.yaml /soap/max_bytes",
                              f"largest message {before.max_bytes} → {after.max_bytes} bytes: "
                              + ("larger requests are refused" if smaller else "existing requests stay within it"),
                              side="request", old=before.max_bytes, new=after.max_bytes, targets=every))
    a, b = before.auth, after.auth
    if a is not None and b is not None:
        for attr in ("header", "credentials", "fault_code"):
            if getattr(a, attr) != getattr(b, attr):
                changes.append(Change(BREAKING, "auth-changed", f"contract.yaml /auth/{attr}",
                                      f"auth {attr} {show(_plain(getattr(a, attr)))} → {show(_plain(getattr(b, attr)))}: "
                                      "senders (or readers of its fault) using the old one must change",
                                      side="request", old=getattr(a, attr), new=getattr(b, attr), targets=every))
    ra, rb = before.results, after.results
    if ra is not None and rb is not None:
        for attr in ("code", "message", "success"):
            if getattr(ra, attr) != getattr(rb, attr):
                changes.append(Change(BREAKING, "results-changed", f"contract.yaml /results/{attr}",
                                      f"result {attr} {show(_plain(getattr(ra, attr)))} → {show(_plain(getattr(rb, attr)))}: "
                                      "readers that judge outcomes the old way must change", side="response",
                                      old=getattr(ra, attr), new=getattr(rb, attr),
                                      targets=(Target(None, "response"),)))
    return changes


def _plain(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("{"):
        return local_name(value)
    if isinstance(value, tuple):
        return list(value)
    return value


register_differ(TRANSPORT, diff_soap)
