"""A fast, lossless HL7 v2 (ER7) parser: segments, fields, repetitions, components, subcomponents, HL7 paths.

`parse(text)` never raises: what is wrong with the text (LF or CRLF between segments, MLLP framing characters,
a first segment that is not MSH, bad segment names, odd encoding characters) becomes a Finding on the Message.
Every segment is kept in order, Z-segments and unknown ones included. Values are stored as they were written
(escaped); `Message.get` decodes escape sequences, `Message.raw` does not.

Paths: `PID-3` (field 3 of the first PID, first repetition), `PID-3.1` (component), `PID-3.4.1` (subcomponent),
`OBX[2]-5` (the second OBX), `PID-3(2).1` (second repetition). Segment and repetition numbers are 1-based.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from harness.contract.findings import Finding, Severity
from harness.contract.hl7.escape import DEFAULT, Separators, escape, unescape

SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}")
HEADERS = frozenset({"MSH", "FHS", "BHS"})
"""Segments whose field 1 is the field separator itself and field 2 the encoding characters."""
_NAMES: set[str] = set()
"""Segment names already seen to be valid (so the name pattern runs once per name, not once per segment)."""

_PATH = re.compile(
    r"(?P<seg>[A-Z][A-Z0-9]{2})(?:\[(?P<si>\d+)\])?"
    r"(?:-(?P<f>\d+)(?:\((?P<r>\d+)\))?(?:\.(?P<c>\d+)(?:\.(?P<s>\d+))?)?)?"
)


@dataclass(frozen=True, slots=True)
class HL7Path:
    """A parsed HL7 location; 0 means "not given" for field, component and subcomponent."""

    segment: str
    index: int = 1
    field: int = 0
    repetition: int = 1
    component: int = 0
    subcomponent: int = 0

    def __str__(self) -> str:
        text = self.segment + (f"[{self.index}]" if self.index != 1 else "")
        if self.field:
            text += f"-{self.field}" + (f"({self.repetition})" if self.repetition != 1 else "")
            if self.component:
                text += f".{self.component}" + (f".{self.subcomponent}" if self.subcomponent else "")
        return text

    def erl(self) -> str:
        """As an HL7 ERR-2 error location (ERL): segment^sequence^field^repetition^component^subcomponent."""
        parts = [self.segment, str(self.index), str(self.field or ""), str(self.repetition if self.field else ""),
                 str(self.component or ""), str(self.subcomponent or "")]
        return "^".join(parts).rstrip("^")


@lru_cache(maxsize=4096)
def parse_path(path: str) -> HL7Path:
    """`PID-3(2).1` -> HL7Path; ValueError when the text is not an HL7 path."""
    match = _PATH.fullmatch(path.strip())
    if not match:
        raise ValueError(f"not an HL7 path: {path!r} (expected e.g. PID-3.1, OBX[2]-5, PID-3(2).1)")
    g = match.groupdict()
    return HL7Path(g["seg"], int(g["si"] or 1), int(g["f"] or 0), int(g["r"] or 1), int(g["c"] or 0), int(g["s"] or 0))


def _first_component(fields: list[str], count: int, n: int, k: int, rep: str, comp: str) -> str:
    """`Message.head`'s reader: component k (0-based) of field n's first repetition, stripped."""
    value = fields[n] if n < count else ""
    if not value:
        return ""
    if rep in value:
        value = value.split(rep, 1)[0]
    if comp not in value:
        return value.strip() if k == 0 else ""
    parts = value.split(comp)
    return parts[k].strip() if k < len(parts) else ""


def _blank(fields: list[str], count: int, n: int, rep: str) -> bool:
    """`Message.head`'s reader: whether field n's first repetition is empty or spaces."""
    value = fields[n] if n < count else ""
    return not value or not (value.split(rep, 1)[0] if rep in value else value).strip()


class Segment:
    """One segment: `fields[0]` is its name and `fields[n]` field n as written, so MSH-1 is `fields[1]`."""

    __slots__ = ("fields", "index", "name")

    def __init__(self, name: str, fields: list[str], index: int = 1) -> None:
        self.name = name
        self.fields = fields
        self.index = index
        """Occurrence of this segment name in its message (1 for the first PID, 3 for the third OBX)."""

    def field(self, n: int) -> str:
        """Field n as written (all its repetitions), "" when absent."""
        return self.fields[n] if 0 < n < len(self.fields) else ""

    def __repr__(self) -> str:
        return f"Segment({self.name}[{self.index}], {len(self.fields) - 1} fields)"


class Head(NamedTuple):
    """What a receiver reads first from MSH, in one pass (see `Message.head`)."""

    message_type: str
    control_id: str
    version: str
    sender: tuple[str, str]
    receiver: tuple[str, str]
    enhanced_mode: bool


class Message:
    """A parsed HL7 v2 message: segments in order, separators, parse findings, the charset it was decoded with."""

    __slots__ = ("_memo", "charset", "findings", "segments", "seps")

    def __init__(self, segments: list[Segment], seps: Separators = DEFAULT, findings: list[Finding] | None = None,
                 charset: str = "UNICODE UTF-8") -> None:
        self.segments = segments
        self.seps = seps
        self.findings = findings if findings is not None else []
        self.charset = charset
        self._memo: dict[int, tuple[str, list[str], Separators, str]] = {}
        """MSH values already read (a receiver asks for MSH-9 and MSH-12 a dozen times per message), each kept with
        the field text and field list it came from, so a value written since is read afresh."""

    # -- segments ---------------------------------------------------------------------------------------
    def segment(self, name: str, index: int = 1) -> Segment | None:
        for seg in self.segments:
            if seg.name == name and seg.index == index:
                return seg
        return None

    def all(self, name: str) -> list[Segment]:
        return [seg for seg in self.segments if seg.name == name]

    def names(self) -> list[str]:
        return [seg.name for seg in self.segments]

    def firsts(self) -> dict[str, Segment]:
        """The first segment of each name, in one pass: for a reader that takes several values from a few segments
        (`get_in(firsts["PID"], PID_5_1)`) instead of looking each path's segment up again."""
        found: dict[str, Segment] = {}
        for seg in self.segments:
            if seg.name not in found:
                found[seg.name] = seg
        return found

    # -- values by path ---------------------------------------------------------------------------------
    def raw(self, path: str | HL7Path) -> str:
        """The value at `path` as written (escape sequences kept); "" when absent."""
        p = parse_path(path) if isinstance(path, str) else path
        seg = self.segment(p.segment, p.index)
        if seg is None:
            return ""
        return self._raw_in(seg, p)

    def _raw_in(self, seg: Segment, p: HL7Path) -> str:
        n = p.field
        if not n:
            return self.seps.field.join(seg.fields[:1] + seg.fields[2:] if seg.name in HEADERS else seg.fields)
        fields = seg.fields
        value = fields[n] if n < len(fields) else ""
        if n <= 2 and seg.name in HEADERS:
            return value
        s = self.seps
        if s.repetition in value:
            reps = value.split(s.repetition)
            value = reps[p.repetition - 1] if p.repetition <= len(reps) else ""
        elif p.repetition != 1:
            return ""
        if not p.component:
            return value
        comps = value.split(s.component)
        value = comps[p.component - 1] if p.component <= len(comps) else ""
        if not p.subcomponent:
            return value
        subs = value.split(s.subcomponent)
        return subs[p.subcomponent - 1] if p.subcomponent <= len(subs) else ""

    def get(self, path: str | HL7Path) -> str:
        """The value at `path` with escape sequences decoded; "" when absent."""
        return unescape(self.raw(path), self.seps)

    def get_in(self, seg: Segment | None, path: str | HL7Path) -> str:
        """Like `get`, in a segment already at hand: `path`'s field, repetition and components are read from `seg`
        (its segment name and number are not looked up), e.g. `get_in(obx, "OBX-5")` for each OBX in turn; "" when
        `seg` is None."""
        if seg is None:
            return ""
        value = self._raw_in(seg, parse_path(path) if isinstance(path, str) else path)
        return unescape(value, self.seps) if self.seps.escape in value else value

    def repetitions(self, path: str | HL7Path) -> list[str]:
        """Every repetition of the field at `path` (components and below ignored), as written."""
        p = parse_path(path) if isinstance(path, str) else path
        seg = self.segment(p.segment, p.index)
        value = seg.field(p.field) if seg is not None and p.field else ""
        if not value:
            return []
        return [value] if seg is not None and seg.name in HEADERS and p.field <= 2 else value.split(self.seps.repetition)

    def set(self, path: str | HL7Path, value: str, *, escaped: bool = False) -> None:
        """Write `value` at `path` (escaping it unless `escaped`), adding fields, repetitions or components."""
        p = parse_path(path) if isinstance(path, str) else path
        if not p.field:
            raise ValueError(f"{p}: a path to a field, component or subcomponent is needed")
        seg = self.segment(p.segment, p.index)
        if seg is None:
            raise KeyError(f"no segment {p.segment}[{p.index}] in the message")
        s = self.seps
        text = value if escaped else escape(value, s)
        while len(seg.fields) <= p.field:
            seg.fields.append("")
        reps = seg.fields[p.field].split(s.repetition)
        while len(reps) < p.repetition:
            reps.append("")
        if p.component:
            comps = reps[p.repetition - 1].split(s.component)
            while len(comps) < p.component:
                comps.append("")
            if p.subcomponent:
                subs = comps[p.component - 1].split(s.subcomponent)
                while len(subs) < p.subcomponent:
                    subs.append("")
                subs[p.subcomponent - 1] = text
                text = s.subcomponent.join(subs)
            comps[p.component - 1] = text
            text = s.component.join(comps)
        reps[p.repetition - 1] = text
        seg.fields[p.field] = s.repetition.join(reps)

    # -- the header, for routing ------------------------------------------------------------------------
    def head(self) -> Head:
        """The values of `message_type`, `control_id`, `version`, `sender`, `receiver` and `enhanced_mode`, read
        from MSH in one pass (a receiver's hot path). The message must start with MSH."""
        rep, comp = self.seps.repetition, self.seps.component
        fields = self.segments[0].fields
        count = len(fields)
        first = _first_component
        kind, trigger = first(fields, count, 9, 0, rep, comp), first(fields, count, 9, 1, rep, comp)
        control = fields[10] if count > 10 else ""
        if rep in control:
            control = control.split(rep, 1)[0]
        head = Head(f"{kind}^{trigger}" if trigger else kind, control.strip(), first(fields, count, 12, 0, rep, comp),
                    (first(fields, count, 3, 0, rep, comp), first(fields, count, 4, 0, rep, comp)),
                    (first(fields, count, 5, 0, rep, comp), first(fields, count, 6, 0, rep, comp)),
                    not (_blank(fields, count, 15, rep) and _blank(fields, count, 16, rep)))
        if count > 12 and self.segments[0].name == "MSH":
            # what the properties read of MSH, remembered as `_msh` remembers it: a receiver asks for them again
            memo, seps = self._memo, self.seps
            memo[-1] = (fields[9], fields, seps, head.message_type)
            memo[10 * 16] = (fields[10], fields, seps, head.control_id)
            memo[12 * 16 + 1] = (fields[12], fields, seps, head.version)
            memo[3 * 16 + 1] = (fields[3], fields, seps, head.sender[0])
            memo[4 * 16 + 1] = (fields[4], fields, seps, head.sender[1])
        return head

    def _msh(self, field: int, component: int = 1) -> str:
        segments = self.segments
        if not segments:
            return ""
        seg = segments[0]
        fields = seg.fields
        raw = fields[field] if 0 < field < len(fields) else ""
        hit = self._memo.get(field * 16 + component)
        if hit is not None and hit[0] is raw and hit[1] is fields and hit[2] is self.seps and seg.name == "MSH":
            return hit[3]
        if seg.name != "MSH":
            return ""
        seps = self.seps
        value = raw
        if seps.repetition in value:
            value = value.split(seps.repetition)[0]
        if component:
            value = value.split(seps.component)[component - 1] if component <= value.count(seps.component) + 1 else ""
        value = value.strip()
        self._memo[field * 16 + component] = (raw, fields, seps, value)
        return value

    @property
    def message_type(self) -> str:
        """MSH-9 as `TYPE^TRIGGER` (`ORU^R01`), or `TYPE` alone (`ACK`) when the trigger is empty."""
        segments = self.segments
        if segments:
            fields = segments[0].fields
            hit = self._memo.get(-1)  # the pair, kept with the field text it came from, as `_msh` keeps values
            if hit is not None and hit[1] is fields and len(fields) > 9 and hit[0] is fields[9] \
                    and hit[2] is self.seps and segments[0].name == "MSH":
                return hit[3]
        kind, trigger = self._msh(9, 1), self._msh(9, 2)
        value = f"{kind}^{trigger}" if trigger else kind
        if segments and len(segments[0].fields) > 9:
            self._memo[-1] = (segments[0].fields[9], segments[0].fields, self.seps, value)
        return value

    @property
    def structure(self) -> str:
        """MSH-9.3, the message structure (`ORU_R01`); often empty in 2.3/2.4 traffic."""
        return self._msh(9, 3)

    @property
    def control_id(self) -> str:
        """MSH-10."""
        return self._msh(10, 0)

    @property
    def version(self) -> str:
        """MSH-12.1."""
        return self._msh(12, 1)

    @property
    def processing_id(self) -> str:
        """MSH-11.1 (P production, T training, D debugging)."""
        return self._msh(11, 1)

    @property
    def sending_application(self) -> str:
        return self._msh(3, 1)

    @property
    def sending_facility(self) -> str:
        return self._msh(4, 1)

    @property
    def receiving_application(self) -> str:
        return self._msh(5, 1)

    @property
    def receiving_facility(self) -> str:
        return self._msh(6, 1)

    @property
    def sender(self) -> tuple[str, str]:
        """(MSH-3.1, MSH-4.1): with MSH-10, the key of duplicate detection."""
        return self.sending_application, self.sending_facility

    @property
    def receiver(self) -> tuple[str, str]:
        """(MSH-5.1, MSH-6.1)."""
        return self.receiving_application, self.receiving_facility

    @property
    def accept_ack(self) -> str:
        """MSH-15 (AL, NE, ER, SU; empty in original mode)."""
        return self._msh(15, 0)

    @property
    def application_ack(self) -> str:
        """MSH-16 (AL, NE, ER, SU; empty in original mode)."""
        return self._msh(16, 0)

    @property
    def enhanced_mode(self) -> bool:
        """True when MSH-15 or MSH-16 is valued: enhanced acknowledgement mode; original mode otherwise."""
        return bool(self.accept_ack or self.application_ack)

    @property
    def declared_charset(self) -> str:
        """MSH-18, first repetition."""
        return self._msh(18, 0)

    # -- writing ----------------------------------------------------------------------------------------
    def to_er7(self) -> str:
        """The message as ER7 text, segments ended by CR."""
        fs = self.seps.field
        lines = []
        for seg in self.segments:
            fields = seg.fields[:1] + seg.fields[2:] if seg.name in HEADERS else seg.fields
            lines.append(fs.join(fields))
        return "\r".join(lines) + "\r"

    def encode(self, charset: str | None = None) -> bytes:
        """The message as bytes in `charset` (default: the one it was decoded with)."""
        from harness.contract.hl7.charsets import encode_message

        return encode_message(self.to_er7(), charset or self.charset)

    def __repr__(self) -> str:
        return f"Message({self.message_type or '?'} {self.control_id!r}, {len(self.segments)} segments)"


def from_fields(segments: Sequence[list[str]], seps: Separators = DEFAULT) -> Message:
    """A message built from its segments' fields (`fields[0]` the name; MSH-1 and MSH-2 in `fields[1]` and
    `fields[2]`), each segment numbered by its occurrence as `parse` numbers them."""
    counts: dict[str, int] = {}
    out = []
    for fields in segments:
        index = counts[fields[0]] = counts.get(fields[0], 0) + 1
        out.append(Segment(fields[0], fields, index))
    return Message(out, seps)


_STANDARD = "|^~\\&|"
"""MSH-1 and MSH-2 as HL7 writes them by default: `_separators` finds nothing to say about them."""


def _separators(header: str, findings: list[Finding]) -> Separators:
    """Separators from an MSH/FHS/BHS line; findings for odd or missing ones."""
    if len(header) < 4:
        findings.append(Finding(Severity.ERROR, f"{header[:3] or 'MSH'}-1", "truncated header: no field separator", "parse"))
        return DEFAULT
    fs = header[3]
    end = header.find(fs, 4)
    enc = header[4:end] if end >= 0 else header[4:]
    name = header[:3]
    if fs.isalnum() or fs in "\r\n ":
        findings.append(Finding(Severity.ERROR, f"{name}-1", f"field separator {fs!r} is not a usable delimiter", "parse"))
    if len(enc) < 4:
        findings.append(Finding(
            Severity.ERROR, f"{name}-2",
            f"encoding characters {enc!r}: 4 expected (component, repetition, escape, subcomponent)", "parse",
        ))
        enc = enc + DEFAULT.encoding_characters[len(enc):]
    chars = fs + enc[:4]
    if len(set(chars)) != 5 or any(c.isalnum() for c in chars):
        findings.append(Finding(Severity.ERROR, f"{name}-2", f"encoding characters {enc!r} are not distinct delimiters", "parse"))
    if enc[:4] != DEFAULT.encoding_characters or fs != "|":
        findings.append(Finding(Severity.INFO, f"{name}-2", f"non-standard delimiters {fs}{enc}", "parse"))
    if len(enc) > 4 and enc[4:] != "#":
        findings.append(Finding(Severity.WARNING, f"{name}-2", f"unexpected encoding characters {enc[4:]!r} after the fourth", "parse"))
    return Separators(fs, enc[0], enc[1], enc[2], enc[3])


def _normalise(text: str, findings: list[Finding]) -> str:
    """Segments split on CR only: report and repair CRLF, LF, MLLP characters, a byte-order mark."""
    if text.startswith("\ufeff"):
        findings.append(Finding(Severity.WARNING, "", "byte-order mark before MSH removed", "parse"))
        text = text[1:]
    if "\x0b" in text or "\x1c" in text:
        findings.append(Finding(Severity.WARNING, "", "MLLP framing characters (0x0B, 0x1C) inside the message removed", "framing"))
        text = text.replace("\x0b", "").replace("\x1c", "")
    if "\n" in text:
        if "\r\n" in text:
            findings.append(Finding(Severity.WARNING, "", "segments end with CR LF; HL7 v2 ends them with CR alone", "segment_terminator"))
            text = text.replace("\r\n", "\r")
        if "\n" in text:
            findings.append(Finding(Severity.WARNING, "", "segments end with LF; HL7 v2 ends them with CR", "segment_terminator"))
            text = text.replace("\n", "\r")
    stripped = text.lstrip("\r\t ")
    if len(stripped) != len(text):
        findings.append(Finding(Severity.WARNING, "", "blank lines or spaces before the first segment", "parse"))
    return stripped


def parse(text: str, charset: str = "UNICODE UTF-8") -> Message:
    """Parse one message (ER7 text); problems become findings on the returned Message, nothing raises."""
    findings: list[Finding] = []
    if "\n" in text or text[:1] in ("\ufeff", "\x0b", "\r", " ", "\t") or "\x1c" in text:
        text = _normalise(text, findings)
    if not text or text.isspace():  # `not text.strip()` without copying the message
        findings.append(Finding(Severity.ERROR, "", "empty message", "parse"))
        return Message([], DEFAULT, findings, charset)
    first = text[:3]
    if first not in HEADERS:
        shown = text[:20].encode("unicode_escape").decode("ascii")
        findings.append(Finding(Severity.ERROR, "", f"not an HL7 v2 message: it starts with {shown!r}, not MSH", "parse"))
        return Message([], DEFAULT, findings, charset)
    if text[3:9] == _STANDARD:  # `|^~\&|`: the delimiters nearly every sender uses, nothing to report
        seps = DEFAULT
    else:
        seps = _separators(text[: text.find("\r")] if "\r" in text else text, findings)
    fs = seps.field
    segments: list[Segment] = []
    counts: dict[str, int] = {}
    blank = 0
    for number, line in enumerate(text.split("\r"), 1):
        if not line:
            blank += 1
            continue
        parts = line.split(fs)
        name = parts[0]
        if name in HEADERS:
            parts.insert(1, fs)
        elif name not in _NAMES:
            if len(name) != 3 or not SEGMENT_NAME.fullmatch(name):
                shown = name[:12].encode("unicode_escape").decode("ascii")
                findings.append(Finding(Severity.ERROR, f"line-{number}", f"segment {number} has no valid name: {shown!r}", "parse"))
            elif len(_NAMES) < 4096:
                _NAMES.add(name)
        index = counts[name] = counts.get(name, 0) + 1
        segments.append(Segment(name, parts, index))
    if blank > 1 or (blank == 1 and not text.endswith("\r")):
        findings.append(Finding(Severity.WARNING, "", "empty lines between segments", "segment_terminator"))
    if segments and segments[0].name == "MSH" and len(segments[0].fields) < 10:
        findings.append(Finding(Severity.ERROR, f"{segments[0].name}", "truncated header: MSH-9 (message type) is missing", "parse"))
    return Message(segments, seps, findings, charset)


def location(seg: Segment, counts: dict[str, int]) -> str:
    """`PID` for the only PID of a message, `OBX[3]` for the third of several."""
    return f"{seg.name}[{seg.index}]" if counts.get(seg.name, 1) > 1 else seg.name
