"""The differ of HL7 v2 over MLLP contracts: the `hl7:` settings, the messages and each message profile.

Messages are keyed by MSH-9 (`ORU^R01`). Each is classified by its direction, as the http-json differ classifies
requests and responses: a message `from_hospital` is written by the hospital and checked by the partner, so a change
that can make a message valid under the old version invalid under the new one (a segment or field newly required,
a shorter length, fewer values, a field now X) breaks the hospital's sender; a message `to_hospital` is written by
the partner and read by the hospital, so a change that can give the reader something it never got before (a field
no longer required, more repetitions, new values) breaks the hospital's reader; `both` (ACK) breaks when either
does.

Locations read `ORU^R01 OBX-11`, `OML^O21 SPM`, `ORU^R01 SPECIMEN/OBX` (a segment that occurs more than once in
the profile is named with its group), `ADT^A01/A04/A08 PID-3.4` (messages sharing one profile are compared once),
`contract.yaml /hl7/versions` for the settings. A message removed and one added with the same direction and name
(ORM^O01 → OML^O21) are reported as removed and added, and the new profile is also compared with the old one,
under the new key, so that what a sender must change (SPM now required) is listed field by field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.contract.diff import Change, Classification, Target, TransportDiff, register_differ, show
from harness.contract.hl7.contract import TRANSPORT, HL7Settings, settings
from harness.contract.hl7.profile import UNBOUNDED, ElementDef, GroupDef, Profile, SegRef
from harness.contract.interfaces import INTERFACES
from harness.contract.model import Contract, Operation

BREAKING, COMPATIBLE, INFO = Classification.BREAKING, Classification.COMPATIBLE, Classification.INFO
SIDE = {"from_hospital": "request", "to_hospital": "response"}
RANK = {"R": 3, "RE": 2, "O": 1, "C": 1, "X": 0}
POLICY = {"ignore": 0, "info": 1, "warning": 2, "error": 3}
HANDLED = frozenset({"operation-removed", "operation-added", "kind-changed"})
_FEATURES = Path(__file__).resolve().parents[2] / "features"

Verdict = tuple[bool, str]
"""(does it break this side, why) for one side: the writer or the reader of a message."""


# -- occurrences: a usage with a cardinality ----------------------------------------------------------------------
@dataclass(frozen=True)
class Occ:
    usage: str
    min: int
    max: int

    @property
    def card(self) -> str:
        return f"{self.min}..{'*' if self.max == UNBOUNDED else self.max}"

    @property
    def top(self) -> float:
        return math.inf if self.max == UNBOUNDED else self.max


GONE = Occ("X", 0, 0)
UNDESCRIBED = Occ("O", 0, UNBOUNDED)
"""A field the profile does not define: the validator does not look at it."""


@dataclass(frozen=True)
class _Msg:
    """One comparison of profiles: the messages it stands for (sharing a profile), their direction, a label."""

    keys: tuple[str, ...]
    direction: str
    label: str
    policy: tuple[str, str] = ("error", "info")
    """The new profile's unknown_segments and z_segments policies (what becomes of a segment it dropped)."""

    @property
    def sides(self) -> tuple[str | None, ...]:
        side = SIDE.get(self.direction)
        return (side,) if side else ("request", "response")

    @property
    def side(self) -> str | None:
        return SIDE.get(self.direction)

    def targets(self, path: str | None) -> tuple[Target, ...]:
        match = "field" if path else "operation"
        return tuple(Target(key, side, path, match) for key in self.keys for side in self.sides)


def _label(keys: Iterable[str]) -> str:
    """`ADT^A01/A04/A08` for messages of one type sharing a profile, else the keys joined."""
    keys = list(keys)
    kinds = {k.split("^")[0] for k in keys}
    if len(keys) > 1 and len(kinds) == 1 and all("^" in k for k in keys):
        return keys[0] + "".join("/" + k.split("^")[1] for k in keys[1:])
    return ", ".join(keys)


def _verdict(direction: str, writer: Verdict, reader: Verdict) -> tuple[Classification, str]:
    """The classification and its reason for a message travelling `direction`."""
    if direction == "from_hospital":
        return (BREAKING if writer[0] else COMPATIBLE), f"the hospital sends it: {writer[1]}"
    if direction == "to_hospital":
        return (BREAKING if reader[0] else COMPATIBLE), f"the hospital reads it: {reader[1]}"
    breaks = writer[0] or reader[0]
    why = "; ".join(f"{who} {v[1]}" for who, v in (("as sender:", writer), ("as reader:", reader))
                    if v[0] == breaks)
    return (BREAKING if breaks else COMPATIBLE), f"the hospital sends and reads it: {why}"


# -- comparing one usage and cardinality --------------------------------------------------------------------------
def _usage(what: str, old: Occ, new: Occ, kind: str, dropped: str = "") -> tuple[str, Verdict, Verdict] | None:
    """(category, writer, reader) for a change of usage, or None when the usage did not change in effect."""
    if old.usage == new.usage or RANK[old.usage] == RANK[new.usage]:
        return None
    was = old.usage in ("R", "RE")
    if new.usage == "X":
        return ("usage-changed",
                (True, dropped or f"a message that still carries the {kind} is rejected"),
                (was, f"readers that use it no longer get it (it was {old.usage})" if was
                 else f"it was optional ({old.usage}): readers already cope without it"))
    if old.usage == "X":
        must = new.usage == "R"
        return ("usage-changed",
                (must, f"every message must now carry the {kind}; messages without it are rejected" if must
                 else f"messages may now carry the {kind}; nothing sent today is rejected"),
                (False, "readers that ignore it are unaffected" + ("; it is always present" if must else "")))
    if RANK[new.usage] > RANK[old.usage]:
        must = new.usage == "R"
        return ("usage-changed",
                (must, f"messages that leave the {kind} out are rejected" if must
                 else f"the {kind} should now be sent whenever known (leaving it out draws a warning)"),
                (False, "a new guarantee: readers get it at least as often as before"))
    return ("usage-changed",
            (False, f"senders may leave the {kind} out; nothing sent today is rejected"),
            (True, f"readers may now get messages without the {kind}"))


def _cardinality(old: Occ, new: Occ, usage_changed: bool, kind: str) -> tuple[Verdict, Verdict] | None:
    """(writer, reader) for a change of repetitions not already told by the usage (R ↔ not R moves the minimum)."""
    if "X" in (old.usage, new.usage):
        return None
    explained = usage_changed and (old.min == 0) != (new.min == 0)
    old_min, new_min = (0, 0) if explained else (old.min, new.min)
    if old.max == new.max and old_min == new_min:
        return None
    tighter = [w for w, on in (("fewer", new_min > old_min), ("more", new.top < old.top)) if on]
    looser = [w for w, on in (("fewer", new_min < old_min), ("more", new.top > old.top)) if on]
    if tighter and not looser:
        return ((True, f"messages with {' or '.join(tighter)} repetitions of the {kind} than now allowed are rejected"),
                (False, "readers get a subset of what they handled"))
    if looser and not tighter:
        return ((False, "nothing sent today is rejected"),
                (True, f"readers may get {' or '.join(looser)} repetitions of the {kind} than before"))
    return ((True, "repetitions valid before can be rejected"), (True, "readers may get repetitions they never got"))


# -- the profile differ -----------------------------------------------------------------------------------------
class _Profiles:
    def __init__(self, old: Contract, new: Contract, length: str) -> None:
        self.old, self.new = old, new
        self.length = length
        self.changes: list[Change] = []

    def add(self, msg: _Msg, path: str, category: str, what: str, writer: Verdict, reader: Verdict,
            old: object = None, new: object = None) -> None:
        classification, why = _verdict(msg.direction, writer, reader)
        self.changes.append(Change(classification, category, f"{msg.label} {path}", f"{what}: {why}",
                                   operation=msg.keys[0], part="profile", pointer=path, side=msg.side, old=old,
                                   new=new, targets=msg.targets(path)))

    def compare(self, msg: _Msg, before: Profile, after: Profile) -> None:
        if before.structure != after.structure and before.key == after.key:
            self.add(msg, "MSH-9.3", "structure-changed", f"message structure {before.structure} → {after.structure}",
                     (True, "messages with the old MSH-9.3 are rejected"),
                     (True, "readers that dispatch on MSH-9.3 see a structure they do not know"),
                     before.structure, after.structure)
        if (before.versions or after.versions) and before.versions != after.versions:
            self._versions(msg, before, after)
        dropped = self._segments(msg, before, after)
        for name in after.segments:
            if name in before.segments and name not in dropped:
                self._fields(msg, name, before, after)

    def _versions(self, msg: _Msg, before: Profile, after: Profile) -> None:
        old = before.versions or settings(self.old).versions
        new = after.versions or settings(self.new).versions
        lost = [v for v in old if v not in new]
        gained = [v for v in new if v not in old]
        if lost:
            self.add(msg, "MSH-12", "versions-changed", f"HL7 version {', '.join(lost)} no longer accepted",
                     (True, "messages with that MSH-12 are refused"),
                     (True, f"readers now get {', '.join(new)} messages"), old, new)
        if gained:
            self.add(msg, "MSH-12", "versions-changed", f"HL7 version {', '.join(gained)} now accepted",
                     (False, "senders may use it"), (False, "readers may get it as well"), old, new)

    # -- segments ---------------------------------------------------------------------------------------------
    def _segments(self, msg: _Msg, before: Profile, after: Profile) -> set[str]:
        """Compare the segment sequences; the names of segments gone (absent or X) from the new profile."""
        olds, news = _occurrences(before.root), _occurrences(after.root)
        pairs, removed, added = _match(olds, news)
        new_count = _counts(news)
        old_count = _counts(olds)
        for path, occ in removed:
            label = _seg_label(path, old_count)
            self._segment_presence(msg, label, path[-1], before, after, occ, GONE, removed=True)
        for path, occ in added:
            label = _seg_label(path, new_count)
            self._segment_presence(msg, label, path[-1], before, after, GONE, occ, added=True)
        for (_, old_occ), (path, new_occ) in pairs:
            label = _seg_label(path, new_count)
            self._segment_presence(msg, label, path[-1], before, after, old_occ, new_occ)
        alive = {p[-1] for p, o in news if o.usage != "X"}
        return {name for name in before.segments if name not in alive}

    def _segment_presence(self, msg: _Msg, label: str, name: str, before: Profile, after: Profile,
                          old: Occ, new: Occ, removed: bool = False, added: bool = False) -> None:
        title = _segment_title(name, before if removed else after)
        what_name = f"{name} ({title})" if title and title != name else name
        if removed or new.usage == "X":
            unknown, z_policy = msg.policy
            policy = z_policy if name.startswith("Z") else unknown
            refused = policy == "error"
            dropped = ("a message that still carries it is refused as an unexpected segment" if refused
                       else f"a message that still carries it draws a finding ({policy})")
        else:
            refused, dropped = True, ""
        if removed:
            was = old.usage in ("R", "RE")
            self.add(msg, label, "segment-removed", f"segment {what_name} removed (was {old.usage} {old.card})",
                     (refused, dropped),
                     (was, f"readers that use it no longer get it (it was {old.usage})" if was
                      else f"it was optional ({old.usage}): readers already cope without it"), old.usage, None)
            return
        if added:
            must = new.min > 0
            self.add(msg, label, "segment-added", f"segment {what_name} added, {new.usage} {new.card}",
                     (must, "every message must now carry it; messages without it are rejected" if must
                      else "messages may carry it; nothing sent today is rejected"),
                     (False, "readers that ignore it are unaffected" + ("; it is always present" if must else "")),
                     None, f"{new.usage} {new.card}")
            return
        usage = _usage(label, old, new, "segment", dropped if new.usage == "X" else "")
        if usage is not None:
            category, writer, reader = usage
            self.add(msg, label, category, f"segment {what_name} usage {old.usage} → {new.usage}"
                     f" ({old.card} → {new.card})", writer, reader, old.usage, new.usage)
        card = _cardinality(old, new, usage is not None, "segment")
        if card is not None:
            self.add(msg, label, "cardinality-changed", f"segment {what_name} cardinality {old.card} → {new.card}",
                     *card, old.card, new.card)

    # -- fields, components -----------------------------------------------------------------------------------
    def _fields(self, msg: _Msg, name: str, before: Profile, after: Profile) -> None:
        self._elements(msg, name + "-", before.segments[name].fields, after.segments[name].fields, "field")

    def _elements(self, msg: _Msg, prefix: str, olds: tuple[ElementDef, ...], news: tuple[ElementDef, ...],
                  kind: str) -> None:
        old_by = {e.pos: e for e in olds}
        new_by = {e.pos: e for e in news}
        sub = "component" if kind == "field" else "subcomponent"
        for pos in sorted(set(old_by) | set(new_by)):
            path = f"{prefix}{pos}"
            a, b = old_by.get(pos), new_by.get(pos)
            self._element(msg, path, a, b, kind)
            if a is not None and b is not None and "X" not in (a.usage, b.usage) and (a.components or b.components):
                if a.type == b.type or not (a.components and b.components):
                    self._elements(msg, path + ".", a.components, b.components, sub)

    def _element(self, msg: _Msg, path: str, a: ElementDef | None, b: ElementDef | None, kind: str) -> None:
        some = b or a
        assert some is not None
        named = f"{path} ({some.name})"
        undescribed = UNDESCRIBED if kind == "field" else Occ("O", 0, 1)
        old = Occ(a.usage, a.min, a.max) if a is not None else undescribed
        new = Occ(b.usage, b.min, b.max) if b is not None else undescribed
        usage = _usage(path, old, new, kind)
        if usage is not None:
            category, writer, reader = usage
            note = " (now described)" if a is None else " (no longer described)" if b is None else ""
            self.add(msg, path, category, f"{named} usage {old.usage} → {new.usage}{note}", writer, reader,
                     old.usage, new.usage)
        card = _cardinality(old, new, usage is not None, kind)
        if card is not None and kind == "field":
            self.add(msg, path, "cardinality-changed", f"{named} repetitions {old.card} → {new.card}", *card,
                     old.card, new.card)
        if a is None or b is None or "X" in (a.usage, b.usage):
            if a is None and b is not None and b.usage != "X":
                self._constraints(msg, path, named, None, b, kind)
            return
        self._constraints(msg, path, named, a, b, kind)

    def _constraints(self, msg: _Msg, path: str, named: str, a: ElementDef | None, b: ElementDef, kind: str) -> None:
        if a is not None and a.type != b.type:
            self.add(msg, path, "type-changed", f"{named} data type {a.type} → {b.type}",
                     (True, f"values written as {a.type} can be rejected"),
                     (True, f"readers that parse {a.type} get {b.type}"), a.type, b.type)
        old_len = a.length if a is not None else 0
        if old_len != b.length:
            shorter = b.length and (not old_len or b.length < old_len)
            text = f"{named} length {old_len or 'unlimited'} → {b.length or 'unlimited'}"
            if shorter:
                self.add(msg, path, "length-changed", text,
                         (True, f"values longer than {b.length} are flagged ({self.length}: length)"),
                         (False, "readers get values no longer than before"), old_len or None, b.length)
            else:
                self.add(msg, path, "length-changed", text, (False, "longer values are allowed; nothing sent today is flagged"),
                         (True, f"readers may get values longer than {old_len}"), old_len, b.length or None)
        self._values(msg, path, named, a, b)
        old_format = a.pattern_name if a is not None else ""
        if old_format != b.pattern_name:
            self.add(msg, path, "format-changed", f"{named} format {show(old_format or None)} → {show(b.pattern_name or None)}",
                     (bool(b.pattern_name), "values that do not match it are rejected" if b.pattern_name
                      else "values are no longer checked against it"),
                     (bool(old_format), "readers may get values that do not match it" if old_format
                      else "readers get values that match it"), old_format or None, b.pattern_name or None)

    def _values(self, msg: _Msg, path: str, named: str, a: ElementDef | None, b: ElementDef) -> None:
        if a is not None and a.table == b.table and _whole_table(a, self.old) and _whole_table(b, self.new):
            return  # the same code table on both sides: its own changes are compared with the code tables
        old_set, old_from = _value_set(a, self.old) if a is not None else (None, "")
        new_set, new_from = _value_set(b, self.new)
        if a is not None and a.table != b.table and a.table and b.table:
            self.add(msg, path, "code-table-changed", f"{named} code table {a.table} → {b.table}",
                     (True, "codes of the old table can be rejected"), (True, "readers get codes of another table"),
                     a.table, b.table)
        if old_set is not None and new_set is None:
            self.add(msg, path, "values-unrestricted", f"{named} no longer restricted to {old_from}",
                     (False, "any value is accepted"), (True, "readers may get values they never got"),
                     sorted(old_set), None)
        elif new_set is not None and old_set is None:
            self.add(msg, path, "values-restricted", f"{named} now restricted to {new_from}",
                     (True, "other values are rejected"), (False, "readers get a subset of what they got"),
                     None, sorted(new_set))
        elif old_set is not None and new_set is not None:
            removed = [v for v in sorted(old_set) if v not in new_set]
            added = [v for v in sorted(new_set) if v not in old_set]
            if removed:
                self.add(msg, path, "values-removed",
                         f"{named} values {', '.join(removed)} removed (now {', '.join(sorted(new_set))})",
                         (True, "messages that use them are rejected"),
                         (False, "readers get a subset of the values they knew"), removed, sorted(new_set))
            if added:
                self.add(msg, path, "values-added", f"{named} values {', '.join(added)} added",
                         (False, "senders may use them; nothing sent today is rejected"),
                         (True, "readers may get values they do not know"), sorted(old_set), added)
        if a is not None and (old_set is not None or new_set is not None) and a.strict != b.strict:
            if b.strict:
                self.add(msg, path, "binding-changed", f"{named} binding extensible → required",
                         (True, "codes outside the value set, a warning before, are rejected"),
                         (False, "readers get only codes of the value set"), "extensible", "required")
            else:
                self.add(msg, path, "binding-changed", f"{named} binding required → extensible",
                         (False, "codes outside the value set draw only a warning"),
                         (True, "readers may get codes outside the value set"), "required", "extensible")


def _whole_table(element: ElementDef, contract: Contract) -> bool:
    """Whether the element takes every code of its table (no narrower `values`): compiled, both read the same."""
    table = contract.code_tables.get(element.table) if element.table else None
    return table is not None and element.values == frozenset(table.values)


def _value_set(element: ElementDef, contract: Contract) -> tuple[frozenset[str] | None, str]:
    if element.values is None:
        return None, ""
    if _whole_table(element, contract):
        return element.values, f"code table {element.table}"
    return element.values, ", ".join(sorted(element.values))


def _segment_title(name: str, profile: Profile) -> str:
    seg = profile.segments.get(name)
    return seg.title if seg is not None else ""


def _occurrences(root: GroupDef) -> list[tuple[tuple[str, ...], Occ]]:
    """Every segment of a sequence with its group path and its usage and cardinality in the whole message."""
    out: list[tuple[tuple[str, ...], Occ]] = []

    def walk(group: GroupDef, path: tuple[str, ...], chain: tuple[Occ, ...]) -> None:
        for child in group.children:
            own = Occ(child.usage, child.min, child.max)
            if isinstance(child, GroupDef):
                walk(child, (*path, child.name), (*chain, own))
            elif isinstance(child, SegRef):
                out.append(((*path, child.name), _effective((*chain, own))))

    walk(root, (), ())
    return out


def _effective(chain: tuple[Occ, ...]) -> Occ:
    if any(o.usage == "X" or o.max == 0 for o in chain):
        return GONE
    low = math.prod(o.min for o in chain)
    high = UNBOUNDED if any(o.max == UNBOUNDED for o in chain) else math.prod(o.max for o in chain)
    usage = "R" if low >= 1 else min((o.usage for o in chain), key=RANK.__getitem__)
    return Occ("O" if usage == "R" else usage, 0, high) if low == 0 else Occ(usage, low, high)


Seg = tuple[tuple[str, ...], Occ]


def _match(olds: list[Seg], news: list[Seg]) -> tuple[list[tuple[Seg, Seg]], list[Seg], list[Seg]]:
    """Pair segment occurrences by name: same group path first, then same group, then in order."""
    pairs: list[tuple[Seg, Seg]] = []
    rest_old, rest_new = list(olds), list(news)
    for key in (lambda p: p, lambda p: p[-2:], lambda p: p[-1:]):
        still: list[Seg] = []
        for item in rest_new:
            found = next((o for o in rest_old if key(o[0]) == key(item[0])), None)
            if found is None:
                still.append(item)
            else:
                pairs.append((found, item))
                rest_old.remove(found)
        rest_new = still
    return pairs, rest_old, rest_new


def _counts(items: list[Seg]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path, _ in items:
        counts[path[-1]] = counts.get(path[-1], 0) + 1
    return counts


def _seg_label(path: tuple[str, ...], counts: dict[str, int]) -> str:
    return path[-1] if counts.get(path[-1], 0) <= 1 else "/".join(path[-2:])


# -- the hl7 settings ---------------------------------------------------------------------------------------------
def _settings(old: HL7Settings, new: HL7Settings) -> list[Change]:
    changes: list[Change] = []
    every = (Target(None, "request"), Target(None, "response"))

    def add(classification: Classification, key: str, text: str, before: object, after: object,
            side: str | None = "request") -> None:
        changes.append(Change(classification, "hl7-changed", f"contract.yaml /hl7/{key}", text, side=side,
                              old=before, new=after, targets=every))

    lost = [v for v in old.versions if v not in new.versions]
    gained = [v for v in new.versions if v not in old.versions]
    if lost:
        add(BREAKING, "versions", f"HL7 version {', '.join(lost)} no longer accepted: the hospital's messages with that "
            f"MSH-12 are refused, and the partner's messages now carry {', '.join(new.versions)}",
            list(old.versions), list(new.versions), None)
    if gained:
        add(COMPATIBLE, "versions", f"HL7 version {', '.join(gained)} now accepted: senders may use it",
            list(old.versions), list(new.versions))
    if old.ack_mode != new.ack_mode:
        add(BREAKING, "acknowledgement/mode", f"acknowledgement mode {old.ack_mode} → {new.ack_mode}: senders and "
            "readers must fill MSH-15/16 and answer with other MSA-1 codes", old.ack_mode, new.ack_mode, None)
    for key, before, after in (("accept_ack", old.accept_ack, new.accept_ack),
                               ("application_ack", old.application_ack, new.application_ack)):
        if before != after and old.ack_mode == new.ack_mode:
            add(BREAKING, f"acknowledgement/{key}", f"{key} {show(before or None)} → {show(after or None)}: senders "
                "putting the old value in MSH-15/16 are flagged, and acknowledgements come when they did not",
                before or None, after or None, None)
    cs_old, cs_new = old.charset, new.charset
    if cs_old.default != cs_new.default:
        add(BREAKING, "charset/default", f"default character set {cs_old.default} → {cs_new.default}: a message with "
            f"MSH-18 blank is now decoded as {cs_new.default}, so senders relying on the old default get their text "
            "garbled or refused", cs_old.default, cs_new.default)
    dropped = [c for c in cs_old.accepted if c not in cs_new.accepted]
    extra = [c for c in cs_new.accepted if c not in cs_old.accepted]
    if dropped:
        add(BREAKING, "charset/accepted", f"character set {', '.join(dropped)} no longer accepted: senders writing "
            f"it are refused (accepted now: {', '.join(cs_new.accepted)})", list(cs_old.accepted), list(cs_new.accepted))
    if extra:
        add(COMPATIBLE, "charset/accepted", f"character set {', '.join(extra)} now accepted: senders may use it",
            list(cs_old.accepted), list(cs_new.accepted))
    for key, before, after, what in (("when_blank", cs_old.when_blank, cs_new.when_blank, "MSH-18 blank on non-ASCII text"),
                                     ("when_unknown", cs_old.when_unknown, cs_new.when_unknown, "MSH-18 naming no Table 0211 set")):
        if before != after:
            b, a = before.value, after.value
            stricter = POLICY.get(a, 0) > POLICY.get(b, 0)
            refused = stricter and a == "error"
            add(BREAKING if refused else COMPATIBLE, f"charset/{key}", f"{what}: {b} → {a}: " + (
                "such messages are now refused" if refused else "such messages are flagged more" if stricter
                else "such messages are flagged less"), b, a)
    for key, before, after, what in (("length", old.limits.length.value, new.limits.length.value, "a value over its length"),
                                     ("z_segments", old.limits.z_segments, new.limits.z_segments, "a Z-segment no profile lists"),
                                     ("unknown_segments", old.limits.unknown_segments, new.limits.unknown_segments,
                                      "a segment no profile lists")):
        if before != after:
            stricter = POLICY.get(after, 0) > POLICY.get(before, 0)
            refused = stricter and after == "error"
            add(BREAKING if refused else COMPATIBLE, key, f"{what}: {before} → {after}: " + (
                "senders sending one are refused" if refused else "flagged more, nothing more is refused" if stricter
                else "flagged less"), before, after)
    if old.max_frame_bytes != new.max_frame_bytes:
        smaller = new.max_frame_bytes < old.max_frame_bytes
        add(BREAKING if smaller else COMPATIBLE, "mllp/max_frame_bytes",
            f"MLLP frame limit {old.max_frame_bytes} → {new.max_frame_bytes} bytes: " + (
                "larger messages are refused" if smaller else "larger messages are accepted"),
            old.max_frame_bytes, new.max_frame_bytes)
    if old.ack_timeout_s != new.ack_timeout_s:
        changes.append(Change(INFO, "hl7-changed", "contract.yaml /hl7/mllp/ack_timeout_s",
                              f"ack_timeout_s: {old.ack_timeout_s:g} s → {new.ack_timeout_s:g} s (how long a sender waits "
                              "for the acknowledgement)", old=old.ack_timeout_s, new=new.ack_timeout_s))
    if old.segments != new.segments:
        changes.append(Change(INFO, "hl7-changed", "contract.yaml /hl7/segments",
                              f"segments: {show(old.segments)} → {show(new.segments)} (compared through the profiles)",
                              old=old.segments, new=new.segments))
    return changes


# -- messages ---------------------------------------------------------------------------------------------------
def _direction_text(direction: str) -> str:
    return {"from_hospital": "from the hospital", "to_hospital": "to the hospital"}.get(direction, "both ways")


def _removed(key: str, op: Operation, replaced_by: str | None) -> Change:
    direction = op.extra["direction"]
    also = f"; {replaced_by} (same name and direction) replaces it" if replaced_by else ""
    why = {"from_hospital": "the partner no longer accepts it: a hospital still sending it is refused",
           "to_hospital": "the partner no longer sends it: a hospital waiting for it or reading it gets nothing"}.get(
        direction, "a hospital still sending it is refused, and one reading it gets nothing")
    side = SIDE.get(direction)
    return Change(BREAKING, "operation-removed", f"contract.yaml /messages/{key}",
                  f"message {key} {op.name} ({_direction_text(direction)}) removed: {why}{also}", operation=key,
                  side=side, old=op.name, targets=(Target(key),))


def _added(key: str, op: Operation, replaces: str | None) -> Change:
    direction = op.extra["direction"]
    also = f"; it replaces {replaces}, reported as removed" if replaces else ""
    why = {"from_hospital": "the hospital may send it; nothing it sends today changes",
           "to_hospital": "the partner may send it; the messages the hospital reads today do not change"}.get(
        direction, "nothing sent or read today changes")
    return Change(COMPATIBLE, "operation-added", f"contract.yaml /messages/{key}",
                  f"message {key} {op.name} ({_direction_text(direction)}) added: {why}{also}", operation=key,
                  side=SIDE.get(direction), new=op.name, targets=(Target(key),))


def _message(key: str, before: Operation, after: Operation) -> list[Change]:
    changes = []
    where = f"contract.yaml /messages/{key}"
    b_dir, a_dir = before.extra["direction"], after.extra["direction"]
    if b_dir != a_dir:
        changes.append(Change(BREAKING, "kind-changed", f"{where}/direction",
                              f"{key} now travels {_direction_text(a_dir)} (was {_direction_text(b_dir)}): the side "
                              "that sent it must now read it, or the other way round", operation=key, old=b_dir,
                              new=a_dir, targets=(Target(key),)))
    b_resp, a_resp = before.extra.get("response"), after.extra.get("response")
    if b_resp != a_resp:
        if a_resp and b_resp:
            why = f"a sender waiting for {b_resp} gets {a_resp}"
        elif a_resp:
            why = f"the receiver now answers with {a_resp}: a sender that does not wait for it leaves it unread"
        else:
            why = f"no {b_resp} answers it any more: a sender waiting for one times out"
        changes.append(Change(BREAKING, "response-changed", f"{where}/response",
                              f"{key} is answered by {a_resp or 'nothing'} (was {b_resp or 'nothing'}): {why}",
                              operation=key, old=b_resp, new=a_resp, targets=(Target(key),)))
    if before.input_schema != after.input_schema:
        changes.append(Change(INFO, "profile-file-changed", f"{where}/profile",
                              f"profile: {show(before.input_schema)} → {show(after.input_schema)} (compared by content)",
                              operation=key, old=before.input_schema, new=after.input_schema))
    return changes


def _replacements(old: Contract, new: Contract) -> dict[str, str]:
    """Removed message -> added message with the same direction and name (or English name)."""
    gone = [k for k in old.operations if k not in new.operations]
    fresh = [k for k in new.operations if k not in old.operations]
    pairs: dict[str, str] = {}
    for key in gone:
        op = old.operations[key]
        for other in fresh:
            cand = new.operations[other]
            if other in pairs.values() or cand.extra["direction"] != op.extra["direction"]:
                continue
            if cand.name == op.name or (op.name_en and cand.name_en == op.name_en):
                pairs[key] = other
                break
    return pairs


def _profile(contract: Contract, key: str) -> Profile | None:
    profile = contract.operations[key].extra.get("profile")
    return profile if isinstance(profile, Profile) else None


def _bindings(contract: Contract, result: TransportDiff) -> None:
    """Fields (in either version) whose values are a whole code table, for the impact of that table's changes."""
    for key, op in contract.operations.items():
        profile = _profile(contract, key)
        if profile is None:
            continue
        msg = _Msg((key,), op.extra["direction"], key)
        for name, seg in profile.segments.items():
            stack = [(f"{name}-{f.pos}", f) for f in seg.fields]
            while stack:
                path, element = stack.pop()
                if _whole_table(element, contract) and element.usage != "X":
                    result.bindings.setdefault(element.table, []).extend(msg.targets(path))
                stack.extend((f"{path}.{c.pos}", c) for c in element.components)


def diff_hl7(old: Contract, new: Contract) -> TransportDiff:
    result = TransportDiff(handled=HANDLED)
    before, after = settings(old), settings(new)
    result.changes.extend(_settings(before, after))
    replaced = _replacements(old, new)
    replacing = {v: k for k, v in replaced.items()}
    for key, op in old.operations.items():
        if key not in new.operations:
            result.changes.append(_removed(key, op, replaced.get(key)))
    for key, op in new.operations.items():
        if key not in old.operations:
            result.changes.append(_added(key, op, replacing.get(key)))
        else:
            result.changes.extend(_message(key, old.operations[key], op))
    # profiles: messages kept (grouped when they share a profile in both versions), then replacements
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for key, op in new.operations.items():
        if key in old.operations:
            was = old.operations[key]
            groups.setdefault((str(was.input_schema), str(op.input_schema), was.extra["direction"],
                               op.extra["direction"]), []).append(key)
    comparisons = [(keys, keys[0], keys[0]) for keys in groups.values()]
    comparisons += [([new_key], old_key, new_key) for old_key, new_key in replaced.items()]
    profiles = _Profiles(old, new, after.limits.length.value)
    for keys, old_key, new_key in comparisons:
        a, b = _profile(old, old_key), _profile(new, new_key)
        if a is None or b is None:
            result.notes.append(f"{new_key}: a profile did not compile; it was not compared")
            continue
        direction = new.operations[new_key].extra["direction"]
        msg = _Msg(tuple(keys), direction, _label(keys), (b.unknown_segments, b.z_segments))
        profiles.compare(msg, a, b)
    result.changes.extend(profiles.changes)
    for old_key, new_key in replaced.items():
        result.notes.append(f"{new_key} replaces {old_key} (same name and direction): its profile was compared with "
                            f"{old_key}'s and the differences are listed under {new_key}")
    _bindings(old, result)
    _bindings(new, result)
    for table, targets in result.bindings.items():
        result.bindings[table] = list(dict.fromkeys(targets))
    described = INTERFACES.get(new.interface)
    folder = _FEATURES / (described.features if described is not None else new.interface.replace("-", "_"))
    if not (folder.is_dir() and any(folder.rglob("*.feature"))):
        result.notes.append(f"no features for {new.interface} yet: no scenario can be listed as impacted")
    return result


register_differ(TRANSPORT, diff_hl7, operations_key="messages")
