"""The event reader: whole lines only, whatever the chunks the writer's bytes arrive in; damage counted, not raised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.run.events import EventReader
from tests.strategies import examples

# Event-like objects with Chinese text (three bytes a character in UTF-8) and the odd four-byte character.
texts = st.text(alphabet=st.sampled_from(list("门诊结算流程撤销参保人ab1 \"\\/\t") + ["😷", "\u2028"]), max_size=30)
events = st.fixed_dictionaries({"event": st.sampled_from(["result", "collected", "finished"]), "message": texts,
                                "n": st.integers(-5, 10**6)})


def encoded(items: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(e, ensure_ascii=False).encode("utf-8") + b"\n" for e in items)


# 300 examples, kept: a line end missed at a chunk's first byte (a planted bug) took up to the 121st example in 20
# seeds (bench/RESULTS.md).
@settings(max_examples=examples(300), deadline=None)
@given(items=st.lists(events, max_size=12), cuts=st.lists(st.integers(0, 4000), max_size=20))
def test_any_split_of_the_bytes_yields_exactly_the_lines(items: list[dict[str, Any]], cuts: list[int]) -> None:
    """Chunks split anywhere, also inside a multi-byte character: every event once, in order, nothing damaged."""
    data = encoded(items)
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    reader = EventReader(Path("unused"))
    seen = [event for start, end in zip(points, points[1:], strict=False) for event in reader.feed(data[start:end])]
    reader.finish()
    assert seen == items
    assert reader.damaged == []


@settings(max_examples=examples(60), deadline=None)
@given(items=st.lists(events, min_size=1, max_size=8), sizes=st.lists(st.integers(1, 64), min_size=1, max_size=40))
def test_a_file_written_in_random_chunks_while_being_polled(tmp_path_factory: Any, items: list[dict[str, Any]],
                                                            sizes: list[int]) -> None:
    """The runner's way: a real file, appended to in chunks, polled between the writes."""
    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    data = encoded(items)
    reader = EventReader(path)
    seen: list[dict[str, Any]] = []
    with path.open("wb", buffering=0) as out:
        offset, turn = 0, 0
        while offset < len(data):
            size = sizes[turn % len(sizes)]
            out.write(data[offset:offset + size])
            offset += size
            turn += 1
            seen.extend(reader.poll())
    seen.extend(reader.poll())
    reader.finish()
    reader.close()
    assert seen == items and reader.damaged == []


def test_damaged_lines_are_counted_and_skipped() -> None:
    reader = EventReader(Path("unused"))
    good = {"event": "finished", "exitstatus": 0}
    data = b"\xe9\x97\xa8\xff\n" + b"{not json\n" + b"[1, 2]\n" + b"\n" + json.dumps(good).encode() + b"\n" + b'{"cut'
    assert list(reader.feed(data)) == [good]
    reader.finish()
    assert reader.damaged == ["line 1: not UTF-8 at byte 3", ("line 2: not JSON (Expecting property name enclosed in "
                              "double quotes: line 1 column 2 (char 1))"), "line 3: not a JSON object",
                              "line 6: cut off (5 bytes without an end of line)"]


def test_an_over_long_line_is_dropped_without_holding_its_bytes() -> None:
    reader = EventReader(Path("unused"), max_line=100)
    after = {"event": "finished"}
    chunks = [b'{"event": "result", "evidence": "' + b"x" * 80, b"y" * 500, b'"}\n' + json.dumps(after).encode() + b"\n"]
    seen = [e for chunk in chunks for e in reader.feed(chunk)]
    assert seen == [after]
    assert reader.damaged == ["line 1: longer than 100 bytes"]
    assert len(reader._pending) == 0


def test_a_missing_file_is_no_events_yet(tmp_path: Path) -> None:
    reader = EventReader(tmp_path / "not-yet.jsonl")
    assert list(reader.poll()) == []
    (tmp_path / "not-yet.jsonl").write_bytes(b'{"event": "collected", "count": 1}\n')
    assert list(reader.poll()) == [{"event": "collected", "count": 1}]
    reader.close()
