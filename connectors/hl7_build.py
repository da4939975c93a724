"""Building HL7 v2 segments with hl7apy for the reference connectors.

hl7apy knows each version's segments and fields, so a field set at the wrong position or on a segment the
version lacks fails here rather than at the partner. It builds text only: the bytes on the wire (UTF-8 or
GB 18030, by MSH-18) are encoded by `harness.contract.hl7.charsets.encode_message`, because hl7apy has no
character-set support beyond Python strings. Z-segments (ZDS) are not in its tables and are written by hand.
hl7apy builds a field from its tables at ≈ 1 ms apiece, most of a reference connector's CPU per order: each field
is written once per value and kept (`field`), and a segment joined from its fields, the same text hl7apy writes for
the whole segment (tests/connectors/test_hl7_build.py compares the two).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message, Segment

Value = str | Sequence[str]


def now() -> str:
    return time.strftime("%Y%m%d%H%M%S")


FIELDS = 4096
"""Fields kept written (`field`): the values that recur from message to message (set IDs, codes, departments,
doctors, the sender and receiver) are written once per process."""


def segment(name: str, version: str, values: Mapping[int, Value]) -> str:
    """One segment as ER7: `values` maps field positions to a value (or to repetitions, a list).

    Each field is written by hl7apy on its own (`field`), which is what hl7apy writes for the segment: a segment's
    ER7 is its fields' joined by the field separator, up to the last field set (even one it writes empty)."""
    written = {pos: field(name, version, pos, reps) for pos, value in values.items()
               if (reps := (value,) if isinstance(value, str) else tuple(value)) and reps[0]}
    return "|".join([name, *(written.get(pos, "") for pos in range(1, max(written, default=0) + 1))])


@functools.lru_cache(maxsize=FIELDS)
def field(name: str, version: str, pos: int, reps: tuple[str, ...]) -> str:
    """Field `pos` of segment `name` holding the repetitions `reps`, as hl7apy writes it ("" when it writes
    nothing). hl7apy builds and checks a field from its version's tables (a position the segment lacks raises),
    ≈ 1 ms a field; kept per value, as a hospital's messages repeat most of theirs (bounded: `FIELDS`)."""
    seg = Segment(name, version=version, validation_level=VALIDATION_LEVEL.TOLERANT)
    attr = f"{name.lower()}_{pos}"
    setattr(seg, attr, reps[0])
    for rep in reps[1:]:
        seg.add_field(attr).value = rep
    text: str = seg.to_er7()
    # MSH-1 is the field separator itself: written on its own, hl7apy's MSH text starts at MSH-2
    at = pos - 1 if name == "MSH" else pos
    parts = text.split("|", at)
    return parts[at] if len(parts) > at else ""


def header(kind: str, control: str, version: str, charset: str, sender: tuple[str, str],
           receiver: tuple[str, str]) -> str:
    """MSH of a message of type `kind` (e.g. `OML^O21^OML_O21`), original acknowledgement mode: the MSH hl7apy
    gives a new message of its structure (`_message_header`), with these fields set (`field`)."""
    structure = kind.split("^")[2] if kind.count("^") >= 2 else kind.replace("^", "_")
    fields = list(_message_header(structure, version))
    values = {3: sender[0], 4: sender[1], 5: receiver[0], 6: receiver[1], 7: now(), 9: kind, 10: control,
              11: "P", 17: "CHN", 18: charset}
    fields += [""] * (max(values) - len(fields) + 1)
    for pos, value in values.items():
        fields[pos] = field("MSH", version, pos, (value,)) if value else ""
    return "MSH|" + "|".join(fields[2:])


@functools.lru_cache(maxsize=64)
def _message_header(structure: str, version: str) -> tuple[str, ...]:
    """The MSH fields of a new hl7apy message of `structure` (MSH-12, the version, and the encoding characters;
    index 0 is the segment name, 1 the field separator (MSH-1), from 2 on MSH-2, MSH-3...)."""
    msh = Message(structure, version=version, validation_level=VALIDATION_LEVEL.TOLERANT).msh
    msh.msh_7 = ""  # set for every message (`header`): not a default to keep
    text: str = msh.to_er7()
    return ("MSH", "|", *text.split("|")[1:])


def join(segments: Sequence[str]) -> str:
    return "\r".join(segments) + "\r"


def batch(messages: Sequence[str], control: str, sender: tuple[str, str], receiver: tuple[str, str]) -> str:
    """Messages in one FHS/BHS batch (HL7 v2 chapter 2.10), counted in BTS and FTS."""
    head = f"|^~\\&|{sender[0]}|{sender[1]}|{receiver[0]}|{receiver[1]}|{now()}||||{control}"
    lines = [f"FHS{head}", f"BHS{head}"]
    lines.extend(m.rstrip("\r") for m in messages)
    lines += [f"BTS|{len(messages)}", "FTS|1"]
    return "\r".join(lines) + "\r"
