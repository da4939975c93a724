"""Messages laid out for the reader ahead (`hih run` prepares each scenario's as its result arrives) read the same
as those laid out when report.html is rendered; what is kept is bounded, and a newly registered kind is obeyed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.report import formats
from harness.report.html import prepare_exchanges
from tests.strategies import examples

messages = st.sampled_from([
    '{"infno": "2207", "input": {"data": {"psn_name": "张*", "amount": 12.5}}}', "[1, 2", "{}",
    '<?xml version="1.0"?><Envelope><Body><Ping>1</Ping></Body></Envelope>', "<a><b>x</b>",
    "\x0bMSH|^~\\&|HIS|LAB\rPID|1||M***1\r\x1c\r", "plain words", "",
]) | st.text(max_size=40)


@pytest.fixture(autouse=True)
def _nothing_prepared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "_PREPARED", {})
    monkeypatch.setattr(formats, "_prepared_chars", [0])


@settings(max_examples=examples(300), deadline=None)
@given(text=messages, transport=st.sampled_from([None, "http", "soap", "mllp"]))
def test_a_prepared_message_reads_as_one_laid_out_afresh(text: str, transport: str | None) -> None:
    afresh = formats.pretty(text, transport)
    formats.prepare(text, transport)
    assert formats.pretty(text, transport) == afresh


def test_prepare_exchanges_lays_out_both_sides_of_each_exchange() -> None:
    request, response = '{"a": 1}', "<r><ok>1</ok></r>"
    prepare_exchanges([{"transport": "http", "request_raw": {"text": request}, "response_raw": {"text": response}},
                       {"transport": "http", "request_raw": {"base64": "AAE="}}])
    assert formats._PREPARED[(request, "http")] == ("json", '{\n  "a": 1\n}', True)
    assert formats._PREPARED[(response, "http")][0] == "xml"
    assert len(formats._PREPARED) == 2


def test_what_is_kept_is_bounded_by_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "PREPARED_CHARS", 200)
    for i in range(10):
        formats.prepare(f'{{"n": {i}, "pad": "{"x" * 30}"}}')
    assert 0 < len(formats._PREPARED) < 10
    assert formats._prepared_chars[0] <= 200
    late = '{"n": "late"}'
    assert formats.pretty(late) == ("json", '{\n  "n": "late"\n}', True)  # still answered, only not kept


def test_a_kind_registered_later_is_obeyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "FORMATTERS", dict(formats.FORMATTERS))
    formats.prepare("plain words")
    formats.register("text", str.upper)
    assert formats.pretty("plain words") == ("text", "PLAIN WORDS", True)
