"""Profile segment definitions compiled into one regular expression each: the validator's fast path.

An expression accepts only segments about which the field walk of `ProfileValidator` reports nothing; any other
segment goes through the walk, which says what is wrong. See `ProfileValidator._quiet`.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from harness.contract.hl7 import datatypes
from harness.contract.hl7.escape import Separators
from harness.contract.hl7.profile import UNBOUNDED, ElementDef, SegmentDef

# -- the fast path: a segment definition compiled into one regular expression -----------------------------------
# The expression accepts only segments about which the field walk (`ProfileValidator._fields`) reports nothing: it is stricter
# wherever being exact would be costly (an escape sequence, a subcomponent separator, a 29 February), and such a
# segment simply goes through the walk. What a regular expression cannot say is captured and checked in Python:
# membership of a large value set, a contract format, a field typed by another field, or (for what is not
# compiled at all, e.g. subcomponents in the profile) the walk of that one field.
IN, PATTERN, TYPE_FROM, FIELD = range(4)
_MAX_ALTERNATIVES = 64
"""Value sets up to this size become alternatives in the expression; larger ones a set lookup."""
MAX_SHAPES = 512
MAX_SEPARATORS = 8
MAX_TYPES = 64
SHORT = 200
_TEXT = frozenset({"ST", "TX", "FT"})
"""A segment whose text is at most this long gets an expression without the length checks of limits this high or
higher (none of its values can break them): each such check is a look-ahead, and most segments are short."""


PATTERNS = 2048
"""Compiled expressions kept for the process (`pattern`): a few hundred for every HL7 contract of a release."""


@functools.lru_cache(maxsize=PATTERNS)
def pattern(source: str) -> re.Pattern[str]:
    """`source` compiled, once per process: the profiles of a contract, its versions and the contracts of one
    interface share most segment definitions, so most of their expressions are alike, and `re`'s own cache (512
    expressions, shared with every other module's) is emptied by a run's other expressions long before the next
    contract is loaded. A compiled expression is immutable; what a caller remembers beside it (the captures to
    check, values seen to pass) stays its own."""
    return re.compile(source)


class Plan:
    """One segment definition compiled for one set of separators (see `ProfileValidator._quiet`)."""

    __slots__ = ("by_pos", "fields", "fs", "full", "header", "passed", "required", "sdef", "seps", "short", "start",
                 "typed", "volatile", "width")

    def __init__(self, sdef: SegmentDef, by_pos: dict[int, ElementDef], seps: Separators, header: bool,
                 short: tuple[re.Pattern[str], tuple[tuple[int, int, Any], ...]] | None,
                 fields: list[FieldCheck | None] | None = None) -> None:
        self.sdef = sdef
        self.by_pos = by_pos
        self.seps = seps
        self.short = short
        """The whole expression for a segment text of at most `SHORT` characters (most segments), with its
        captures; None when `fields` is given, which checks every segment instead (the whole expression of a
        segment is most of the cost of compiling it, so it is not compiled when nothing would use it)."""
        self.full: tuple[re.Pattern[str], tuple[tuple[int, int, Any], ...]] | None = None
        """For longer segments: compiled when the first one comes (`compile_full`)."""
        self.fs = seps.field
        self.header = header
        self.width = required_width(sdef, header)
        """The last field position the expression needs: shorter segments are padded with empty fields."""
        self.typed: dict[tuple[int, str], tuple[re.Pattern[str], tuple[tuple[int, int, Any], ...]] | None] = {}
        self.fields = fields
        """The same expression cut at the field separators (`field_checks`), by field position up to the last one
        the definition has (None: anything but a separator); None when two fields are checked together (a field
        typed by another: OBX-5 by OBX-2), which keeps the whole expression."""
        self.required = tuple(pos for pos, check in enumerate(fields or ()) if check is not None and
                              check.empty is not True)
        """The positions where an empty (or missing) field may not pass."""
        self.start = 3 if header else 1
        self.passed: set[str] | None = set() if fields is not None and all(
            check is None or check.pure for check in fields) else None
        """Segment texts seen to pass (at most PASSED_SEGMENTS of at most PASSED_LENGTH characters, forgotten all at
        once past that), when the answer is a function of the text alone: field by field (`fields`), every piece
        `pure`. A patient's PID and visit's PV1 come again with each of their orders; a set lookup of the joined
        text costs a fraction of a walk over its fields. With `volatile` positions the text is kept with those
        fields emptied, and they are checked one by one."""
        self.volatile: tuple[int, ...] = ()
        """Field positions whose values keep changing (a new value VOLATILE_AFTER times: MSH-7, MSH-10, a placer
        number), emptied in the texts `passed` keeps: an order's MSH, ORC and OBR then pass by a lookup and a check
        of those fields alone. A header is remembered only once it has some."""

    def compile_full(self) -> tuple[re.Pattern[str], tuple[tuple[int, int, Any], ...]] | None:
        """The expression for segments longer than `SHORT` (None when it cannot be compiled: walk them)."""
        try:
            self.full = _segment_regex(_Builder(self.seps), self.sdef, self.by_pos, self.header)
        except (re.error, OverflowError, RecursionError):
            return None
        return self.full


class _Builder:
    """Builds the expression of one segment (or one typed value), collecting the captures to check in Python."""

    def __init__(self, seps: Separators, short: int = 0) -> None:
        self.seps = seps
        self.short = short
        """Values are known to be at most this long (0: not known): length limits this high are not checked."""
        e = re.escape
        self.fs, self.cs, self.rs, self.esc, self.ss = (e(seps.field), e(seps.component), e(seps.repetition),
                                                        e(seps.escape), e(seps.subcomponent))
        self.leaf_char = f"[^{self.fs}{self.cs}{self.rs}{self.esc}{self.ss}]"
        """A character of a value that needs no splitting and no unescaping."""
        e_ = self.esc
        inside = f"[^{self.fs}{self.cs}{self.rs}{e_}{self.ss}]"
        self.escape_sequence = (f"{e_}(?:[FSTREPHN]|\\.(?:br|fi|nf|ce)|\\.(?:sp|in|ti|sk)[+-]?[0-9]*"
                                f"|X(?:[0-9A-Fa-f]{{2}})+|C[0-9A-Fa-f]{{4}}|M[0-9A-Fa-f]{{4}}(?:[0-9A-Fa-f]{{2}})?"
                                f"|Z{inside}*){e_}")
        """An escape sequence `escape_problems` accepts. Text holding only such sequences passes the walk's escape
        check; its length is checked as written, which the walk checks first (it unescapes only a longer value)."""
        self.raw_char = f"[^{self.fs}{self.cs}{self.rs}{self.ss}]"
        self.valued = f"(?!\\s*+(?:{self.fs}|{self.rs}|{self.cs}|\\Z))"
        """Before a required element: it holds more than white space (spaces only are not a value to the walk)."""
        self.value_char = f"[^{self.fs}{self.rs}]"
        self.checks: list[tuple[str, int, Any]] = []

    def capture(self, regex: str, *checks: tuple[int, Any]) -> str:
        name = f"g{len(self.checks)}"
        for kind, arg in checks:
            self.checks.append((name, kind, arg))
        return f"(?P<{name}>{regex})"

    def limit(self, length: int) -> int:
        """The length limit to check (0: none)."""
        return 0 if self.short and length >= self.short else length

    def clean(self, value: str) -> bool:
        return not any(c in value for c in self.seps.all)

    def leaf(self, e: ElementDef, dtype: str, length: int) -> str:
        """A nonempty value without separators or escapes that the walk's `_fine` (and so `_leaf`) passes."""
        primitive = dtype in datatypes.PRIMITIVE
        fname = dtype if primitive else datatypes.FIRST_COMPONENT_FORMAT.get(dtype, "")
        check = datatypes.FORMAT[fname][0] if fname in datatypes.FORMAT else None
        fast = datatypes.FAST_FORMAT.get(fname)
        values = e.values
        if values is not None:
            ok = sorted(v for v in values if v and self.clean(v) and (not length or len(v) <= length)
                        and (check is None or check(v)))
            if len(ok) <= _MAX_ALTERNATIVES:
                return "(?:" + "|".join(re.escape(v) for v in ok) + ")" if ok else "(?!)"
            return self.capture(self.bounded(fast, length), (IN, values))
        if dtype in _TEXT:  # text may hold escape sequences: the walk checks them and then passes it
            length = self.limit(length)
            leaf, raw = self.leaf_char, self.raw_char
            escaped = f"(?:{leaf}++|{self.escape_sequence})++"
            if not length:
                return escaped
            return f"(?:{leaf}{{1,{length}}}+|(?={raw}{{1,{length}}}(?!{raw})){escaped})"
        return self.bounded(fast, length)

    def bounded(self, fast: tuple[str, int] | None, length: int) -> str:
        char = self.leaf_char
        length = self.limit(length)
        if fast is None:
            return f"{char}{{1,{length}}}+" if length else f"{char}++"
        regex, longest = fast
        if length and (not longest or longest > length):
            return f"(?={char}{{1,{length}}}(?!{char}))(?:{regex})"
        return f"(?:{regex})"

    def value(self, e: ElementDef, dtype: str) -> str:
        """One nonempty repetition of a field without profile components, of type `dtype`, that the walk passes."""
        single = self.leaf(e, dtype, e.length)
        if dtype in datatypes.PRIMITIVE:
            body = single
        else:
            limit = e.max_components if dtype == e.type else datatypes.components(dtype)
            checked = dict(datatypes.checked_components(dtype))
            cs, char = self.cs, self.leaf_char

            def comp(index: int) -> str:
                fname = checked.get(index)
                return f"(?:{datatypes.FAST_FORMAT[fname][0]})?" if fname else f"{char}*+"

            if e.values is not None:
                fname = checked.get(1, "")
                check = datatypes.FORMAT[fname][0] if fname in datatypes.FORMAT else None
                ok = sorted(v for v in e.values if v and self.clean(v) and (check is None or check(v)))
                if len(ok) <= _MAX_ALTERNATIVES:
                    first = "(?:" + "|".join(re.escape(v) for v in ok) + ")" if ok else "(?!)"
                else:
                    first = self.capture(comp(1), (IN, e.values))
            else:
                first = comp(1)
            if limit == 0:
                rest = f"(?:{cs}{char}*+)+"
            elif limit == 1:
                rest = f"(?:{cs})+"
            else:
                inner = f"(?:{cs})*"
                for index in range(limit, 2, -1):
                    inner = f"(?:{cs}{comp(index)}{inner})?"
                rest = f"{cs}{comp(2)}{inner}"
            vc = self.value_char
            length = self.limit(e.length)
            if dtype not in datatypes.FIRST_COMPONENT_FORMAT and checked.get(1) is None:
                # one pass: the first component is checked alike whether other components follow or not
                ahead = f"(?={vc}{{1,{length}}}(?!{vc}))" if length else f"(?={vc})"
                body = f"{ahead}{first}(?:{rest})?"
            else:  # TS, CQ, MO: mostly written as their first component alone, which needs no look-ahead
                ahead = f"(?={vc}{{1,{length}}}(?!{vc}))" if length else ""
                body = f"(?:{single}|{ahead}{first}{rest})"
        if e.pattern is not None:
            body = self.capture(body, (PATTERN, e.pattern))
        return body

    def structured(self, f: ElementDef) -> str | None:
        """One nonempty repetition of a field with profile components; None when it has subcomponents."""
        if any(c.components for c in f.components):
            return None
        defs = {c.pos: c for c in f.components}
        last = max(defs)
        limit = f.max_components
        if limit and last > limit:
            return None
        cs = self.cs
        free = f"[^{self.fs}{self.rs}{cs}{self.esc}]*+"
        """A component the profile does not define: not checked, but no escapes (they would change lengths)."""

        def comp(index: int) -> str:
            c = defs.get(index)
            if c is None:
                return free
            if c.usage == "X":
                return ""
            body = self.leaf(c, c.type, c.length)
            if c.pattern is not None:
                body = self.capture(body, (PATTERN, c.pattern))
            return self.valued + body if c.usage in ("R", "RE") else f"(?:{body})?"

        def may_end(index: int) -> bool:
            return all(j not in defs or defs[j].usage not in ("R", "RE") for j in range(index, last + 1))

        inner = f"(?:{cs}{free})*" if not limit else f"(?:{cs}{free}){{0,{limit - last}}}(?:{cs})*"
        for index in range(last, 1, -1):
            part = f"{cs}{comp(index)}{inner}"
            inner = f"(?:{part})?" if may_end(index) else part
        vc = self.value_char
        length = self.limit(f.length)
        ahead = f"(?={vc}{{1,{length}}}(?!{vc}))" if length else f"(?={vc})"
        return f"{ahead}{comp(1)}{inner}"

    def field(self, f: ElementDef) -> str:
        """A field's whole value (every repetition) that the walk passes."""
        if f.usage == "X":
            return ""
        if f.standard:
            return self.standard_field(f)
        before = len(self.checks)
        whole = f"[^{self.fs}]*+"
        if f.type_from:
            return self.capture(whole, (TYPE_FROM, f))
        one = self.structured(f) if f.components else self.value(f, f.type)
        if one is None:
            return self.capture(whole, (FIELD, f))
        repeats = f.max == UNBOUNDED or f.max >= 2
        if repeats and len(self.checks) > before:  # a capture inside a repetition keeps only the last one
            del self.checks[before:]
            return self.capture(whole, (FIELD, f))
        alternatives = [one] if f.min <= 1 else []
        if repeats:
            low = max(1, f.min - 1)
            high = "" if f.max == UNBOUNDED else str(f.max - 1)
            first = one if f.usage == "R" else f"(?:{one})?"
            alternatives.append(f"{first}(?:{self.rs}(?:{one})?){{{low},{high}}}")
        alternatives.append('""')
        if f.usage not in ("R", "RE"):
            alternatives.append("")
            return "(?:" + "|".join(alternatives) + ")"
        return self.valued + "(?:" + "|".join(alternatives) + ")"

    def standard_field(self, f: ElementDef) -> str:
        """A field the profile leaves to the standard, compactly: empty first (most are), else its type's form,
        the components up to the first one after the first whose format is checked, its repetitions. What this
        leaves out (escape sequences, subcomponents, a later checked component) goes to the walk."""
        fs, cs, rs = self.fs, self.cs, self.rs
        free = f"[^{fs}{cs}{rs}{self.esc}{self.ss}]*+"
        dtype = f.type
        if dtype in datatypes.PRIMITIVE:
            one = self.bounded(datatypes.FAST_FORMAT.get(dtype), f.length)
        else:
            fname = datatypes.FIRST_COMPONENT_FORMAT.get(dtype)
            first = f"(?:{datatypes.FAST_FORMAT[fname][0]})?" if fname else free
            bounds = [f.max_components - 1] if f.max_components else []
            bounds += [pos - 2 for pos, _ in datatypes.checked_components(dtype) if pos > 1][:1]
            rest = f"(?:{cs}{free}){{0,{min(bounds)}}}" if bounds else f"(?:{cs}{free})*"
            one = first + rest
        if f.max == UNBOUNDED or f.max >= 2:
            more = "*" if f.max == UNBOUNDED else f"{{0,{f.max - 1}}}"
            one = f"(?:{one})?(?:{rs}(?:{one})?){more}"
        # atomic: an empty field matches its first branch only, so a failing segment is not retried field by field
        return f'(?>(?={fs}|\\Z)|{one}|"")'

    def types(self, source: ElementDef) -> list[str]:
        """The data types a coded field may name, each a value the walk passes there (none: no coupling)."""
        if source.values is None or not source.plain or source.usage == "X":
            return []
        check = source.quick
        ok = sorted(v for v in source.values if v and v == v.strip() and self.clean(v)
                    and (not source.length or len(v) <= source.length) and (check is None or check(v))
                    and (source.pattern is None or source.pattern.fullmatch(v) is not None))
        return ok if len(ok) <= _MAX_ALTERNATIVES else []

    def typed(self, f: ElementDef, dtype: str) -> str:
        """A field typed by another (`type_from`) read as `dtype`: empty, null or one repetition."""
        alternatives = [self.value(f, dtype)] if f.min <= 1 else []
        alternatives.append('""')
        if f.usage not in ("R", "RE"):
            alternatives.append("")
            return "(?:" + "|".join(alternatives) + ")"
        return self.valued + "(?:" + "|".join(alternatives) + ")"

    def compile(self, regex: str) -> tuple[re.Pattern[str], tuple[tuple[int, int, Any], ...]]:
        compiled = pattern(regex)
        return compiled, tuple((compiled.groupindex[name], kind, arg) for name, kind, arg in self.checks)


def compile_plan(sdef: SegmentDef, seps: Separators, header: bool) -> Plan | None:
    """The plan of one segment definition, or None when it would not pay (the walk checks every such segment)."""
    by_pos = {f.pos: f for f in sdef.fields}
    if header and any(by_pos[pos].usage == "X" for pos in (1, 2) if pos in by_pos):
        return None
    fields = field_checks(sdef, by_pos, seps, header)
    if fields is not None:  # checked field by field: the whole expression would never be matched
        return Plan(sdef, by_pos, seps, header, None, fields)
    try:
        short = _segment_regex(_Builder(seps, SHORT), sdef, by_pos, header)
    except (re.error, OverflowError, RecursionError):
        return None
    return Plan(sdef, by_pos, seps, header, short)


PASSED_SEGMENTS = 256
PASSED_LENGTH = 1024
"""Bounds of `Plan.passed`."""

VOLATILE_AFTER = 16
"""New values a field position passes before it counts as volatile (`Plan.volatile`)."""

KNOWN_VALUES = 256
"""Values remembered per field position as passing (`FieldCheck.known`); longer values are not remembered."""
KNOWN_LENGTH = 64


class FieldCheck:
    """One field position's piece of a segment's expression (see `field_checks`), compiled when a value first
    needs it: most of a standard segment's fields are never valued, and a receiver's first message should not wait
    for their expressions."""

    __slots__ = ("checks", "empty", "known", "misses", "names", "pure", "regex", "source")

    def __init__(self, source: str, names: list[tuple[str, int, Any]]) -> None:
        self.source = source
        self.names = names
        self.regex: re.Pattern[str] | None = None
        self.checks: tuple[tuple[int, int, Any], ...] = ()
        """The captures it leaves to Python (`ProfileValidator._checks`), by group number once compiled."""
        self.empty: bool | None = True
        """Whether an empty value passes; None when the captures decide."""
        self.pure = all(kind in (IN, PATTERN) for _, kind, _ in names)
        """Whether the answer depends on the value alone (not on another field, as a typed field's does)."""
        self.known: set[str] = set()
        """Values seen to pass (at most KNOWN_VALUES of at most KNOWN_LENGTH characters): coded values (MSH-9,
        a department, a test code, a doctor) recur from message to message, and a set lookup costs a small
        fraction of a match. Only values whose answer depends on them alone (`pure`)."""
        self.misses = 0
        """Values that passed and were not in `known`: at VOLATILE_AFTER its position is one of `Plan.volatile`."""

    def compile(self) -> re.Pattern[str]:
        """The expression (re.error and the like when it cannot be compiled)."""
        regex = pattern(self.source)
        self.checks = tuple((regex.groupindex[name], kind, arg) for name, kind, arg in self.names)
        self.regex = regex  # last: a reader that sees the expression sees its checks
        return regex


def field_checks(sdef: SegmentDef, by_pos: dict[int, ElementDef], seps: Separators, header: bool
                 ) -> list[FieldCheck | None] | None:
    """The segment's expression cut at the field separators: one expression per defined field position.

    Every piece of the whole expression stops at a field separator (none of them can match one), so the whole
    expression matches a segment exactly when each field's piece matches that field, a missing field read as
    empty: a segment is checked with one short match per valued field (none for a value already seen to pass)
    instead of one long match over its whole text, and an empty field (most of them) with a flag. Each piece
    keeps every length check (the whole expression for short segments drops those no short text can break).
    An empty value passes every piece but those of required fields (R, RE: the walk reports them missing or
    empty), which are compiled here to say how; the others are compiled when first valued.
    None when two fields are checked together (a field whose data type another gives, compiled as one branch per
    type), and when a required field's piece cannot be compiled."""
    start = 3 if header else 1
    last = max(by_pos)
    if last < start:
        return None
    typed = {f.type_from for f in sdef.fields if f.type_from and start <= f.type_from < f.pos}
    out: list[FieldCheck | None] = [None] * (last + 1)
    try:
        for pos in range(start, last + 1):
            f = by_pos.get(pos)
            if f is None:
                continue  # a position the definition leaves out: anything but a field separator
            builder = _Builder(seps)
            if pos in typed and builder.types(f):  # f names the type of a later field: they are checked together
                return None
            source = builder.field(f)
            if source == f"[^{builder.fs}]*+":
                continue
            check = out[pos] = FieldCheck(source, builder.checks)
            if f.usage in ("R", "RE"):
                match = check.compile().fullmatch("")
                check.empty = False if match is None else (
                    True if all(match.group(group) is None for group, _, _ in check.checks) else None)
    except (re.error, OverflowError, RecursionError):
        return None
    return out


def _segment_regex(builder: _Builder, sdef: SegmentDef, by_pos: dict[int, ElementDef], header: bool
                   ) -> tuple[re.Pattern[str], tuple[tuple[int, int, Any], ...]]:
    start = 3 if header else 1
    width = max(by_pos)
    fs = builder.fs
    typed = {f.type_from: f for f in reversed(sdef.fields) if f.type_from and start <= f.type_from < f.pos}
    must = required_width(sdef, header)
    parts: list[str] = []
    optional: list[str] = []
    """The parts after the last field that must be there: each may be missing with all those after it."""
    pos = start
    while pos <= width:
        f = typed.get(pos)
        source = by_pos.get(pos)
        types = builder.types(source) if f is not None and source is not None else []
        if f is None or not types:
            (parts if pos <= must else optional).append(builder.field(by_pos[pos]) if pos in by_pos else f"[^{fs}]*+")
            pos += 1
            continue
        # the source field and the typed one together (OBX-2 and OBX-5): the type the source names is kept in a
        # group of its own, and the typed field is read by the type whose group matched. The fields between them
        # are written once, not once per type: OBX's expression and the time to compile it halve.
        named = [(f"t{pos}_{n}", dtype) for n, dtype in enumerate(types)]  # one name per pair and type
        between = [builder.field(by_pos[p]) if p in by_pos else f"[^{fs}]*+" for p in range(pos + 1, f.pos)]
        head = "(?:" + "|".join(f"(?P<{name}>{re.escape(dtype)})" for name, dtype in named) + ")"
        value = "(?:" + "|".join(f"(?({name}){builder.typed(f, dtype)}|(?!))" for name, dtype in named) + ")"
        (parts if pos <= must else optional).append(fs.join([head, *between, value]))
        pos = f.pos + 1
    # beyond the last defined field: anything when no limit is known, else empty fields only (the walk reports
    # a valued one as an extra field)
    tail = f"(?:{fs})*" if sdef.limit else f"(?:{fs}[\\s\\S]*)?"
    for part in reversed(optional):
        tail = f"(?:{fs}{part}{tail})?"
    if header:
        regex = fs.join(parts) + tail if parts else "[\\s\\S]*"
    else:
        regex = f"[^{fs}]*{fs}" + fs.join(parts) + tail
    return builder.compile(regex)


def required_width(sdef: SegmentDef, header: bool) -> int:
    """The last field position a segment's text must reach for its expression: the last one the profile requires
    (R or RE, or typed by another field at or before it); the optional fields after it may be left out, all the
    rest of the segment with them."""
    if not sdef.limit:  # no standard definition: what follows the profile's last field is not checked at all
        return max(f.pos for f in sdef.fields)
    start = 3 if header else 1
    must = start
    for f in sdef.fields:
        if f.usage in ("R", "RE") or f.min > 0:
            must = max(must, f.pos)
    for f in sdef.fields:
        if f.type_from and f.type_from <= must:
            must = max(must, f.pos)
    return must


def compile_value(f: ElementDef, dtype: str, seps: Separators
                   ) -> tuple[re.Pattern[str], tuple[tuple[int, int, Any], ...]] | None:
    """The expression for one repetition of field `f` read as type `dtype` (a field typed by another field)."""
    builder = _Builder(seps)
    try:
        return builder.compile(builder.value(f, dtype))
    except (re.error, OverflowError, RecursionError):
        return None
