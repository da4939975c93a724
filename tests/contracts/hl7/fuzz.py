"""Seeded mutations of valid HL7 v2 messages, to compare the validator's fast path with its field-by-field walk."""

from __future__ import annotations

import random
from collections.abc import Iterator

from tests.contracts.hl7 import messages as m

VALUES = (
    "",
    '""',
    "~",
    "~~",
    "a~b",
    "^",
    "^^^",
    "a^b",
    "a^^b^^^",
    "a&b",
    "a^b&c",
    "\\",
    "\\E\\",
    "\\F\\",
    "\\Zxy\\",
    "\\X0A\\",
    "\\Q\\",
    "\\.br\\",
    "第一行\\.br\\第二行",
    "a\\.sp12\\b",
    "\\.in+2\\x",
    "\\X4E2D\\",
    "\\C2842\\",
    "\\M2442\\",
    "\\H\\bold\\N\\",
    "\\S\\\\T\\",
    "\\P\\",
    "\\Zlocal\\",
    "x\\.br\\" * 40,
    "x" * 300,
    "x" * 30,
    "y" * 190,
    "中文",
    "0",
    "1",
    "12345",
    "-1.5",
    "+.5",
    "1.",
    "abc",
    "1e5",
    "2024",
    "202401",
    "20240105",
    "20240229",
    "20230229",
    "20240431",
    "20240131",
    "20241331",
    "202401051015",
    "20240105101500",
    "20240105101500.1234",
    "20240105101500+0800",
    "20240105246000",
    "20240105101500^S",
    "1015",
    "2500",
    "NM",
    "ST",
    "CE",
    "TS",
    "SN",
    "TX",
    "FT",
    "DT",
    "TM",
    "CWE",
    "XYZ",
    "NM~ST",
    " NM ",
    "N",
    "HH",
    "LL",
    "H",
    "F",
    "P",
    "C",
    "X",
    "R",
    "AA",
    "AE",
    "NW",
    "RE",
    "CM",
    "SC",
    "O",
    "I",
    "M",
    "U",
    "MR",
    "CHN",
    "10*9/L^^UCUM",
    "WBC^白细胞^L",
    "WBC^白细胞^L^x^y^z^extra",
    "0001234567^^^HOSP^MR",
    "^^^HOSP^MR",
    "D001^李医生",
    "HOSP&1.2.3&ISO",
    "1.2.156.112605",
    "1.2..3",
    "LIS",
    "UNICODE UTF-8",
    "GB 18030-2000",
    " ",
    "   ",
    "\u3000",
    " ^x",
    "F^",
    "F^^",
    "NM^",
    "x^ ",
    " ~x",
    "OBX",
    "PID",
    "NTE",
)
CHARS = '|^~&\\"0123456789AZaz .-+中'


def seeds() -> list[str]:
    """Valid messages of every shape the contracts know (the mutations start from these)."""
    return [
        m.lis_oru(3),
        m.lis_oru(1, status="P"),
        m.lis_oml(),
        m.lis_orl(),
        m.lis_adt(),
        m.ack(),
        m.lis24_orm(),
        m.lis24_oru(2),
        m.pacs_orm(),
        m.pacs_omi(),
        m.pacs_omg(),
        m.pacs_oru(),
    ]


def _field_edit(rng: random.Random, text: str) -> str:
    segments = text.split("\r")
    line = rng.randrange(len(segments))
    if not segments[line]:
        return text
    parts = segments[line].split("|")
    pos = rng.randrange(1, max(2, len(parts) + 3))
    while len(parts) <= pos:
        parts.append("")
    value = rng.choice(VALUES)
    if rng.random() < 0.3 and parts[pos]:  # edit one component of what is there
        comps = parts[pos].split("^")
        comps[rng.randrange(len(comps))] = value
        value = "^".join(comps)
    parts[pos] = value
    segments[line] = "|".join(parts)
    return "\r".join(segments)


LENGTHS = (20, 20, 250, 250, 1, 2, 3, 4, 15, 16, 22, 26, 40, 60, 80, 180, 199, 200, 227)
"""The length limits the contracts' profiles give most (20 and 250 most of all): a value grown to one of them, or one
past it."""


def _length_edit(rng: random.Random, text: str) -> str:
    """A field's value, or one of its components, repeated to a common length limit or one character past it."""
    segments = text.split("\r")
    line = rng.randrange(1, len(segments)) if len(segments) > 1 else 0
    parts = segments[line].split("|")
    if len(parts) < 2:
        return text
    pos = rng.randrange(1, len(parts))
    comps = parts[pos].split("^")
    at = rng.randrange(len(comps)) if rng.random() < 0.3 else 0
    seed = comps[at] or rng.choice(("x", "中", "1"))
    size = rng.choice(LENGTHS) + rng.randint(0, 1)
    comps[at] = (seed * size)[:size]
    parts[pos] = "^".join(comps)
    segments[line] = "|".join(parts)
    return "\r".join(segments)


def _char_edit(rng: random.Random, text: str) -> str:
    at = rng.randrange(9, len(text))
    kind = rng.random()
    if kind < 0.4:
        return text[:at] + rng.choice(CHARS) + text[at:]
    if kind < 0.7:
        return text[:at] + text[at + 1 :]
    return text[:at] + rng.choice(CHARS) + text[at + 1 :]


def _segment_edit(rng: random.Random, text: str) -> str:
    segments = [s for s in text.split("\r") if s]
    kind = rng.random()
    at = rng.randrange(1, len(segments)) if len(segments) > 1 else 1
    if kind < 0.4 and len(segments) > 1:
        del segments[at]
    elif kind < 0.8:
        segments.insert(at, segments[rng.randrange(1, len(segments))] if len(segments) > 1 else "ZZZ|1")
    else:
        segments.insert(
            at, rng.choice(("ZXX|1|a", "NTE|1||note", "SPM|1|S1^^x||BLD^Blood", "TQ1|1", "XYZ|1"))
        )
    return "\r".join(segments) + "\r"


def _shape_edit(rng: random.Random, text: str) -> str:
    """What senders get wrong about a segment's shape: two segments run together (the terminator replaced by a
    field separator, or lost after an empty last field), a field shifted by one, fields added at the end."""
    segments = [s for s in text.split("\r") if s]
    if len(segments) < 3:
        return text
    at = rng.randrange(1, len(segments) - 1)
    kind = rng.random()
    if kind < 0.35:
        segments[at : at + 2] = [segments[at] + "|" + segments[at + 1]]
    elif kind < 0.6:
        parts = segments[at].split("|")
        parts.insert(rng.randrange(1, len(parts) + 1), "")
        segments[at] = "|".join(parts)
    else:
        segments[at] += "|" * rng.randint(1, 30) + rng.choice(("x", "", "20240105", "a^b"))
    return "\r".join(segments) + "\r"


DELIMITERS = ("|^~\\&", "#*!/%", "|^~\\&#", "$@`\\+", "|^~\\1", "|^^\\&")
"""MSH-1 and MSH-2 to re-encode a message with: the standard ones, others, odd ones (a digit, not distinct)."""


def _delimiters(rng: random.Random, text: str) -> str:
    chosen = rng.choice(DELIMITERS)
    table = dict(zip("|^~\\&", chosen[:5], strict=True))
    body = "".join(table.get(c, c) for c in text[4:])
    return text[:3] + chosen + body[4:]


def mutants(count: int, seed: int = 20261202) -> Iterator[str]:
    """`count` messages, each a seed message with one to three random edits (some with other delimiters): a field's
    value replaced, grown to a length limit or past it, a character, a segment, the segments' shape."""
    rng = random.Random(seed)
    bases = seeds()
    for _ in range(count):
        text = rng.choice(bases)
        if rng.random() < 0.1:
            text = _delimiters(rng, text)
        for _ in range(rng.randint(1, 3)):
            kind = rng.random()
            if kind < 0.4:
                text = _field_edit(rng, text)
            elif kind < 0.55:
                text = _length_edit(rng, text)
            elif kind < 0.78:
                text = _char_edit(rng, text)
            elif kind < 0.9:
                text = _segment_edit(rng, text)
            else:
                text = _shape_edit(rng, text)
        yield text
