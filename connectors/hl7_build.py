"""Building HL7 v2 segments with hl7apy for the reference connectors.

hl7apy knows each version's segments and fields, so a field set at the wrong position or on a segment the
version lacks fails here rather than at the partner. It builds text only: the bytes on the wire (UTF-8 or
GB 18030, by MSH-18) are encoded by `harness.contract.hl7.charsets.encode_message`, because hl7apy has no
character-set support beyond Python strings. Z-segments (ZDS) are not in its tables and are written by hand.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message, Segment

Value = str | Sequence[str]


def now() -> str:
    return time.strftime("%Y%m%d%H%M%S")


def segment(name: str, version: str, values: Mapping[int, Value]) -> str:
    """One segment as ER7: `values` maps field positions to a value (or to repetitions, a list)."""
    seg = Segment(name, version=version, validation_level=VALIDATION_LEVEL.TOLERANT)
    for pos, value in sorted(values.items()):
        attr = f"{name.lower()}_{pos}"
        reps = [value] if isinstance(value, str) else list(value)
        if not reps or not reps[0]:
            continue
        setattr(seg, attr, reps[0])
        for rep in reps[1:]:
            seg.add_field(attr).value = rep
    text: str = seg.to_er7()
    return text


def header(kind: str, control: str, version: str, charset: str, sender: tuple[str, str],
           receiver: tuple[str, str]) -> str:
    """MSH of a message of type `kind` (e.g. `OML^O21^OML_O21`), original acknowledgement mode."""
    structure = kind.split("^")[2] if kind.count("^") >= 2 else kind.replace("^", "_")
    message = Message(structure, version=version, validation_level=VALIDATION_LEVEL.TOLERANT)
    msh = message.msh
    msh.msh_3, msh.msh_4 = sender
    msh.msh_5, msh.msh_6 = receiver
    msh.msh_7 = now()
    msh.msh_9 = kind
    msh.msh_10 = control
    msh.msh_11 = "P"
    msh.msh_17 = "CHN"
    msh.msh_18 = charset
    text: str = msh.to_er7()
    return text


def join(segments: Sequence[str]) -> str:
    return "\r".join(segments) + "\r"


def batch(messages: Sequence[str], control: str, sender: tuple[str, str], receiver: tuple[str, str]) -> str:
    """Messages in one FHS/BHS batch (HL7 v2 chapter 2.10), counted in BTS and FTS."""
    head = f"|^~\\&|{sender[0]}|{sender[1]}|{receiver[0]}|{receiver[1]}|{now()}||||{control}"
    lines = [f"FHS{head}", f"BHS{head}"]
    lines.extend(m.rstrip("\r") for m in messages)
    lines += [f"BTS|{len(messages)}", "FTS|1"]
    return "\r".join(lines) + "\r"
