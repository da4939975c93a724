"""The open-loop driver: calls are timed from when they were due, so a slow system shows as latency and backlog."""

from __future__ import annotations

import threading
import time

from harness.load import engine
from harness.load.recorder import Recorder


class Sleeper:
    """An iteration of two calls: `first` sleeps `delay_s`, `second` fails on odd iterations."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.seen: list[int] = []
        self.lock = threading.Lock()

    def iteration(self, number: int, step: engine.Step) -> None:
        with self.lock:
            self.seen.append(number)
        step("first", lambda: time.sleep(self.delay_s))

        def second() -> None:
            if number % 2:
                raise TimeoutError("no reply")

        step("second", second)

    def close(self) -> None:
        pass


def test_latency_counts_from_the_due_time_not_from_when_a_worker_was_free() -> None:
    # One worker, 20 iterations due a second, each taking 0.1 s: the system keeps up with half, the queue grows.
    session = Sleeper(0.1)
    recorder = engine.run(engine.Plan(rate=20, duration_s=1.0, concurrency=1, drain_s=5.0), [session])
    first = recorder.transactions["first"]
    assert first.count == 20, "every due iteration ran (the queue drained)"
    # A closed loop would report 100 ms for every call; due-time latency sees the 20th wait ~1 s behind schedule.
    assert first.percentile_ms(50) > 400
    assert first.percentile_ms(100) > 900
    assert first.histogram.get_min_value() >= 100_000


def test_a_failed_call_is_counted_by_kind_and_stops_its_iteration() -> None:
    session = Sleeper(0.0)
    recorder = engine.run(engine.Plan(rate=50, duration_s=0.4, concurrency=2), [session, session])
    second = recorder.transactions["second"]
    assert second.count == 20
    assert dict(second.errors) == {"TimeoutError": 10}
    assert second.examples["TimeoutError"][0] == "no reply"


def test_warm_up_iterations_run_but_are_not_recorded() -> None:
    session = Sleeper(0.0)
    recorder = engine.run(engine.Plan(rate=50, duration_s=0.2, warmup_s=0.2, concurrency=1), [session])
    assert len(session.seen) == 20
    assert recorder.transactions["first"].count == 10


def test_what_is_still_queued_when_the_drain_time_is_up_is_counted_as_not_started() -> None:
    session = Sleeper(0.2)
    recorder = engine.run(engine.Plan(rate=50, duration_s=0.2, concurrency=1, drain_s=0.1), [session])
    assert recorder.not_started > 0
    assert recorder.not_started + recorder.transactions["first"].count <= 10


def test_the_timeline_holds_each_seconds_completions_and_percentiles() -> None:
    recorder = Recorder(start=100.0)
    for index in range(10):
        recorder.record("2207", 100.0 + index * 0.1, 100.0 + index * 0.1 + 0.002 * (index + 1),
                        TimeoutError("x") if index == 9 else None)
    recorder.record("2207", 101.5, 101.6)
    rows = recorder.timeline()
    assert [row["second"] for row in rows] == [0, 1]
    assert rows[0]["transactions"]["2207"]["done"] == 10
    assert rows[0]["transactions"]["2207"]["errors"] == 1
    assert rows[0]["transactions"]["2207"]["p99_ms"] == 20.0
    assert rows[1]["transactions"]["2207"]["p50_ms"] == 100.0
