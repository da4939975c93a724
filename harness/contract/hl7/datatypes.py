"""HL7 v2 data types: which are primitive, the components of the common composites, and format checks.

Component lists follow v2.5.1 (a superset of v2.4 for every type here), so a v2.4 message is never told it has
too many components. Format checks exist for the types with a lexical form: NM, SI, DT, TM, DTM (and TS, whose
first component is a DTM); ID and IS are checked against value sets by the validator, text types not at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PRIMITIVE = frozenset({"ST", "TX", "FT", "NM", "SI", "ID", "IS", "DT", "TM", "DTM", "GTS", "NUL"})
"""Types without components: a component separator in one is an unescaped separator."""

VARIES = "varies"
"""OBX-5 and the like: the type is given by another field of the segment (OBX-2)."""

COMPOSITE: dict[str, tuple[str, ...]] = {
    "HD": ("IS", "ST", "ID"),
    "EI": ("ST", "IS", "ST", "ID"),
    "EIP": ("EI", "EI"),
    "CE": ("ST", "ST", "ID", "ST", "ST", "ID"),
    "CWE": ("ST", "ST", "ID", "ST", "ST", "ID", "ST", "ST", "ST"),
    "CNE": ("ST", "ST", "ID", "ST", "ST", "ID", "ST", "ST", "ST"),
    "CX": ("ST", "ST", "ID", "HD", "ID", "HD", "DT", "DT", "CWE", "CWE"),
    "FN": ("ST", "ST", "ST", "ST", "ST"),
    "XPN": ("FN", "ST", "ST", "ST", "ST", "IS", "ID", "ID", "CE", "DR", "ID", "TS", "ST", "ST"),
    "XCN": ("ST", "FN", "ST", "ST", "ST", "ST", "IS", "IS", "HD", "ID", "ST", "HD", "ID", "HD", "ID", "CE", "DR",
            "ID", "TS", "TS", "ST", "CWE", "CWE"),
    "SAD": ("ST", "ST", "ST"),
    "XAD": ("SAD", "ST", "ST", "ST", "ST", "ID", "ID", "ST", "IS", "IS", "ID", "DR", "TS", "TS"),
    "XTN": ("ST", "ID", "ID", "ST", "NM", "NM", "NM", "NM", "ST", "NM", "NM", "NM"),
    "XON": ("ST", "IS", "NM", "NM", "ID", "HD", "ID", "HD", "ID", "ST"),
    "MSG": ("ID", "ID", "ID"),
    "PT": ("ID", "ID"),
    "VID": ("ID", "CE", "CE"),
    "TS": ("DTM", "ID"),
    "DR": ("TS", "TS"),
    "CQ": ("NM", "CE"),
    "SN": ("ST", "NM", "ST", "NM"),
    "MO": ("NM", "ID"),
    "PL": ("IS", "IS", "IS", "HD", "IS", "IS", "IS", "IS", "ST", "EI", "HD"),
    "ELD": ("ST", "NM", "NM", "CE"),
    "ERL": ("ST", "NM", "NM", "NM", "NM", "NM"),
    "ED": ("HD", "ID", "ID", "ID", "TX"),
    "RP": ("ST", "HD", "ID", "ID"),
    "PRL": ("CE", "ST", "TX"),
    "SPS": ("CWE", "TX", "TX", "CWE", "CWE", "CWE", "CWE"),
    "TQ": ("CQ", "ST", "ST", "TS", "TS", "ST", "ST", "TX", "ST", "ST", "ST", "ST"),
    "RI": ("IS", "ST"),
    "CNN": ("ST", "ST", "ST", "ST", "ST", "ST", "IS", "IS", "IS", "ST", "ID"),
    "NDL": ("CNN", "TS", "TS", "IS", "IS", "IS", "HD", "IS", "IS", "IS", "IS"),
    "CP": ("MO", "ID", "NM", "NM", "CE", "ID"),
    "MOC": ("MO", "CE"),
    "DLN": ("ST", "IS", "DT"),
    "JCC": ("IS", "IS", "TX"),
    "CM": (),
}
"""Composite types and the types of their components. `CM` (v2.4's "composite") has no fixed list."""

_NM = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_SI = re.compile(r"\d{1,4}")
_DT = re.compile(r"(\d{4})(?:(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])?)?")
_TM = re.compile(r"(?:[01]\d|2[0-3])(?:[0-5]\d(?:[0-5]\d(?:\.\d{1,4})?)?)?(?:[+-](?:[01]\d|2[0-3])[0-5]\d)?")
_DTM = re.compile(
    r"(\d{4})(?:(0[1-9]|1[0-2])(?:(0[1-9]|[12]\d|3[01])"
    r"(?:(?:[01]\d|2[0-3])(?:[0-5]\d(?:[0-5]\d(?:\.\d{1,4})?)?)?)?)?)?"
    r"(?:[+-](?:[01]\d|2[0-3])[0-5]\d)?"
)
_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _real_day(match: re.Match[str]) -> bool:
    day = match.group(3)
    if not day:
        return True
    year, month, d = int(match.group(1)), int(match.group(2)), int(day)
    if d > _DAYS[month]:
        return False
    if month == 2 and d == 29:
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return True


def is_nm(value: str) -> bool:
    return _NM.fullmatch(value) is not None


def is_si(value: str) -> bool:
    return _SI.fullmatch(value) is not None


def is_dt(value: str) -> bool:
    match = _DT.fullmatch(value)
    return match is not None and _real_day(match)


def is_tm(value: str) -> bool:
    return _TM.fullmatch(value) is not None


def is_dtm(value: str) -> bool:
    match = _DTM.fullmatch(value)
    return match is not None and _real_day(match)


FORMAT: dict[str, tuple[Callable[[str], bool], str]] = {
    "NM": (is_nm, "a number (NM): digits, an optional sign and decimal point"),
    "SI": (is_si, "a sequence ID (SI): a non-negative integer of at most 4 digits"),
    "DT": (is_dt, "a date (DT) YYYY[MM[DD]]"),
    "TM": (is_tm, "a time (TM) HH[MM[SS[.S]]][+/-ZZZZ]"),
    "DTM": (is_dtm, "a date/time (DTM) YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]"),
}
"""Primitive types with a lexical form: (check, what a valid value looks like)."""

FIRST_COMPONENT_FORMAT = {"TS": "DTM", "CQ": "NM", "MO": "NM"}
"""Composites whose first component has a checked format (TS is written as a bare DTM almost always)."""


def known(datatype: str) -> bool:
    return datatype in PRIMITIVE or datatype in COMPOSITE or datatype == VARIES


def components(datatype: str) -> int:
    """How many components `datatype` may have: 1 for a primitive, 0 when unlimited (CM, varies, unknown)."""
    if datatype in PRIMITIVE:
        return 1
    return len(COMPOSITE.get(datatype, ()))


def checked_components(datatype: str) -> tuple[tuple[int, str], ...]:
    """(1-based position, primitive type) of the components of a composite whose format is checked."""
    return _CHECKED.get(datatype, ())


_CHECKED: dict[str, tuple[tuple[int, str], ...]] = {
    name: tuple((i, t) for i, t in enumerate(parts, 1) if t in FORMAT) for name, parts in COMPOSITE.items()
}
_CHECKED = {k: v for k, v in _CHECKED.items() if v}


# -- fast forms, for the validator's compiled per-segment checks -------------------------------------------------
# Each is a regular expression (no capturing groups) that accepts only values its FORMAT check accepts: ASCII digits
# only, and no day the calendar needs a closer look at (29 February goes to the FORMAT check, which knows leap years).
# The longest forms come first: a full date and time is the common case.
_MONTH = r"(?:0[1-9]|1[0-2])"
_MONTH_DAY = (rf"(?:{_MONTH}(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])(?:29|30)|(?:0[13578]|1[02])31)")
_TIME = r"(?:[01][0-9]|2[0-3])(?:[0-5][0-9](?:[0-5][0-9](?:\.[0-9]{1,4})?)?)?"
_ZONE = r"(?:[+-](?:[01][0-9]|2[0-3])[0-5][0-9])?"

FAST_FORMAT: dict[str, tuple[str, int]] = {
    "NM": (r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", 0),
    "SI": (r"[0-9]{1,4}", 4),
    "DT": (rf"[0-9]{{4}}(?:{_MONTH_DAY}|{_MONTH})?", 8),
    "TM": (rf"{_TIME}{_ZONE}", 16),
    "DTM": (rf"[0-9]{{4}}(?:{_MONTH_DAY}(?:{_TIME})?|{_MONTH})?{_ZONE}", 24),
}
"""Type -> (regular expression, longest value it accepts, 0 when unbounded); a subset of FORMAT's checks."""
