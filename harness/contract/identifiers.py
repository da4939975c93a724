"""Check characters of the identifiers the interfaces carry: resident ID numbers (GB 11643-1999)."""

from __future__ import annotations

import operator
import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_RESIDENT_ID = re.compile(r"^\d{17}[\dX]$")
_DIGITS17 = re.compile(r"\d{17}")
_ZEROS = ord("0") * sum(_WEIGHTS)


def resident_id_check_char(first17: str) -> str:
    """The 18th character of a resident ID number: ISO 7064 MOD 11-2 over the first 17 digits."""
    if not _DIGITS17.fullmatch(first17):
        raise ValueError(f"need 17 digits, got {first17!r}")
    if first17.isascii():  # the digits' codes weighted in C (map over bytes), less the weighted code of '0' for each
        return _CHECK[(sum(map(operator.mul, first17.encode("ascii"), _WEIGHTS)) - _ZEROS) % 11]
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]  # other scripts' digits


def resident_id_problem(value: str) -> str | None:
    """Why `value` is not a valid 18-character resident ID number, or None when it is."""
    if not isinstance(value, str) or not _RESIDENT_ID.match(value):
        return "a resident ID number is 17 digits and a check character (digit or X)"
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return f"characters 7-14 ({value[6:14]}) are not a valid birth date"
    expected = resident_id_check_char(value[:17])
    if value[17] != expected:
        return f"check character is {value[17]}, expected {expected}"
    return None


def is_resident_id(value: str) -> bool:
    return resident_id_problem(value) is None
