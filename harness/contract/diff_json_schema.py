"""Compare two JSON Schemas (2020-12) field by field, for the differs of JSON-carrying transports.

Each schema is first reduced to a *shape*: `$ref` resolved through the contract's registry and merged with the
keywords beside it, `allOf` merged, `anyOf`/`oneOf` joined (the types and values any branch allows), `if`/`then`/
`else` and `dependentRequired` kept as conditions on the object they sit on. Two shapes are then walked together;
every difference becomes a `Delta` at the JSON pointer of the field (`*` standing for every item of an array),
with its effect on the set of valid messages (narrowed, widened, changed, none). A differ turns deltas into
classified `Change`s with `to_change`, knowing which side writes the message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import referencing.exceptions

from harness.contract.diff import Change, Classification, Target, by_side, show

STRING_KW = ("minLength", "maxLength", "pattern", "format")
NUMBER_KW = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
ARRAY_KW = ("minItems", "maxItems", "uniqueItems")
OBJECT_KW = ("minProperties", "maxProperties")
KEYWORDS = STRING_KW + NUMBER_KW + ARRAY_KW + OBJECT_KW
_APPLIES: dict[str, frozenset[str]] = {
    **{kw: frozenset({"string"}) for kw in STRING_KW},
    **{kw: frozenset({"number", "integer"}) for kw in NUMBER_KW},
    **{kw: frozenset({"array"}) for kw in ARRAY_KW},
    **{kw: frozenset({"object"}) for kw in OBJECT_KW},
}
UPPER = frozenset({"maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties"})
LOWER = frozenset({"minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties"})
CATEGORY = {
    "minLength": "length-changed", "maxLength": "length-changed", "pattern": "pattern-changed",
    "format": "format-changed", "minimum": "range-changed", "maximum": "range-changed",
    "exclusiveMinimum": "range-changed", "exclusiveMaximum": "range-changed", "multipleOf": "range-changed",
    "minItems": "cardinality-changed", "maxItems": "cardinality-changed", "uniqueItems": "cardinality-changed",
    "minProperties": "cardinality-changed", "maxProperties": "cardinality-changed",
}
ALL_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_MISSING: Any = object()


def canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# -- shapes ---------------------------------------------------------------------------------------------------
@dataclass
class Condition:
    """`then` applies when `text` holds (an `if`, the negation of one for `else`, a dependentRequired trigger)."""

    key: str
    text: str
    then: Shape


@dataclass
class Shape:
    """What a schema node allows, with references and combinators folded in. `None` types: any type."""

    types: frozenset[str] | None = None
    keywords: dict[str, Any] = field(default_factory=dict)
    enum: tuple[str, ...] | None = None
    """Allowed values as canonical JSON texts (`"03"` with its quotes), None when any value of the types goes."""
    table: str | None = None
    """The code table the values come from (a `$ref` to `codes.json#/$defs/<table>`)."""
    properties: dict[str, Shape] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    conditions: list[Condition] = field(default_factory=list)
    items: Shape | None = None
    closed: bool = False
    """additionalProperties (or unevaluatedProperties) is false."""
    description: str | None = None


def _intersect_types(a: frozenset[str], b: frozenset[str]) -> frozenset[str]:
    both = a & b
    if ("integer" in a and "number" in b) or ("number" in a and "integer" in b):
        both |= {"integer"}
    return both


def merge(a: Shape, b: Shape) -> Shape:
    """Both must hold (allOf, `$ref` beside other keywords): the stricter of each. `a`'s description wins."""
    keywords = dict(b.keywords)
    for kw, value in a.keywords.items():
        other = keywords.get(kw, _MISSING)
        try:
            if other is not _MISSING and kw in UPPER:
                value = min(value, other)
            elif other is not _MISSING and kw in LOWER:
                value = max(value, other)
            elif other is not _MISSING and kw == "uniqueItems":
                value = bool(value or other)
        except TypeError:
            pass
        keywords[kw] = value
    if a.enum is not None and b.enum is not None:
        enum: tuple[str, ...] | None = tuple(v for v in a.enum if v in b.enum)
    else:
        enum = a.enum if a.enum is not None else b.enum
    properties = dict(a.properties)
    for name, shape in b.properties.items():
        properties[name] = merge(properties[name], shape) if name in properties else shape
    if a.types is None or b.types is None:
        types = a.types if b.types is None else b.types
    else:
        types = _intersect_types(a.types, b.types)
    items = merge(a.items, b.items) if a.items is not None and b.items is not None else (a.items or b.items)
    return Shape(types, keywords, enum, a.table or b.table, properties, a.required | b.required,
                 [*a.conditions, *b.conditions], items, a.closed or b.closed, a.description or b.description)


def _allows(shape: Shape, kw: str) -> bool:
    return shape.types is None or bool(shape.types & _APPLIES[kw])


def union(shapes: list[Shape]) -> Shape:
    """One of them holds (anyOf, oneOf): what any branch allows."""
    if not shapes:
        return Shape(types=frozenset())
    types: frozenset[str] | None = None
    if all(s.types is not None for s in shapes):
        types = frozenset().union(*(s.types or frozenset() for s in shapes))
    keywords: dict[str, Any] = {}
    for kw in dict.fromkeys(k for s in shapes for k in s.keywords):
        values = [s.keywords.get(kw, _MISSING) for s in shapes if _allows(s, kw)]
        if values and all(v is not _MISSING and v == values[0] for v in values):
            keywords[kw] = values[0]
    enum: list[str] | None = []
    for s in shapes:
        if s.enum is not None and enum is not None:
            enum.extend(s.enum)
        elif s.types is not None and s.types <= {"null"} and enum is not None:
            enum.append("null")
        else:
            enum = None
    tables = {s.table for s in shapes if s.enum is not None}
    properties: dict[str, Shape] = {}
    for name in dict.fromkeys(n for s in shapes for n in s.properties):
        properties[name] = union([s.properties[name] for s in shapes if name in s.properties])
    objects = [s for s in shapes if s.types is None or "object" in s.types]
    required = frozenset.intersection(*(s.required for s in objects)) if objects else frozenset()
    items = [s.items for s in shapes if s.items is not None]
    return Shape(types, keywords, tuple(dict.fromkeys(enum)) if enum is not None else None,
                 tables.pop() if len(tables) == 1 else None, properties, required,
                 [c for s in shapes for c in s.conditions], union(items) if items else None,
                 bool(objects) and all(s.closed for s in objects),
                 next((s.description for s in shapes if s.description), None))


def condition_text(schema: Any) -> str:
    """`mdtrt_cert_type is "03"` for `{"properties": {"mdtrt_cert_type": {"const": "03"}}, "required": [...]}`."""
    if not isinstance(schema, dict):
        return canonical(schema)
    parts = []
    for name, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, dict) and "const" in sub:
            parts.append(f"{name} is {show(sub['const'])}")
        elif isinstance(sub, dict) and "enum" in sub:
            parts.append(f"{name} is one of {', '.join(show(v) for v in sub['enum'])}")
        else:
            parts.append(f"{name} matches {canonical(sub)}")
    named = set(schema.get("properties") or {})
    parts.extend(f"{name} is present" for name in schema.get("required") or [] if name not in named)
    rest = {k: v for k, v in schema.items() if k not in ("properties", "required", "description", "$comment")}
    if rest or not parts:
        parts.append(f"the node matches {canonical(rest or schema)}")
    return " and ".join(parts)


TableOf = Callable[[str], str | None]


class Flattener:
    """Reduce schemas to shapes, following `$ref` through a `referencing` resolver."""

    def __init__(self, table_of: TableOf | None = None) -> None:
        self.table_of = table_of or (lambda ref: None)

    def flatten(self, schema: Any, resolver: Any, seen: frozenset[int] = frozenset()) -> Shape:
        if schema is False:
            return Shape(types=frozenset())
        if not isinstance(schema, dict):
            return Shape()
        shape = self._own(schema, resolver, seen)
        ref = schema.get("$ref")
        if isinstance(ref, str):
            try:
                resolved = resolver.lookup(ref)
            except referencing.exceptions.Unresolvable:
                resolved = None
            if resolved is not None and id(resolved.contents) not in seen:
                target = self.flatten(resolved.contents, resolved.resolver, seen | {id(resolved.contents)})
                table = self.table_of(ref)
                if table and target.enum is not None:
                    target.table = table
                shape = merge(shape, target)
        for sub in schema.get("allOf") or []:
            shape = merge(shape, self.flatten(sub, resolver, seen))
        for kw in ("anyOf", "oneOf"):
            if isinstance(schema.get(kw), list):
                shape = merge(shape, union([self.flatten(sub, resolver, seen) for sub in schema[kw]]))
        return shape

    def _own(self, schema: dict[str, Any], resolver: Any, seen: frozenset[int]) -> Shape:
        shape = Shape(description=schema.get("description") if isinstance(schema.get("description"), str) else None)
        kind = schema.get("type")
        if isinstance(kind, str):
            shape.types = frozenset({kind})
        elif isinstance(kind, list):
            shape.types = frozenset(str(k) for k in kind)
        shape.keywords = {kw: schema[kw] for kw in KEYWORDS if kw in schema}
        if "enum" in schema and isinstance(schema["enum"], list):
            shape.enum = tuple(dict.fromkeys(canonical(v) for v in schema["enum"]))
        if "const" in schema:
            const = canonical(schema["const"])
            shape.enum = (const,) if shape.enum is None or const in shape.enum else ()
        for name, sub in (schema.get("properties") or {}).items():
            shape.properties[name] = self.flatten(sub, resolver, seen)
        shape.required = frozenset(str(r) for r in schema.get("required") or [])
        if isinstance(schema.get("items"), dict | bool):
            shape.items = self.flatten(schema["items"], resolver, seen)
        shape.closed = schema.get("additionalProperties") is False or schema.get("unevaluatedProperties") is False
        if "if" in schema:
            text, key = condition_text(schema["if"]), canonical(schema["if"])
            if "then" in schema:
                shape.conditions.append(Condition(key, text, self.flatten(schema["then"], resolver, seen)))
            if "else" in schema:
                shape.conditions.append(Condition(key + "!else", f"not ({text})", self.flatten(schema["else"], resolver, seen)))
        for name, needed in (schema.get("dependentRequired") or {}).items():
            shape.conditions.append(Condition(f"dependentRequired:{name}", f"{name} is present",
                                              Shape(required=frozenset(str(n) for n in needed))))
        return shape


def bound_fields(shape: Shape, pointer: str = "") -> Iterator[tuple[str, str]]:
    """(pointer, code table) of every field whose values are a code table's codes."""
    if shape.table:
        yield pointer, shape.table
    for name, sub in shape.properties.items():
        yield from bound_fields(sub, f"{pointer}/{_token(name)}")
    if shape.items is not None:
        yield from bound_fields(shape.items, f"{pointer}/*")


def _token(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


# -- comparing shapes -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Delta:
    """One difference between two shapes, not yet classified (that needs the side that writes the message)."""

    pointer: str
    category: str
    effect: str
    """narrowed | widened | changed | none: what the change does to the set of valid messages."""
    detail: str
    old: Any = None
    new: Any = None
    when: str | None = None
    fixed: Classification | None = None
    """A classification that does not follow from the effect (an added optional field is compatible both ways)."""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.pointer, self.category, self.detail


def _name(pointer: str) -> str:
    token = pointer.rsplit("/", 1)[-1] if pointer else ""
    return token.replace("~1", "/").replace("~0", "~") or "(the whole message part)"


def _show_types(types: frozenset[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types)) or "nothing"


def _covers(types: frozenset[str] | None, kind: str) -> bool:
    return types is None or kind in types or (kind == "integer" and "number" in types)


class Comparator:
    """Walk two shapes together. `tables_old`/`tables_new` map code table -> codes (canonical JSON), so a field
    whose values simply follow its code table is left to the code-table comparison."""

    def __init__(self, tables_old: dict[str, tuple[str, ...]] | None = None,
                 tables_new: dict[str, tuple[str, ...]] | None = None) -> None:
        self.tables_old = tables_old or {}
        self.tables_new = tables_new or {}

    def compare(self, old: Shape, new: Shape, pointer: str = "") -> list[Delta]:
        out: list[Delta] = []
        if (old.description or "") != (new.description or ""):
            out.append(Delta(pointer, "description-changed", "none",
                             f"{_name(pointer)}: description {show(old.description)} → {show(new.description)}",
                             old.description, new.description))
        out += self._types(old, new, pointer)
        out += self._values(old, new, pointer)
        out += self._keywords(old, new, pointer)
        if old.closed != new.closed:
            out.append(Delta(pointer, "closed" if new.closed else "opened", "narrowed" if new.closed else "widened",
                             f"{_name(pointer)}: " + ("no longer accepts members it does not define" if new.closed
                                                      else "now accepts members it does not define"),
                             not old.closed, not new.closed))
        out += self._properties(old, new, pointer)
        if old.items is not None or new.items is not None:
            out += self.compare(old.items or Shape(), new.items or Shape(), f"{pointer}/*")
        out += self._conditions(old, new, pointer, out)
        return out

    def _types(self, old: Shape, new: Shape, pointer: str) -> list[Delta]:
        if old.types == new.types:
            return []
        lost = [t for t in sorted(old.types if old.types is not None else ALL_TYPES) if not _covers(new.types, t)]
        gained = [t for t in sorted(new.types if new.types is not None else ALL_TYPES) if not _covers(old.types, t)]
        if not lost and not gained:
            return []
        effect = "changed" if lost and gained else ("narrowed" if lost else "widened")
        return [Delta(pointer, "type-changed", effect,
                      f"{_name(pointer)}: type {_show_types(old.types)} → {_show_types(new.types)}",
                      _show_types(old.types), _show_types(new.types))]

    def _follows_table(self, shape: Shape, tables: dict[str, tuple[str, ...]]) -> bool:
        return shape.table is not None and shape.enum is not None and set(shape.enum) == set(tables.get(shape.table, ()))

    def _values(self, old: Shape, new: Shape, pointer: str) -> list[Delta]:
        name = _name(pointer)
        out = []
        if old.table and new.table and old.table != new.table:
            out.append(Delta(pointer, "code-table-changed", "none",
                             f"{name}: codes from table {new.table}, was {old.table}", old.table, new.table))
        if old.enum == new.enum or (old.table == new.table and self._follows_table(old, self.tables_old)
                                    and self._follows_table(new, self.tables_new)):
            return out
        if old.enum is None:
            assert new.enum is not None
            return [*out, Delta(pointer, "values-restricted", "narrowed",
                                f"{name}: values now limited to {', '.join(new.enum)}", None, list(new.enum))]
        if new.enum is None:
            return [*out, Delta(pointer, "values-unrestricted", "widened",
                                f"{name}: values no longer limited (were {', '.join(old.enum)})", list(old.enum), None)]
        removed = [v for v in old.enum if v not in new.enum]
        added = [v for v in new.enum if v not in old.enum]
        if removed:
            out.append(Delta(pointer, "values-removed", "narrowed", f"{name}: value(s) {', '.join(removed)} removed",
                             removed, None))
        if added:
            out.append(Delta(pointer, "values-added", "widened", f"{name}: value(s) {', '.join(added)} added",
                             None, added))
        return out

    def _keywords(self, old: Shape, new: Shape, pointer: str) -> list[Delta]:
        out = []
        for kw in [k for k in KEYWORDS if k in old.keywords or k in new.keywords]:
            before, after = old.keywords.get(kw, _MISSING), new.keywords.get(kw, _MISSING)
            if before == after:
                continue
            try:
                if kw in UPPER:
                    effect = "narrowed" if before is _MISSING or (after is not _MISSING and after < before) else "widened"
                elif kw in LOWER:
                    effect = "narrowed" if before is _MISSING or (after is not _MISSING and after > before) else "widened"
                elif kw == "uniqueItems":
                    effect = "narrowed" if after is True else "widened"
                else:
                    effect = "narrowed" if before is _MISSING else "widened" if after is _MISSING else "changed"
            except TypeError:
                effect = "changed"
            b = None if before is _MISSING else before
            a = None if after is _MISSING else after
            out.append(Delta(pointer, CATEGORY[kw], effect, f"{_name(pointer)}: {kw} {show(b)} → {show(a)}", b, a))
        return out

    def _properties(self, old: Shape, new: Shape, pointer: str) -> list[Delta]:
        out = []
        names = list(dict.fromkeys([*old.properties, *old.required, *new.properties, *new.required]))
        for name in names:
            child = f"{pointer}/{_token(name)}"
            in_old = name in old.properties or name in old.required
            in_new = name in new.properties or name in new.required
            if in_old and not in_new:
                out.append(Delta(child, "field-removed", "changed",
                                 f"{name} removed" + (" (it was required)" if name in old.required else ""),
                                 "required" if name in old.required else "optional", None))
                continue
            if in_new and not in_old:
                required = name in new.required
                out.append(Delta(child, "field-added", "narrowed" if required else "widened",
                                 f"{name} added, {'required' if required else 'optional'}", None,
                                 "required" if required else "optional",
                                 fixed=None if required else Classification.COMPATIBLE))
                continue
            if name in new.required and name not in old.required:
                out.append(Delta(child, "required-added", "narrowed", f"{name} now required", "optional", "required"))
            elif name in old.required and name not in new.required:
                out.append(Delta(child, "required-removed", "widened", f"{name} now optional", "required", "optional"))
            out += self.compare(old.properties.get(name) or Shape(), new.properties.get(name) or Shape(), child)
        return out

    def _conditions(self, old: Shape, new: Shape, pointer: str, base: list[Delta]) -> list[Delta]:
        """What holds only under a condition: compare the node with the condition applied, keep what is new."""
        olds = {c.key: c for c in old.conditions}
        news = {c.key: c for c in new.conditions}
        if not olds and not news:
            return []
        seen = {d.key for d in base}
        plain_old, plain_new = replace(old, conditions=[]), replace(new, conditions=[])
        out: list[Delta] = []
        for key in dict.fromkeys([*olds, *news]):
            before, after = olds.get(key), news.get(key)
            if before is not None and after is not None and before.then == after.then:
                continue
            when = (after or before).text  # type: ignore[union-attr]
            o = merge(plain_old, before.then) if before else plain_old
            n = merge(plain_new, after.then) if after else plain_new
            found = [replace(d, when=when) for d in self.compare(o, n, pointer)
                     if d.key not in seen and d.category != "description-changed"]
            out += _fold_required(found)
        return out


def _fold_required(deltas: list[Delta]) -> list[Delta]:
    """One change per field and condition: a conditional requirement carries the constraints that come with it
    (only those pulling the same way, so a breaking constraint is never hidden in a compatible change)."""
    main = {d.pointer: d for d in deltas if d.category in ("required-added", "required-removed", "field-added")}
    out = []
    folded: dict[str, list[str]] = {}
    for d in deltas:
        head = main.get(d.pointer)
        if head is not None and d is not head and d.effect == head.effect and d.fixed is None:
            folded.setdefault(d.pointer, []).append(d.detail.split(": ", 1)[-1].replace(" none → ", " "))
        else:
            out.append(d)
    return [replace(d, detail=f"{d.detail} ({'; '.join(folded[d.pointer])})") if d.pointer in folded else d for d in out]


# -- turning deltas into changes ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    """A message part compared: its label in locations, the side that writes it and where it sits on the wire."""

    label: str
    part: str
    side: str
    operation: str | None = None
    wire: str = ""


_REASONS: dict[tuple[str, str], str] = {
    ("field-removed", "request"): "no longer defined: senders that fill it send a member the partner does not know",
    ("field-removed", "response"): "no longer returned: readers that use it get nothing",
    ("field-added", "request"): "senders need not change",
    ("field-added", "response"): "readers that ignore members they do not know are unaffected",
    ("field-added-required", "request"): "every sender must now send it, or the request is rejected",
    ("required-added", "request"): "senders that leave it out are rejected",
    ("required-added", "response"): "it is now always present: readers gain a guarantee",
    ("required-removed", "request"): "senders may now leave it out",
    ("required-removed", "response"): "it may now be absent: readers that expect it break",
    ("values-removed", "request"): "senders that use these values are rejected",
    ("values-removed", "response"): "the partner no longer sends these values: readers are unaffected",
    ("values-added", "request"): "senders may use them; every request valid before stays valid",
    ("values-added", "response"): "readers that map every value must learn the new ones",
    ("narrowed", "request"): "values senders could send before can now be rejected",
    ("narrowed", "response"): "the partner sends a subset of what it sent before: readers are unaffected",
    ("widened", "request"): "every request valid before stays valid",
    ("widened", "response"): "readers may receive values they never saw before",
    ("changed", "request"): "requests valid before can be rejected",
    ("changed", "response"): "readers may receive values they never saw before",
}


def reason(delta: Delta, side: str, classification: Classification) -> str:
    if classification is Classification.INFO:
        return ""
    category = delta.category
    if category == "field-added" and delta.new == "required":
        category = "field-added-required"
    text = _REASONS.get((category, side)) or _REASONS[(delta.effect, side)]
    if delta.when and category in ("required-added", "field-added-required"):
        text = text.replace("leave it out", "leave it out in that case").replace("must now send it", "must send it then")
    return text


def operation_wide(delta: Delta, side: str) -> bool:
    """Whether every message of the operation is concerned, not only messages that carry the field."""
    if side != "request" or delta.when:
        return False
    return (delta.category in ("required-added", "closed") or
            (delta.category == "field-added" and delta.new == "required"))


def to_change(delta: Delta, part: Part) -> Change:
    classification = delta.fixed or by_side(part.side, delta.effect)
    detail = delta.detail + (f" when {delta.when}" if delta.when else "")
    why = reason(delta, part.side, classification)
    match = "operation" if operation_wide(delta, part.side) else "field"
    target = Target(part.operation, part.side, part.wire + delta.pointer, match)
    return Change(classification, delta.category, f"{part.label} {delta.pointer or '/'}",
                  f"{detail}: {why}" if why else detail, operation=part.operation, part=part.part,
                  pointer=delta.pointer, side=part.side, old=delta.old, new=delta.new, targets=(target,))


def table_of_ref(codes_file: str) -> TableOf:
    """A TableOf for references into the synthetic code-table schema (`codes.json#/$defs/<table>`)."""
    pattern = re.compile(rf"(?:^|/){re.escape(codes_file)}#/\$defs/([^/]+)$")

    def table_of(ref: str) -> str | None:
        match = pattern.search(ref)
        return match.group(1).replace("~1", "/").replace("~0", "~") if match else None

    return table_of
