"""ISBT 128 donation identification numbers (DIN): the ISO 7064 MOD 37-2 check and the Type-3 flag characters.

A DIN is 13 data characters `αppppyynnnnnn` (α from A-N, P-Z, 1-9; facility, year, sequence as digits) followed by
two flag characters; flags 60-96 are the Type-3 flag, 60 + the MOD 37-2 check value of the 13 data characters
(ICCBBA ST-001). A leading `=` (the data identifier of a bar code) is accepted and dropped.
"""

from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
"""ISO 7064 MOD 37-2 character values 0..36."""
_DATA = re.compile(r"^[A-NP-Z1-9]\d{12}$")
_DIN = re.compile(r"^=?([A-NP-Z1-9]\d{12})(\d{2})$")


def mod37_2(data: str) -> int:
    """The ISO 7064 MOD 37-2 check value (0..36) of DIN data characters."""
    total = 0
    for char in data:
        index = ALPHABET.find(char)
        if index < 0:
            raise ValueError(f"{char!r} is not an ISO 7064 MOD 37-2 character")
        total = ((total + index) * 2) % 37
    return (38 - total) % 37


def check_character(din13: str) -> str:
    """The keyboard check character K printed beside the DIN bar code."""
    return ALPHABET[mod37_2(din13)]


def type3_flag(din13: str) -> str:
    """The two Type-3 flag characters: 60 + the check value."""
    if not _DATA.match(din13):
        raise ValueError(f"a DIN's data part is α and 12 digits, got {din13!r}")
    return f"{60 + mod37_2(din13):02d}"


def make_din(din13: str) -> str:
    """The 15-character DIN with its Type-3 flag."""
    return din13 + type3_flag(din13)


def din_problem(value: str) -> str | None:
    """Why `value` is not a DIN with a correct Type-3 flag, or None when it is one."""
    match = _DIN.match(value) if isinstance(value, str) else None
    if match is None:
        return "a DIN is α, 12 digits and 2 flag digits (e.g. G12341765432170)"
    data, flag = match.groups()
    if not 60 <= int(flag) <= 96:
        return f"flag {flag} is not a Type-3 check flag (60-96)"
    expected = type3_flag(data)
    if flag != expected:
        return f"check flag is {flag}, expected {expected} (ISO 7064 MOD 37-2 of {data})"
    return None


def is_valid_din(value: str) -> bool:
    return din_problem(value) is None
