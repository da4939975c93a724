"""HL7 v2 acknowledgements as the MLLP transport builds them.

The rules (HL7 v2 chapter 2; hl7-testing.md §3.2): MSA-2 echoes the acknowledged MSH-10; the ACK's MSH-3/4 and
MSH-5/6 are the original's MSH-5/6 and MSH-3/4; the ACK has its own new MSH-10; MSH-11 (processing id) and MSH-12
(version) are the original's; the delimiters are the original's; MSH-18 names the character set the ACK is encoded
in, which is the one the message was decoded with. Original mode answers AA/AE/AR; enhanced mode answers an accept
acknowledgement CA/CE/CR and an application one AA/AE/AR; which of them a message is owed is decided by the
receiver's declared mode (`harness.contract.hl7.ack_mode`), not here.

Errors go into ERR segments with HL7 Table 0357 codes, located: v2.5 and later use ERR-2 (error location),
ERR-3 (code^text^HL70357), ERR-4 (severity) and ERR-8 (user message); v2.4 and earlier one ERR whose ERR-1 repeats
`segment^sequence^field^code&text&HL70357` per error.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from harness.contract.findings import Finding, Severity
from harness.contract.hl7.charsets import TABLE_0211, canonical
from harness.contract.hl7.escape import DEFAULT, Separators, escape
from harness.contract.hl7.message import HEADERS, HL7Path, Message, Segment, from_fields, parse_path
from harness.contract.hl7.validator import error_code

TABLE_0357 = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "104": "Value too long",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}
"""HL7 Table 0357 (message error condition codes) as ERR-3.2 texts."""

ACCEPT_OF = {"AA": "CA", "AE": "CE", "AR": "CR"}
"""The enhanced-mode accept code that goes with an original-mode outcome."""
REJECT_RULES = frozenset({"message_type", "event", "processing_id", "version"})
"""Finding rules that make a message unacceptable as a whole (AR/CR) rather than wrong in content (AE/CE)."""
HEADER_FIELDS = frozenset({"MSH-9", "MSH-10", "MSH-11", "MSH-12"})
"""MSH fields whose errors make the message unacceptable (AR/CR): routing, correlation, processing id, version."""
MAX_TEXT = 200
"""Longest ERR-8 / MSA-3 text written (before escaping); the rest is cut with an ellipsis."""
HEADER_TEMPLATES = 64
"""Response headers remembered as text around their MSH-7 and MSH-10 (`complete_text`), forgotten all at once past
this: one per sender, version and response type in a hospital's traffic."""
_NOW, _CONTROL = "\x00\x07", "\x00\x10"
"""Marks standing for MSH-7 and MSH-10 in a header template (a header holding a NUL is never made a template)."""


def ack_code(findings: Iterable[Finding]) -> str:
    """AA when no finding is an error; AR when an error is about the header (type, event, version, MSH-9..12); else AE."""
    code = "AA"
    for finding in findings:
        if finding.severity is not Severity.ERROR:
            continue
        if finding.rule in REJECT_RULES or finding.location.split(".")[0] in HEADER_FIELDS:
            return "AR"
        code = "AE"
    return code


@lru_cache(maxsize=64)
def version_tuple(version: str) -> tuple[int, ...]:
    """`2.5.1` -> (2, 5, 1); () when it is not a version number."""
    parts = []
    for part in version.strip().split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _location(finding: Finding) -> HL7Path | None:
    where = finding.location.rsplit("/", 1)[-1]
    if not where:
        return None
    try:
        return parse_path(where)
    except ValueError:
        return None


@dataclass
class AckSummary:
    """What the journal shows of one acknowledgement."""

    code: str
    control_id: str
    acknowledged: str
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "control_id": self.control_id, "acknowledged": self.acknowledged,
                "errors": self.errors}


class AckBuilder:
    """Builds ACK messages (and batch acknowledgements) for messages a mock received.

    `application`/`facility` fill the ACK's MSH-3/4 when the message left MSH-5/6 empty; `version` fills MSH-12
    when the message has none (or is no HL7 at all); at most `max_errors` errors are written as ERR segments.
    """

    def __init__(self, application: str = "HIH", facility: str = "HIH", version: str = "2.5.1",
                 max_errors: int = 20, id_prefix: str = "A") -> None:
        self.application = application
        self.facility = facility
        self.version = version
        self.max_errors = max_errors
        self.id_prefix = id_prefix
        self._sequence = itertools.count(1)
        self._second = -1
        self._stamp = ""
        self._templates: dict[tuple[object, ...], tuple[str, ...]] = {}
        """`complete_text`'s headers: the line cut at MSH-7 and MSH-10 where those are filled (empty: not cut)."""

    # -- identifiers and time ---------------------------------------------------------------------------
    def now(self) -> str:
        """MSH-7 / FHS-7: local time as YYYYMMDDHHMMSS (cached per second)."""
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(second))
        return self._stamp

    def new_control_id(self) -> str:
        """A fresh MSH-10 for an ACK: prefix + YYMMDDHHMMSS + a 6-digit sequence (19 characters with `A`)."""
        return f"{self.id_prefix}{self.now()[2:]}{next(self._sequence) % 1_000_000:06d}"

    # -- acknowledgements -------------------------------------------------------------------------------
    def ack(self, original: Message | None, code: str, errors: Sequence[Finding] = (), text: str = "",
            charset: str = "", *, enhanced: bool | None = None, declared: bool | None = None) -> Message:
        """The ACK answering `original` (None: bytes that were no HL7 message) with MSA-1 `code`.

        `errors` become ERR segments (errors and warnings; info is left out); `text` goes to MSA-3 (the first
        error's message when empty and the code is not AA/CA). `charset` (a Table 0211 name) is written to MSH-18
        when the original declared one (`declared`, default: look at its MSH-18). `enhanced` (default: the
        original's mode) sets MSH-15/16 to NE, so an acknowledgement is never itself acknowledged.
        """
        seps = original.seps if original is not None else DEFAULT
        header = self._header(original, seps, charset, enhanced, declared)
        if errors:
            shown = [f for f in errors if f.severity is not Severity.INFO][: self.max_errors]
            if not text and shown and code not in ("AA", "CA"):
                text = shown[0].message
        else:
            shown = []
        first = original.segments[0] if original is not None and original.segments else None
        msa = ["MSA", code, first.field(10) if first is not None and first.name == "MSH" else ""]
        if text:
            msa.append(escape(_cut(text)[:80], seps))
        segments = [header, Segment("MSA", msa)]
        if shown:
            version = version_tuple(header.fields[12].split(seps.component)[0])
            segments.extend(self._errors(shown, seps, version))
        return Message(segments, seps, [], charset or "UNICODE UTF-8")

    def _header(self, original: Message | None, seps: Separators, charset: str, enhanced: bool | None,
                declared: bool | None = None) -> Segment:
        o: list[str] = original.segments[0].fields if original is not None and original.segments and \
            original.segments[0].name == "MSH" else []
        if len(o) < 18:
            o = o + [""] * (18 - len(o))
        comp = seps.component
        version = o[12] or self.version
        trigger = o[9].split(seps.repetition)[0].split(comp)
        event = trigger[1] if len(trigger) > 1 else ""
        # From 2.4 on MSH-9.3 (message structure) is required, whether or not the trigger event is known
        structured = version_tuple(version.split(comp)[0]) >= (2, 4)
        if event:
            kind = f"ACK{comp}{event}" + (f"{comp}ACK" if structured else "")
        else:
            kind = f"ACK{comp}{comp}ACK" if structured else "ACK"
        if enhanced is None:
            enhanced = original is not None and original.enhanced_mode
        if declared is None:
            declared = original is not None and bool(original.declared_charset)
        mode = "NE" if enhanced else ""
        fields = [
            "MSH", seps.field, o[2] or seps.encoding_characters,
            o[5] or self.application, o[6] or self.facility, o[3], o[4],
            self.now(), "", kind, self.new_control_id(), o[11] or "P", version,
            "", "", mode, mode, o[17],
            charset if declared else "",
        ]
        while len(fields) > 13 and not fields[-1]:
            fields.pop()
        return Segment("MSH", fields)

    def _errors(self, errors: Sequence[Finding], seps: Separators, version: tuple[int, ...]) -> list[Segment]:
        cs, ss = seps.component, seps.subcomponent
        if version and version < (2, 5):
            reps = []
            for finding in errors:
                where = _location(finding)
                code = error_code(finding, version)
                text = escape(TABLE_0357.get(code, ""), seps)
                seg, seq, fld = (where.segment, str(where.index), str(where.field or "")) if where else ("", "", "")
                reps.append(f"{seg}{cs}{seq}{cs}{fld}{cs}{code}{ss}{text}{ss}HL70357")
            return [Segment("ERR", ["ERR", seps.repetition.join(reps)])]
        out = []
        for finding in errors:
            where = _location(finding)
            code = error_code(finding, version)
            severity = "E" if finding.severity is Severity.ERROR else "W"
            erl = where.erl().replace("^", cs) if where else ""
            fields = ["ERR", "", erl, f"{code}{cs}{escape(TABLE_0357.get(code, ''), seps)}{cs}HL70357", severity,
                      "", "", "", escape(_cut(finding.message), seps)]
            out.append(Segment("ERR", fields))
        return out

    def complete(self, response: Message, original: Message, code: str, charset: str = "") -> Message:
        """A handler's own application response (ORL^O22 ...) with its header and MSA filled by the rules.

        Empty MSH-3..6, 7, 10, 11, 12 and 18 are filled as for an ACK; MSA-1 is set when empty, MSA-2 always
        (it must echo the acknowledged MSH-10).
        """
        if not response.segments or response.segments[0].name != "MSH":
            return response
        self._fill(response.segments[0].fields, original, charset)
        msa = response.segment("MSA")
        if msa is not None:
            while len(msa.fields) < 3:
                msa.fields.append("")
            msa.fields[1] = msa.fields[1] or code
            msa.fields[2] = original.segments[0].field(10)
        if charset:
            response.charset = charset
        return response

    def _fill(self, fields: list[str], original: Message, charset: str, now: str | None = None,
              control: str | None = None) -> None:
        """A response's MSH fields (changed in place) extended to the length of the ACK header `_header` would
        build for `original` (original mode) and their empty MSH-3..6, 7, 10, 11, 12 and 18 taken from it, without
        building it: what `complete` does to a handler's response. `now` and `control` stand for MSH-7 and a new
        MSH-10 when given (a template's marks: no control id is taken then)."""
        first = original.segments[0] if original.segments else None
        o: list[str] = first.fields if first is not None and first.name == "MSH" else []
        if len(o) < 18:
            o = o + [""] * (18 - len(o))
        msh18 = charset if original.declared_charset else ""
        # the ACK header drops its trailing empty fields down to MSH-12 (MSH-15/16 are empty in original mode)
        width = 19 if msh18 else 18 if o[17] else 13
        if len(fields) < width:
            fields += [""] * (width - len(fields))
        fresh = self.new_control_id() if control is None else control
        filled = ((3, o[5] or self.application), (4, o[6] or self.facility), (5, o[3]), (6, o[4]),
                  (7, self.now() if now is None else now), (10, fresh),
                  (11, o[11] or "P"), (12, o[12] or self.version), (18, msh18))
        for n, value in filled:
            if n < width and not fields[n]:
                fields[n] = value

    def complete_text(self, segments: Sequence[list[str]], original: Message, code: str, charset: str = ""
                      ) -> tuple[str, AckSummary]:
        """What `complete` makes of a response given as its segments' fields (default delimiters; `fields[0]` the
        segment name, MSH-1 and MSH-2 in `fields[1]` and `fields[2]`), as ER7 text, with its `summary`: for a
        handler whose response needs no parsed form, without building one. The lists given are not changed."""
        if not segments or segments[0][0] != "MSH":
            response = from_fields(segments)
            return response.to_er7(), summary(response)
        line, control = self._header_line(segments[0], original, charset)
        fs = DEFAULT.field
        lines = [line]
        code_out = acked = ""
        msa_seen = False
        errs = []
        for fields in segments[1:]:
            name = fields[0]
            if name == "MSA" and not msa_seen:
                msa_seen = True
                fields = list(fields) + [""] * (3 - len(fields)) if len(fields) < 3 else list(fields)
                fields[1] = fields[1] or code
                fields[2] = original.segments[0].field(10)
                code_out, acked = fields[1], fields[2]
            elif name == "ERR":
                errs.append(fields)
            lines.append(fs.join([name, *fields[2:]]) if name in HEADERS else fs.join(fields))
        return "\r".join(lines) + "\r", AckSummary(code_out, control, acked, _error_codes(errs, DEFAULT))

    def _header_line(self, given: list[str], original: Message, charset: str) -> tuple[str, str]:
        """The response's MSH line as `_fill` completes it, and its MSH-10. What `_fill` reads of the original
        (MSH-3..6, 11, 12, 17, 18) and the fields given decide the line but for MSH-7 and MSH-10, so it is made once
        per such key as text around those two (a sender's orders then cost a lookup and a concatenation)."""
        first = original.segments[0] if original.segments else None
        o: list[str] = first.fields if first is not None and first.name == "MSH" else []
        if len(o) < 19:
            o = o + [""] * (19 - len(o))
        key: tuple[object, ...] = (charset, tuple(given), o[3], o[4], o[5], o[6], o[11], o[12], o[17], o[18])
        if original.seps is not DEFAULT:  # MSH-18 is read by the original's component separator
            key += (original.seps,)
        templates = self._templates
        pieces = templates.get(key)
        if pieces is None:
            pieces = self._template(given, original, charset)
            if len(templates) >= HEADER_TEMPLATES:
                templates.clear()
            templates[key] = pieces
        if not pieces:  # a header the marks cannot stand in: filled afresh
            header = list(given)
            self._fill(header, original, charset)
            return DEFAULT.field.join([header[0], *header[2:]]), header[10]
        control = self.new_control_id()
        if len(pieces) == 3:
            return f"{pieces[0]}{self.now()}{pieces[1]}{control}{pieces[2]}", control
        if len(pieces) == 2:  # MSH-10 given: MSH-7 filled
            return f"{pieces[0]}{self.now()}{pieces[1]}", given[10]
        return pieces[0], given[10]

    def _template(self, given: list[str], original: Message, charset: str) -> tuple[str, ...]:
        """`_header_line`'s text for a key: the completed line cut where MSH-7 and MSH-10 go (both filled: three
        pieces; MSH-7 only: two; neither: the line); none when the fields give MSH-10 but leave MSH-7 empty or hold
        a mark's character."""
        header = list(given)
        self._fill(header, original, charset, _NOW, _CONTROL)
        line = DEFAULT.field.join([header[0], *header[2:]])
        marks = (header[7] == _NOW) + (header[10] == _CONTROL)
        if line.count("\x00") != marks or (marks == 1 and header[10] == _CONTROL):
            return ()
        if marks == 2:
            before, rest = line.split(_NOW)
            middle, after = rest.split(_CONTROL)
            return before, middle, after
        return tuple(line.split(_NOW)) if marks else (line,)

    def batch(self, envelope: Sequence[Segment], acks: Sequence[Message], seps: Separators = DEFAULT) -> str:
        """The batch acknowledgement (ER7 text) of a batch whose FHS/BHS are `envelope`: the same envelope
        with sender and receiver swapped, a new control id in FHS-11/BHS-11 and the original's in FHS-12/BHS-12,
        every ACK, then BTS (message count) and FTS (batch count) as the original had them."""
        fs = seps.field
        lines: list[str] = []
        names = {seg.name for seg in envelope}
        for seg in envelope:
            o = seg.fields

            def f(n: int, o: list[str] = o) -> str:
                return o[n] if n < len(o) else ""

            fields = [seg.name, f(2) or seps.encoding_characters, f(5) or self.application, f(6) or self.facility,
                      f(3), f(4), self.now(), "", f(9), "", self.new_control_id(), f(11)]
            while fields and not fields[-1]:
                fields.pop()
            lines.append(fs.join(fields))
        lines.extend(ack.to_er7().rstrip("\r") for ack in acks)
        if "BHS" in names:
            lines.append(f"BTS{fs}{len(acks)}")
        if "FHS" in names:
            lines.append(f"FTS{fs}{1 if 'BHS' in names else 0}")
        return "\r".join(lines) + "\r"


def summary(ack: Message) -> AckSummary:
    """MSA-1, the ACK's MSH-10, MSA-2 and the ERR codes of an acknowledgement."""
    msa = ack.segment("MSA")
    code = msa.field(1) if msa is not None else ""
    acked = msa.field(2) if msa is not None else ""
    errors = _error_codes((seg.fields for seg in ack.segments if seg.name == "ERR"), ack.seps)
    return AckSummary(code, ack.segments[0].field(10) if ack.segments else "", acked, errors)


def _error_codes(errs: Iterable[list[str]], seps: Separators) -> list[str]:
    """The Table 0357 codes of ERR segments (their fields): ERR-3.1 (v2.5), else each ERR-1 repetition's 4th
    component (v2.4 and earlier)."""
    errors = []
    comp = seps.component
    for fields in errs:
        err3 = fields[3] if len(fields) > 3 else ""
        err1 = fields[1] if len(fields) > 1 else ""
        if err3:
            errors.append(err3.split(comp)[0])
        elif err1:
            for rep in err1.split(seps.repetition):
                parts = rep.split(comp)
                if len(parts) > 3:
                    errors.append(parts[3].split(seps.subcomponent)[0])
    return errors


@lru_cache(maxsize=64)
def codec_of(charset: str) -> str:
    """The Python codec of a Table 0211 charset name (or alias); UTF-8 when it names none."""
    name, _ = canonical(charset) if charset else (None, False)
    return TABLE_0211[name] if name else "utf-8"


def encode(text: str, charset: str) -> bytes:
    """ER7 text to bytes in `charset`; characters it cannot hold become `?` (an ACK must always go out)."""
    return text.encode(codec_of(charset), errors="replace")
