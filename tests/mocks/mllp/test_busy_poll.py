"""The bounded poll before a serving loop sleeps (`mocks.transport.busy_poll`): it polls after a message, for no
longer than its window, and never while no message comes; over a real socket and against a loop that records what
it is asked to run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.contract.hl7.mllp_client import MllpSyncClient
from mocks.transport.busy_poll import BusyPoll
from mocks.transport.mllp import AcceptAll, MllpServer
from mocks.transport.runtime import Runtime

ORDER = ("MSH|^~\\&|HIS|HOSP|LIS|LAB|20240105080000||ORU^R01^ORU_R01|{C}|P|2.5.1\r"
         "PID|1||0001234567^^^HOSP^MR||张三||19900307|M\r")


@pytest.fixture
def polling() -> Iterator[Callable[[float], tuple[Runtime, MllpServer, int]]]:
    """A runtime of its own (the session's serves other tests, and must not poll) with an MLLP server on it."""
    runtimes: list[Runtime] = []

    def start(window_s: float) -> tuple[Runtime, MllpServer, int]:
        runtime = Runtime()
        runtimes.append(runtime)
        runtime.poll_before_sleeping(window_s)
        server = MllpServer(AcceptAll("lis"))
        return runtime, server, server.start(runtime).port

    yield start
    for runtime in runtimes:
        runtime.stop()


def settled(poll: BusyPoll, timeout: float = 5.0) -> int:
    """The turns polled once the poll has stopped (it must stop: the window is bounded)."""
    deadline = time.monotonic() + timeout
    while poll.armed:
        assert time.monotonic() < deadline, "the loop is still polling past its window"
        time.sleep(0.005)
    return poll.turns


def test_the_loop_polls_after_each_message_and_stops_when_no_more_come(
        polling: Callable[[float], tuple[Runtime, MllpServer, int]]) -> None:
    runtime, server, port = polling(0.002)
    poll = runtime.busy_poll
    assert poll is not None and server.poll is poll
    assert poll.turns == 0 and not poll.armed, "nothing polls before a message has come"
    with MllpSyncClient("127.0.0.1", port, timeout=2.0) as client:
        assert client.send(ORDER.format(C="P1")).code == "AA"
        first = settled(poll)
        assert first >= 1
        time.sleep(0.05)  # idle, a connection open: no polling without a message
        assert poll.turns == first and not poll.armed
        assert client.send(ORDER.format(C="P2")).code == "AA"
        assert settled(poll) > first


def test_without_a_window_the_loop_sleeps_at_once(polling: Callable[[float], tuple[Runtime, MllpServer, int]]) -> None:
    runtime, server, port = polling(0.0)
    assert runtime.busy_poll is None and server.poll is None
    with MllpSyncClient("127.0.0.1", port, timeout=2.0) as client:
        assert client.send(ORDER.format(C="P1")).code == "AA"


class _Loop:
    """Records the callbacks it is asked to run soon; a test runs them as the loop's turns would."""

    def __init__(self) -> None:
        self.ready: list[Callable[[], Any]] = []

    def call_soon(self, callback: Callable[[], Any]) -> None:
        self.ready.append(callback)

    def turn(self) -> None:
        ready, self.ready = self.ready, []
        for callback in ready:
            callback()


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 3e-4)), max_size=60), st.floats(1e-5, 2e-4))
def test_polls_only_inside_the_window_and_never_twice_at_once(steps: list[tuple[bool, float]], window: float) -> None:
    loop, now = _Loop(), [100.0]
    poll = BusyPoll(loop, window)  # type: ignore[arg-type]  # the two methods BusyPoll calls
    poll._clock = lambda: now[0]
    last_poke: float | None = None
    for poke, step in steps:
        if poke:
            poll.poke()
            last_poke = now[0]
        assert len(loop.ready) <= 1, "one poll scheduled at a time"
        assert poll.armed == bool(loop.ready)
        now[0] += step
        turns = poll.turns
        loop.turn()
        if loop.ready:  # polls on only inside the window of the last message
            assert last_poke is not None and now[0] < last_poke + window
        elif poll.turns > turns:
            assert last_poke is not None and now[0] >= last_poke + window
    for _ in range(3):  # no message any more: at most the one turn that finds the window over once it has passed
        now[0] += window
        loop.turn()
    assert not loop.ready and not poll.armed
