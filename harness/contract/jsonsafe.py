"""Bounded JSON parsing for everything hih reads from outside: request bodies, captured files, admin calls.

Python's `json` recurses once per nesting level, so a body of 100,000 `[` ends in a RecursionError; it also refuses
integers over 4,300 digits with a bare ValueError and accepts `NaN` and `Infinity`, which are not JSON. `loads` checks
the nesting depth on the bytes first (cheaply: a body with fewer brackets than the limit cannot be too deep) and
turns every refusal into a `JsonRefused` with a short reason, so a caller answers with a finding, never a traceback.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import orjson

from harness.contract.refused import InputRefused

DEFAULT_MAX_DEPTH = 64

# A JSON string, escapes included; an unterminated one runs to the end (possessive and anchored that way, the scan
# stays linear on hostile input such as a quote followed by a million escaped quotes).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.?)*+(?:"|\Z)', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
for _open in b"[{":
    _STEP[_open] = 1
for _close in b"]}":
    _STEP[_close] = -1


class JsonRefused(InputRefused):
    """A body hih will not parse as JSON: `reason` is one of depth, encoding, syntax, number."""


def depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in `raw` (brackets inside strings do not count)."""
    skeleton = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, skeleton)), default=0)


def check_depth(raw: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Refuse `raw` when its arrays and objects nest deeper than `max_depth`."""
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return  # the common case: too few brackets to be too deep
    found = depth(raw)
    if found > max_depth:
        raise JsonRefused("depth", f"JSON nested {found} levels deep, over the limit of {max_depth}")


def _constant(name: str) -> Any:
    raise JsonRefused("number", f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_constant=_constant)
"""One decoder: `json.loads(text, parse_constant=...)` would build a new one for every call."""
_NUMBER_SKELETON = bytes(ord("0") if chr(b).isdigit() and b < 128 else ord(":") if b in b":[," else ord("x")
                         for b in range(256))
_LONG_NUMBER = b":" + b"0" * 19


def _long_integer(raw: bytes) -> bool:
    """Whether `raw` may hold a number token of 19 digits or more, which orjson would read as a float where Python
    keeps the integer. Digits in the skeleton are 0, value starts (`:`, `[`, `,`) are `:`, blanks and minus signs
    are dropped: a number token is then `:` and its digits (or the text's start). A translate and a substring search
    cost a fifth of a regular expression here; digits inside strings may match, which only costs the fast path."""
    skeleton = raw.translate(_NUMBER_SKELETON, b" \t\r\n-")
    return _LONG_NUMBER in skeleton or skeleton.startswith(_LONG_NUMBER[1:])


def loads(raw: bytes, max_depth: int = DEFAULT_MAX_DEPTH, depth_checked: bool = False) -> Any:
    """Parse UTF-8 JSON bytes within the depth limit; JsonRefused on anything that is not such JSON. `depth_checked`:
    the caller has already held `raw` to `max_depth` (`check_depth`), which is not counted again.

    orjson parses what it reads exactly as `json` does, several times faster; what it refuses (a lone surrogate, a
    number out of a double's range, a syntax error) and integers too long for it go to `json`, which keeps the
    answers and the error positions the findings quote."""
    if not depth_checked:
        check_depth(raw, max_depth)
    if not _long_integer(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonRefused("encoding", f"not UTF-8 text: {exc.reason} at byte {exc.start}", column=exc.start) from None
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise JsonRefused("syntax", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                          exc.lineno, exc.colno) from None
    except RecursionError:  # only when the depth limit is set above what the interpreter's stack allows
        raise JsonRefused("depth", "JSON nested too deep to parse") from None
    except JsonRefused:
        raise
    except ValueError as exc:  # e.g. an integer over the interpreter's digit limit
        raise JsonRefused("number", f"unreadable number: {exc}") from None
