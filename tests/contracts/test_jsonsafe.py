"""Bounded JSON parsing: the depth scan agrees with the parsed structure, and no input gets past `loads` as anything
but JSON or a JsonRefused (never a RecursionError, a bare ValueError or a NaN)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contract import jsonsafe
from tests.strategies import examples

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=40,
)


def nesting(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((nesting(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    return 0


@given(JSON)
def test_the_depth_scan_agrees_with_the_parsed_structure(value: Any) -> None:
    raw = json.dumps(value).encode()
    assert jsonsafe.depth(raw) == nesting(value)
    assert jsonsafe.depth(json.dumps(value, ensure_ascii=False).encode()) == nesting(value)


@given(st.binary(max_size=300))
@settings(max_examples=examples(300))
def test_any_bytes_are_json_or_a_refusal(raw: bytes) -> None:
    try:
        jsonsafe.loads(raw, max_depth=8)
    except jsonsafe.JsonRefused as refused:
        assert refused.reason in ("depth", "encoding", "syntax", "number") and refused.message


@pytest.mark.parametrize(("raw", "reason"), [
    (b"[" * 100_000, "depth"),
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "depth"),
    (b"1" * 5000, "number"),
    (b'{"amount": NaN}', "number"),
    (b"[Infinity]", "number"),
    (b"\xff{}", "encoding"),
    (b'{"a":', "syntax"),
])
def test_hostile_bodies_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(jsonsafe.JsonRefused) as refused:
        jsonsafe.loads(raw)
    assert refused.value.reason == reason


def test_brackets_inside_strings_do_not_count() -> None:
    assert jsonsafe.loads(b'{"note": "[[[[[[[[[[{{{{{{{{\\"]]]]"}', max_depth=1) == {"note": '[[[[[[[[[[{{{{{{{{"]]]]'}
    with pytest.raises(jsonsafe.JsonRefused):
        jsonsafe.loads(b"[[[1]]]", max_depth=2)
    assert jsonsafe.loads(b"[[1]]", max_depth=2) == [[1]]


@pytest.mark.parametrize("raw", [
    b'"' + b'\\"' * 1_000_000,  # one unterminated string of escaped quotes
    b'"' * 2_000_000,
    b'["' * 1_000_000,
])
def test_the_depth_scan_stays_linear_on_hostile_strings(raw: bytes) -> None:
    started = time.process_time()
    jsonsafe.depth(raw)
    assert time.process_time() - started < 2.0, "the scan backtracked"


@given(JSON, st.integers(min_value=10**17, max_value=10**40), st.booleans())
def test_the_fast_parser_reads_what_json_reads(value: Any, big: int, ascii_only: bool) -> None:
    """orjson is tried first: every value, long integers (which orjson would make floats) and escaped lone
    surrogates (which it refuses) included, comes back exactly as Python's json reads it."""
    for doc in (value, [value, big, -big], {"n": big, "s": "\ud800"}):
        raw = json.dumps(doc, ensure_ascii=ascii_only or doc is not value).encode()
        expected = json.loads(raw)
        parsed = jsonsafe.loads(raw)
        assert parsed == expected and json.dumps(parsed) == json.dumps(expected)


def test_a_depth_the_caller_checked_is_not_counted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[bytes] = []
    original = jsonsafe.check_depth

    def counting(raw: bytes, limit: int = 64) -> None:
        counted.append(raw)
        original(raw, limit)

    monkeypatch.setattr(jsonsafe, "check_depth", counting)
    assert jsonsafe.loads(b'{"a":[1]}', 8, depth_checked=True) == {"a": [1]} and counted == []
    with pytest.raises(jsonsafe.JsonRefused) as refused:
        jsonsafe.loads(b"[" * 9 + b"]" * 9, 8)
    assert refused.value.reason == "depth" and len(counted) == 1
