"""JSON laid out as `json.dumps(value, ensure_ascii=False, indent=2)` lays it out, written by orjson where orjson
writes the same text.

Python's `json` encodes with an indent in pure Python (its C encoder writes compact JSON only): for `hih run` that was
most of the work on each scenario's result (its part of evidence.json, report.html's forms of its messages). orjson
writes the same bytes at about a tenth of the cost for what it encodes alike: dicts with str keys, lists, str, bool,
None, integers within 64 bits, finite floats not under 1e-4 in magnitude (below, orjson writes 0.00001 where Python
writes 1e-05). Anything else (NaN and the infinities, which orjson would write as null; a small float; a larger
integer; a tuple or a subclass; a lone surrogate; a key that is not a str) goes to `json`, which writes the text, or
raises, as before.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

_INT_LOW, _INT_HIGH = -(1 << 63), 1 << 64
"""The integers orjson writes: a signed or unsigned 64-bit one."""
_SMALLEST_ALIKE = 1e-4
"""Python's float repr turns to an exponent below this magnitude; orjson's does not."""


def alike(value: Any) -> bool:
    """Whether orjson writes `value` as `json` does, as far as the values' types and numbers tell (a lone
    surrogate or a key that is not a str makes orjson refuse, which `indented` catches)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is float:
            if not (item == 0.0 or _SMALLEST_ALIKE <= abs(item) < math.inf):  # NaN fails both
                return False
        elif kind is int:
            if not _INT_LOW <= item < _INT_HIGH:
                return False
        elif kind is not str and kind is not bool and item is not None:
            return False
    return True


def indented(value: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, indent=2)`, the same text."""
    if alike(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")
        except orjson.JSONEncodeError:
            pass
    return json.dumps(value, ensure_ascii=False, indent=2)
