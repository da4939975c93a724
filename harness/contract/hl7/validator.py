"""Validate a parsed HL7 v2 message against a compiled profile, with NIST-style severities and HL7 locations.

Structure: segments matched greedily against the profile's sequence of segments and groups; a required
segment or group missing, an X segment present, too many occurrences, a segment out of place, a segment the
profile does not know (Z-segments and others, by policy). Fields: usage (R missing is an error, RE missing a
warning, X present an error), cardinality of repetitions, length (a warning by default, as NIST classes it),
data type format (NM, SI, DT, TM, DTM/TS, and OBX-5 by OBX-2), separators left unescaped in primitive values,
extra components, escape sequences, and value-set membership (an error, a warning for `binding: extensible`).

Locations: `PID-3.1`, `OBX[3]-8` (the third of several OBX), `PID-3(2).1` (second repetition of a repeating field).
Rules (Finding.rule) map to HL7 Table 0357 error codes with `error_code`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.contract.findings import Finding, Severity
from harness.contract.hl7 import datatypes, standard
from harness.contract.hl7.escape import DEFAULT, Separators, escape_problems, unescape
from harness.contract.hl7.message import HEADERS, Message, Segment
from harness.contract.hl7.profile import UNBOUNDED, ElementDef, GroupDef, Profile, SegmentDef, SegRef
from harness.contract.hl7.segment_regex import (
    IN,
    KNOWN_LENGTH,
    KNOWN_VALUES,
    MAX_SEPARATORS,
    MAX_SHAPES,
    MAX_TYPES,
    PASSED_LENGTH,
    PASSED_SEGMENTS,
    PATTERN,
    SHORT,
    TYPE_FROM,
    VOLATILE_AFTER,
    FieldCheck,
    Plan,
    compile_plan,
    compile_value,
)

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
_POLICY = {"info": INFO, "warning": WARNING, "error": ERROR}

ERROR_CODES = {
    "structure": "100", "segment_cardinality": "100", "segment_usage": "100", "parse": "100",
    "segment_terminator": "100", "extra_fields": "100", "framing": "100",
    "usage": "101",
    "format": "102", "length": "102", "escape": "102", "cardinality": "102", "components": "102", "charset": "102",
    "value_set": "103",
    "message_type": "200", "event": "201", "processing_id": "202", "version": "203",
    "unknown_key": "204", "duplicate_key": "205",
}
"""Finding rule -> HL7 Table 0357 code for ERR-3 (anything else: 207, the table's catch-all "application error").

100 segment sequence error: segments out of order, a required segment or group missing, a segment ID where a
field should be (a missing segment terminator), fields beyond the segment's definition. 101 required field
missing: a required field or component empty (a value of spaces only is empty). 102 data type error: a value
not of its type, extra components, separators, escapes, repetitions. 103 table value not found. A not-supported
(usage X) element that is valued has no code of its own: HL7 lets the receiver "raise an application error",
207, with ERR-8 saying which element."""
LENGTH_CODE_FROM = (2, 7)
"""HL7 v2.7 added code 104 (value too long); earlier versions report a length as 102."""


def error_code(finding: Finding, version: tuple[int, ...] = ()) -> str:
    """The HL7 Table 0357 error code an ACK's ERR-3 should carry for `finding` in a message of `version`."""
    if finding.rule == "length" and version >= LENGTH_CODE_FROM:
        return "104"
    return ERROR_CODES.get(finding.rule, "207")


def blank(value: str) -> bool:
    """Not valued: empty, or spaces (and other white space) only."""
    return not value or value.isspace()


def _usage(kind: str, item: Any, location: str, valued: bool, out: list[Finding]) -> None:
    """Usage findings for an empty or X-valued field or component (the valued, allowed case never gets here)."""
    if valued:
        if item.usage == "X":
            out.append(Finding(ERROR, location, f"{kind} {item.name} is not supported (usage X) but valued",
                               "not_supported"))
    elif item.usage == "R":
        out.append(Finding(ERROR, location, f"required {kind} {item.name} is missing", "usage"))
    elif item.usage == "RE":
        out.append(Finding(WARNING, location, f"{kind} {item.name} (usage RE) is empty", "usage"))


@dataclass(frozen=True)
class Limits:
    """Contract-wide settings the profile walk needs."""

    length: Severity = WARNING
    z_segments: str = "info"
    unknown_segments: str = "error"


class ProfileValidator:
    """Validates messages against one compiled profile; reusable and stateless between messages.

    Two things are remembered between messages, neither of which changes a finding: the structure findings of
    each sequence of segment names seen (a pure function of the names), and each segment definition compiled,
    per set of separators, into a `Plan` that recognises a segment about which the field walk has nothing to
    say. Both live on the profile (`Profile.compiled`), so every validator of a loaded contract shares them. A
    segment the plan does not recognise goes through the field walk, which reports what is wrong.
    `fast=False` walks every segment (the tests compare the two).
    """

    __slots__ = ("defs", "fast", "length_severity", "plans", "profile", "shapes", "unknown", "zseg")

    def __init__(self, profile: Profile, limits: Limits = Limits(), *, fast: bool = True) -> None:
        self.profile = profile
        self.length_severity = limits.length
        self.zseg = _POLICY.get(profile.z_segments)
        self.unknown = _POLICY.get(profile.unknown_segments)
        self.fast = fast
        shared = profile.compiled if fast else {}  # the walk-only validator (tests) keeps its own
        self.shapes: dict[tuple[tuple[str, int], ...], tuple[tuple[Finding, ...], tuple[int, ...], dict[str, int]]] = \
            shared.setdefault("shapes", {})
        self.plans: dict[tuple[Separators, str | None], dict[str, Plan | None]] = shared.setdefault("plans", {})
        self.defs: dict[str | None, dict[str, SegmentDef | None]] = shared.setdefault("defs", {})
        """Per standard version (None: none known): the profile's segment definitions completed by the standard's."""

    def warm(self, versions: tuple[str, ...]) -> None:
        """Compile now what the first message would: each segment definition of the profile, completed by the
        standard of each of `versions`, and its check for the default delimiters (~0.1 s a profile). A receiver
        that warms when it starts answers its first message as fast as the next; one that does not takes the
        compilation on the first message, where a connector's short timeout may give up and send again."""
        if not self.fast:
            return
        for version in versions or (None,):
            lib = standard.library_version(version) if version else None
            defs = self.defs.setdefault(lib, {})
            plans = self._plans(DEFAULT, lib)
            for name in self.profile.segments:
                if name not in defs:
                    defs[name] = self._complete(name, lib)
                sdef = defs[name]
                if plans is not None and name not in plans and sdef is not None and sdef.fields:
                    plans[name] = compile_plan(sdef, DEFAULT, name in HEADERS)

    def validate(self, msg: Message) -> list[Finding]:
        segs = msg.segments
        glued: list[Finding] = []
        if self._glued(segs):
            segs, glued = self._unglue(segs, msg.seps)
        shape = tuple([(seg.name, seg.index) for seg in segs])
        known = self.shapes.get(shape) if self.fast else None
        if known is None:
            known = self._structure(segs)
            if self.fast:
                if len(self.shapes) >= MAX_SHAPES:
                    self.shapes.clear()
                self.shapes[shape] = known
        found, matched, counts = known
        out = glued + list(found) if glued else list(found)
        lib = standard.library_version(msg.version)
        defs = self.defs.get(lib)
        if defs is None:
            defs = self.defs[lib] = {}
        plans = self._plans(msg.seps, lib) if self.fast else None
        for at in matched:
            seg = segs[at]
            name = seg.name
            try:
                sdef = defs[name]
            except KeyError:  # completed by the standard when first met
                sdef = defs[name] = self._complete(name, lib)
            if sdef is None or not sdef.fields:
                continue
            if plans is not None:
                try:
                    plan = plans[name]
                except KeyError:  # compiled when first met: a message pays only for its own segments
                    plan = plans[name] = compile_plan(sdef, msg.seps, name in HEADERS)
                if plan is not None and self._quiet(seg, plan, msg):
                    continue
            self._fields(seg, sdef, _seg_loc(seg, counts), msg, out)
        return out

    def _complete(self, name: str, lib: str | None) -> SegmentDef | None:
        base = self.profile.segments.get(name)
        if base is None:
            return None
        return standard.with_standard(base, standard.segment(lib, name), name in HEADERS)

    # -- glued segments -------------------------------------------------------------------------------------
    def _glued(self, segs: list[Segment]) -> bool:
        """Whether a field of some segment holds a segment ID of the profile (a missing segment terminator)."""
        disjoint = self.profile.names.isdisjoint
        for seg in segs:
            if not disjoint(seg.fields[1:]):
                return True
        return False

    def _unglue(self, segs: list[Segment], seps: Separators) -> tuple[list[Segment], list[Finding]]:
        """The segments as the sender meant them (each glued one cut out at its ID) and one finding per cut."""
        names = self.profile.names
        counts: dict[str, int] = {}
        for seg in segs:
            counts[seg.name] = seg.index
        found: list[Finding] = []
        pieces: list[list[str]] = []
        for seg in segs:
            fields = seg.fields
            cuts = [n for n in range(3 if seg.name in HEADERS else 1, len(fields)) if fields[n] in names]
            if not cuts:
                pieces.append(fields)
                continue
            where = _seg_loc(seg, counts)
            for n in cuts:
                found.append(Finding(ERROR, f"{where}-{n}", f"{seg.name}-{n} holds {fields[n]!r}, a segment ID: the "
                                     f"segment terminator (carriage return) before {fields[n]} is missing",
                                     "segment_terminator"))
            bounds = [0, *cuts, len(fields)]
            for i in range(len(bounds) - 1):
                part = fields[bounds[i]:bounds[i + 1]]
                if i and part[0] in HEADERS:  # MSH-1 is the field separator itself
                    part = [part[0], seps.field, *part[1:]]
                pieces.append(part)
        index: dict[str, int] = {}
        out = []
        for fields in pieces:
            index[fields[0]] = index.get(fields[0], 0) + 1
            out.append(Segment(fields[0], fields, index[fields[0]]))
        return out, found

    def _structure(self, segs: list[Segment]) -> tuple[tuple[Finding, ...], tuple[int, ...], dict[str, int]]:
        """Findings about which segments are where, the positions of those the profile knows, and name counts."""
        out: list[Finding] = []
        profile = self.profile
        counts: dict[str, int] = {}
        for seg in segs:
            counts[seg.name] = seg.index
        known = profile.names
        matched: list[Segment] = []
        positions: list[int] = []
        for at, seg in enumerate(segs):
            if seg.name in known:
                matched.append(seg)
                positions.append(at)
                continue
            policy = self.zseg if seg.name[:1] == "Z" else self.unknown
            if policy is not None:
                what = "Z-segment" if seg.name[:1] == "Z" else "segment"
                out.append(Finding(policy, _seg_loc(seg, counts),
                                   f"{what} {seg.name} is not in the {profile.key} profile; kept, not validated", "structure"))
        pos = self._walk(profile.root, matched, 0, frozenset(), frozenset(), out, counts)
        while pos < len(matched):  # only when the sequence itself could not start (no MSH first)
            seg = matched[pos]
            out.append(Finding(ERROR, _seg_loc(seg, counts), f"segment {seg.name} is not expected here", "structure"))
            pos += 1
        return tuple(out), tuple(positions), counts

    # -- structure --------------------------------------------------------------------------------------
    def _walk(self, group: GroupDef, segs: list[Segment], pos: int, follow: frozenset[str],
              follow_any: frozenset[str], out: list[Finding], counts: dict[str, int]) -> int:
        """Match segments from `pos` to one instance of `group`; returns where it stopped.

        `follow`: names that start something the enclosing groups still expect (this instance ends there);
        `follow_any`: names anywhere in what they still expect (a stray segment is left to them).
        """
        children = group.children
        later = group.later
        n = len(segs)
        k = len(children)
        occurrences = [0] * k
        excess: dict[int, Segment] = {}
        i = 0
        while pos < n and i < k:
            seg = segs[pos]
            name = seg.name
            child = children[i]
            if name in child.starts:
                if child.max != UNBOUNDED and occurrences[i] >= child.max and (name in later[i + 1] or name in follow):
                    i += 1
                    continue
                occurrences[i] += 1
                if child.max != UNBOUNDED and occurrences[i] > child.max and i not in excess:
                    excess[i] = seg
                if type(child) is SegRef:
                    pos += 1
                else:
                    assert isinstance(child, GroupDef)
                    pos = self._walk(child, segs, pos, later[i] | follow, group.later_members[i + 1] | follow_any,
                                     out, counts)
                continue
            if name in later[i + 1]:
                i += 1
                continue
            if name in follow:
                break
            # a group not met yet, whose leading segment is missing: enter it by one of its other segments
            entry = next((j for j in range(i, k) if occurrences[j] == 0 and type(children[j]) is GroupDef
                          and name in children[j].members), -1)
            if entry >= 0:
                child = children[entry]
                assert isinstance(child, GroupDef)
                after = self._walk(child, segs, pos, later[entry + 1] | follow,
                                   group.later_members[entry + 1] | follow_any, out, counts)
                if after > pos:
                    i = entry
                    occurrences[i] += 1
                    pos = after
                    continue
            if name in follow_any:
                break
            where = "here" if group.name == self.profile.structure else f"in {group.name} here"
            out.append(Finding(ERROR, _seg_loc(seg, counts), f"segment {name} is out of order (not expected {where})",
                               "structure"))
            pos += 1
        for j, child in enumerate(children):
            count = occurrences[j]
            is_group = type(child) is GroupDef
            label = f"group {child.name}" if is_group else f"segment {child.name}"
            inside = f" in {group.name}" if group.name != self.profile.structure else ""
            # a group's finding is located at its leading segment: an ACK's ERR-2 names a segment, never a group
            where = _leading(child) if isinstance(child, GroupDef) else child.name
            if count == 0:
                if child.usage == "R":
                    out.append(Finding(ERROR, where, f"required {label} is missing{inside}", "segment_usage"))
                elif child.usage == "RE":
                    out.append(Finding(WARNING, where, f"{label} (usage RE) is absent{inside}", "segment_usage"))
                continue
            if child.usage == "X":
                out.append(Finding(ERROR, where, f"{label} is not supported (usage X) but present{inside}",
                                   "not_supported"))
            elif j in excess:
                loc = _seg_loc(excess[j], counts) if not is_group else where
                out.append(Finding(ERROR, loc, f"{label} occurs {count} times{inside}; the profile allows at most {child.max}",
                                   "segment_cardinality"))
            elif count < child.min:
                out.append(Finding(ERROR, where, f"{label} occurs {count} times{inside}; the profile needs at least {child.min}",
                                   "segment_cardinality"))
        return pos

    # -- fields ---------------------------------------------------------------------------------------------
    def _fields(self, seg: Segment, sdef: SegmentDef, loc: str, msg: Message, out: list[Finding]) -> None:
        fields = seg.fields
        nf = len(fields)
        header = seg.name in HEADERS
        for f in sdef.fields:
            pos = f.pos
            self._field(f, fields[pos] if pos < nf else "", header, loc, seg, msg, out)
        limit = sdef.limit
        if limit and nf - 1 > limit:
            first = next((n for n in range(limit + 1, nf) if not blank(fields[n])), 0)
            if first:
                out.append(Finding(ERROR, f"{loc}-{first}", f"{seg.name}-{first} is valued, but {seg.name} has {limit} "
                                   f"fields in HL7 v{msg.version}: a field shifted, or segments run together?",
                                   "extra_fields"))

    def _field(self, f: ElementDef, value: str, header: bool, loc: str, seg: Segment, msg: Message,
               out: list[Finding]) -> None:
        """Every finding about one field's value (all its repetitions)."""
        pos = f.pos
        if not value or f.usage == "X" or value.isspace():
            _usage("field", f, f"{loc}-{pos}", not blank(value), out)
            return
        if header and pos <= 2:
            return
        if value == '""':
            return
        seps = msg.seps
        rs, cs, ss, esc = seps.repetition, seps.component, seps.subcomponent, seps.escape
        if rs in value:
            reps = value.split(rs)
            if f.max != UNBOUNDED and len(reps) > f.max:
                out.append(Finding(ERROR, f"{loc}-{pos}",
                                   f"field {f.name} has {len(reps)} repetitions; the profile allows at most {f.max}", "cardinality"))
            if len(reps) < f.min:
                out.append(Finding(ERROR, f"{loc}-{pos}",
                                   f"field {f.name} has {len(reps)} repetitions; the profile needs at least {f.min}", "cardinality"))
            for r, v in enumerate(reps, 1):
                if v and not v.isspace():
                    self._field_value(v, f, f"{loc}-{pos}({r})", seg, msg, out)
                elif f.usage == "R" and r == 1:
                    out.append(Finding(ERROR, f"{loc}-{pos}(1)", f"required field {f.name} is empty", "usage"))
        else:
            if f.min > 1:
                out.append(Finding(ERROR, f"{loc}-{pos}",
                                   f"field {f.name} has 1 repetition; the profile needs at least {f.min}", "cardinality"))
            if not f.plain:
                self._field_value(value, f, None, seg, msg, out, loc)
            elif not (cs not in value and ss not in value and esc not in value  # _fine, inlined
                      and (not f.length or len(value) <= f.length)
                      and (f.quick is None or f.quick(value))
                      and (f.pattern is None or f.pattern.fullmatch(value) is not None)
                      and (f.values is None or value in f.values)):
                self._leaf(value, f, None, seg, msg, out, cs, loc)

    def _field_value(self, v: str, f: ElementDef, where: str | None, seg: Segment, msg: Message,
                     out: list[Finding], loc: str = "") -> None:
        seps = msg.seps
        if not f.components:
            if not _fine(v, f, seps):
                self._leaf(v, f, where, seg, msg, out, seps.component, loc)
            return
        where = where or f"{loc}-{f.pos}"
        cs = seps.component
        comps = v.split(cs) if cs in v else [v]
        if f.max_components and len(comps) > f.max_components:
            _extra_components(comps, f.max_components, f.name, f.type, where, out)
        nc = len(comps)
        ss, esc = seps.subcomponent, seps.escape
        for c in f.components:
            cv = comps[c.pos - 1] if c.pos <= nc else ""
            if not cv or c.usage == "X" or cv.isspace():
                _usage("component", c, f"{where}.{c.pos}", not blank(cv), out)
                continue
            if c.components:
                ss = seps.subcomponent
                subs = cv.split(ss) if ss in cv else [cv]
                for sc in c.components:
                    sv = subs[sc.pos - 1] if sc.pos <= len(subs) else ""
                    if blank(sv):
                        if sc.usage == "R":
                            out.append(Finding(ERROR, f"{where}.{c.pos}.{sc.pos}", f"required subcomponent {sc.name} is missing", "usage"))
                        continue
                    self._leaf(sv, sc, f"{where}.{c.pos}.{sc.pos}", seg, msg, out, "")
                if c.length and len(cv) > c.length:
                    self._length(cv, c, f"{where}.{c.pos}", msg, out)
            elif not (c.plain and ss not in cv and esc not in cv  # _fine, inlined (no component separator left)
                      and (not c.length or len(cv) <= c.length)
                      and (c.quick is None or c.quick(cv))
                      and (c.pattern is None or c.pattern.fullmatch(cv) is not None)
                      and (c.values is None or cv in c.values)):
                self._leaf(cv, c, f"{where}.{c.pos}", seg, msg, out, ss)
        if f.length and len(v) > f.length:
            self._length(v, f, where, msg, out)

    def _leaf(self, v: str, e: ElementDef, where: str | None, seg: Segment, msg: Message, out: list[Finding],
              sep: str, loc: str = "") -> None:
        """Check one value that the profile does not split further: separators, length, format, codes, escapes.

        A value already wrong in kind (not of its type, not in its value set, extra components) is not also
        reported as too long: one finding per defect."""
        seps = msg.seps
        before = len(out)
        dtype = e.type
        if e.type_from:
            dtype = seg.field(e.type_from).split(seps.component)[0].strip()
            if not dtype:
                return
        primitive = dtype in datatypes.PRIMITIVE if e.type_from else e.primitive
        if sep and primitive and sep == seps.component and sep in v:
            # `F^` in an ID field: components where the type has none; the value is the first component
            parts = v.split(sep)
            _extra_components(parts, 1, e.name, dtype, where or f"{loc}-{e.pos}", out)
            v = parts[0]
            if blank(v):
                if e.usage in ("R", "RE"):
                    _usage("field", e, where or f"{loc}-{e.pos}", False, out)
                return
        if sep:
            if primitive:
                if sep in v or (sep == seps.component and seps.subcomponent in v):
                    bad = sep if sep in v else seps.subcomponent
                    out.append(Finding(ERROR, where or f"{loc}-{e.pos}",
                                       f"{e.name} ({dtype}) holds an unescaped separator {bad!r}", "escape"))
            elif sep in v:
                if sep == seps.component:
                    self._composite(v, e, dtype, where or f"{loc}-{e.pos}", sep, out)
            else:
                check = datatypes.FIRST_COMPONENT_FORMAT.get(dtype)
                if check and not datatypes.FORMAT[check][0](v):
                    out.append(Finding(ERROR, where or f"{loc}-{e.pos}", f"{e.name}: {v!r} is not {datatypes.FORMAT[check][1]}", "format"))
        fmt = e.fmt if not e.type_from else datatypes.FORMAT.get(dtype, (None, ""))[0]
        if fmt is not None and primitive and not fmt(v):
            text = e.fmt_text if not e.type_from else datatypes.FORMAT[dtype][1]
            out.append(Finding(ERROR, where or f"{loc}-{e.pos}", f"{e.name}: {v!r} is not {text}", "format"))
        if e.pattern is not None and not e.pattern.fullmatch(v):
            out.append(Finding(ERROR, where or f"{loc}-{e.pos}", f"{e.name}: {v!r} does not match format {e.pattern_name}", "format"))
        values = e.values
        if values is not None:
            code = v if primitive or not sep or sep not in v else v.split(sep)[0]
            if code not in values:
                if len(values) <= 8:
                    shown = f"one of {', '.join(sorted(values))}" + (f" (code table {e.table})" if e.table else "")
                else:
                    shown = f"in code table {e.table}"
                out.append(Finding(ERROR if e.strict else WARNING, where or f"{loc}-{e.pos}",
                                   f"{e.name}: {code!r} is not {shown}", "value_set"))
        if e.length and len(v) > e.length and not any(f.severity is ERROR for f in out[before:]):
            self._length(v, e, where or f"{loc}-{e.pos}", msg, out)
        esc = seps.escape
        if esc in v:
            for problem in escape_problems(v, seps):
                severity = ERROR if problem.startswith("unescaped") else WARNING
                out.append(Finding(severity, where or f"{loc}-{e.pos}", f"{e.name}: {problem}", "escape"))

    def _composite(self, v: str, e: ElementDef, dtype: str, where: str, cs: str, out: list[Finding]) -> None:
        """A composite value the profile gives no components for: component count and library formats."""
        comps = v.split(cs)
        limit = datatypes.components(dtype) if e.type_from else e.max_components
        if limit and len(comps) > limit and any(comps[limit:]):
            _extra_components(comps, limit, e.name, dtype, where, out)
        for index, ctype in datatypes.checked_components(dtype):
            if index <= len(comps) and comps[index - 1]:
                check, text = datatypes.FORMAT[ctype]
                if not check(comps[index - 1]):
                    out.append(Finding(ERROR, f"{where}.{index}", f"{e.name}: {comps[index - 1]!r} is not {text}", "format"))

    def _length(self, v: str, e: ElementDef, where: str, msg: Message, out: list[Finding]) -> None:
        shown = unescape(v, msg.seps) if msg.seps.escape in v else v
        if len(shown) > e.length:
            out.append(Finding(self.length_severity, where,
                               f"{e.name} is {len(shown)} characters long; the maximum is {e.length}", "length"))


    # -- the fast path: compiled per-segment checks ---------------------------------------------------------
    def _plans(self, seps: Separators, lib: str | None) -> dict[str, Plan | None] | None:
        """The plans for these delimiters and standard version, by segment name (filled as segments are met); None:
        walk every segment."""
        key = (seps, lib)
        plans = self.plans.get(key)
        if plans is None:
            # odd delimiters (not distinct, or characters the compiled formats use): every segment is walked
            if len(set(seps.all)) != 5 or any(c.isalnum() or c in "+-." for c in seps.all):
                return None
            if len(self.plans) >= MAX_SEPARATORS:
                self.plans.clear()
            plans = self.plans[key] = {}
        return plans

    def _quiet(self, seg: Segment, plan: Plan, msg: Message) -> bool:
        """True when the field walk would report nothing about `seg` (False: let the walk say)."""
        fields = seg.fields
        if plan.header and (len(fields) < 3 or not fields[1] or not fields[2]):
            return False
        by_field = plan.fields
        if by_field is not None:
            passed = plan.passed
            if passed is None:
                return self._quiet_fields(seg, fields, by_field, plan, msg)
            volatile = plan.volatile
            if volatile:
                emptied = fields.copy()
                count = len(emptied)
                for pos in volatile:
                    if pos < count:
                        emptied[pos] = ""
                text = plan.fs.join(emptied)
                if text in passed:  # the other fields passed before: the volatile ones decide
                    return self._quiet_fields(seg, fields, by_field, plan, msg, volatile)
            elif plan.header:  # MSH-10 is new in every message: remembered once volatile positions are known
                return self._quiet_fields(seg, fields, by_field, plan, msg)
            else:
                text = plan.fs.join(fields)
                if text in passed:
                    return True
            quiet = self._quiet_fields(seg, fields, by_field, plan, msg)
            if quiet and len(text) <= PASSED_LENGTH:
                if len(passed) >= PASSED_SEGMENTS:
                    passed.clear()
                passed.add(text)
            return quiet
        fs = plan.fs
        if plan.header:
            text = fs.join(fields[3:])
        else:
            text = fs.join(fields)
        if len(fields) <= plan.width:
            text += fs * (plan.width + 1 - len(fields))
        if len(text) <= SHORT and plan.short is not None:  # always set when `plan.fields` is not
            match = plan.short[0].fullmatch(text)
            checks = plan.short[1]
        else:
            full = plan.full or plan.compile_full()
            if full is None:
                return False
            match = full[0].fullmatch(text)
            checks = full[1]
        if match is None:
            return False
        return not checks or self._checks(match, checks, seg, msg, plan)

    def _quiet_fields(self, seg: Segment, fields: list[str], table: list[FieldCheck | None], plan: Plan,
                      msg: Message, only: tuple[int, ...] | None = None) -> bool:
        """`_quiet` field by field (`Plan.fields`): the same answer as the segment's whole expression. `only`: the
        answer for those positions alone (`Plan.volatile`, when the others are known to pass)."""
        count = len(fields)
        limit = len(table)
        for pos in plan.required if only is None else only:
            # an empty or missing value that may not pass, or whose captures decide
            if (pos >= count or not fields[pos]) and (only is None or pos in plan.required):
                check = table[pos]
                assert check is not None and check.regex is not None  # compiled with the plan
                if check.empty is False:
                    return False
                match = check.regex.fullmatch("")
                if match is None or (check.checks and not self._checks(match, check.checks, seg, msg, plan)):
                    return False
        for pos in range(plan.start, count if count < limit else limit) if only is None else only:
            value = fields[pos] if pos < count else ""
            if not value:
                continue  # passes: the positions where it may not were looked at above
            check = table[pos]
            if check is None:
                continue
            known = check.known
            if value in known:
                continue
            regex = check.regex
            if regex is None:
                try:
                    regex = check.compile()
                except (re.error, OverflowError, RecursionError):
                    return False  # the walk decides
            match = regex.fullmatch(value)
            if match is None:
                return False
            if check.checks:
                if not self._checks(match, check.checks, seg, msg, plan):
                    return False
                if not check.pure:
                    continue
            if len(known) < KNOWN_VALUES and len(value) <= KNOWN_LENGTH:
                known.add(value)
            check.misses += 1
            if check.misses == VOLATILE_AFTER and plan.passed is not None and pos >= plan.start:
                plan.volatile = tuple(sorted({*plan.volatile, pos}))
        if only is not None:
            return True
        if count > limit and plan.sdef.limit:  # beyond the definition's fields only empty ones pass
            for value in fields[limit:]:
                if value:
                    return False
        return True

    def _checks(self, match: re.Match[str], checks: tuple[tuple[int, int, Any], ...], seg: Segment, msg: Message,
                plan: Plan) -> bool:
        """The checks a regular expression leaves to Python, on the values it captured."""
        for group, kind, arg in checks:
            value = match.group(group)
            if value is None:
                continue
            if kind == IN:
                if value not in arg:
                    return False
            elif kind == PATTERN:
                if arg.fullmatch(value) is None:
                    return False
            elif kind == TYPE_FROM:
                if not self._typed_quiet(arg, value, seg, msg, plan):
                    return False
            else:
                scratch: list[Finding] = []
                self._field(arg, value, plan.header, "", seg, msg, scratch)
                if scratch:
                    return False
        return True

    def _typed_quiet(self, f: ElementDef, value: str, seg: Segment, msg: Message, plan: Plan) -> bool:
        """Like `_quiet` for one field whose data type another field gives (OBX-5 by OBX-2)."""
        if not value or value.isspace():
            return f.usage not in ("R", "RE")
        if value == '""':
            return True
        seps = msg.seps
        if seps.repetition in value or f.min > 1:
            return False
        dtype = seg.field(f.type_from).split(seps.component)[0].strip()
        if not dtype:
            return True
        key = (f.pos, dtype)
        typed = plan.typed.get(key)
        if typed is None:
            typed = compile_value(f, dtype, seps)
            if typed is None:
                return False
            if len(plan.typed) < MAX_TYPES:
                plan.typed[key] = typed
        regex, checks = typed
        match = regex.fullmatch(value)
        return match is not None and (not checks or self._checks(match, checks, seg, msg, plan))


def _leading(group: GroupDef) -> str:
    """The first segment of a group (of its first child group, if it starts with one)."""
    first: SegRef | GroupDef = group
    while isinstance(first, GroupDef):
        first = first.children[0]
    return first.name


def _extra_components(parts: list[str], limit: int, name: str, dtype: str, where: str, out: list[Finding]) -> None:
    """More components than type `dtype` has, located at the first valued extra one (an error); only empty ones
    (`F^`) are a warning for a primitive type and nothing for a composite (trailing separators are harmless)."""
    first = next((i for i in range(limit, len(parts)) if parts[i] and not parts[i].isspace()), -1)
    if first < 0:
        if limit == 1:
            out.append(Finding(WARNING, f"{where}.2", f"{name} ({dtype}) ends with an empty component: a {dtype} has "
                               "no components", "components"))
        return
    has = "no components" if limit == 1 else f"{limit} components"
    out.append(Finding(ERROR, f"{where}.{first + 1}", f"{name} has {len(parts)} components; type {dtype} has {has}",
                       "components"))


def _fine(v: str, e: ElementDef, seps: Separators) -> bool:
    """The fast path: True when a single value certainly has nothing to report (else `_leaf` says what)."""
    return (e.plain and seps.component not in v and seps.subcomponent not in v and seps.escape not in v
            and (not e.length or len(v) <= e.length)
            and (e.quick is None or e.quick(v))
            and (e.pattern is None or e.pattern.fullmatch(v) is not None)
            and (e.values is None or v in e.values))


def _seg_loc(seg: Segment, counts: dict[str, int]) -> str:
    return f"{seg.name}[{seg.index}]" if counts.get(seg.name, 1) > 1 else seg.name
