"""connectors/sequence.py with a stepped clock: the sequence starts again at each new second, follows the clock's
milliseconds, and a second whose sequence is used up waits for the next one instead of repeating an identifier."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from connectors import sequence as sequence_module
from connectors.sequence import ClockSequence

SECOND = "%Y%m%d%H%M%S"


def stepped(monkeypatch: pytest.MonkeyPatch, moments: list[datetime]) -> list[float]:
    """The module's clock reads `moments` one by one and fails once they run out (a sequence that loops on a stopped
    clock would otherwise never return); returns the pauses it asked for."""
    given: Iterator[datetime] = iter(moments)
    pauses: list[float] = []

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            moment = next(given, None)
            if moment is None:
                raise AssertionError(f"the clock was read more than the {len(moments)} times expected")
            return moment

    monkeypatch.setattr(sequence_module, "datetime", Clock)
    monkeypatch.setattr(sequence_module.time, "sleep", pauses.append)
    return pauses


def test_the_sequence_follows_the_milliseconds_and_starts_again_at_a_new_second(monkeypatch: pytest.MonkeyPatch) -> None:
    stepped(monkeypatch, [datetime(2026, 3, 4, 10, 0, 0, 900_000)] * 3 + [datetime(2026, 3, 4, 10, 0, 1, 0)])
    source = ClockSequence(SECOND, 4)  # 10 steps a millisecond

    taken = [source.next() for _ in range(4)]

    assert taken == [("20260304100000", 9001), ("20260304100000", 9002), ("20260304100000", 9003),
                     ("20260304100001", 1)], "a new second starts the sequence again from its milliseconds"


def test_a_used_up_second_waits_for_the_next_one(monkeypatch: pytest.MonkeyPatch) -> None:
    late = datetime(2026, 3, 4, 10, 0, 0, 998_000)
    pauses = stepped(monkeypatch, [late, late, datetime(2026, 3, 4, 10, 0, 1, 0)])
    source = ClockSequence(SECOND, 3)  # one step a millisecond: 999 is the last of the second

    first = source.next()
    second = source.next()

    assert first == ("20260304100000", 999) and pauses == [0.001]
    assert second == ("20260304100001", 1), "the next identifier is in the next second, never a repeat"


def test_fewer_than_three_digits_cannot_follow_the_milliseconds() -> None:
    with pytest.raises(ValueError, match="at least 3 digits"):
        ClockSequence(SECOND, 2)
