"""A wall clock held within one second for the rest of a scenario (a pytest plugin of `harness.plugin`).

`假如 接下来的步骤在同一秒内完成` asks that what the scenario sends next goes out within one second, so that
identifiers with a time part (the insurance msgid, the HL7 MSH-10, a Study UID) share it and a connector that
starts its sequence again after a restart repeats one. Waiting for the real clock cannot promise that: on a loaded
machine the steps may take longer than a second. So the wall clock that code in this process reads (`time.time`,
`datetime.now` ..., by time-machine) is held at the start of the current second and moved on by `STEP_S` before
each later step, never past the second's end: a restarted connector still starts in a later millisecond than its
predecessor (as a real restart does), yet always in the same second. The monotonic clock, which timeouts and
resend pauses use, is not touched.

A connector that runs in another process (an adapter that calls a vendor's program) reads its own clock: for it the
step cannot hold the second, and the docs say so.

time-machine (with `unittest` and `zoneinfo` behind it) is imported by the first hold, not with this plugin: every
spec run's pytest process loads the plugin before its first scenario, and only the restart scenarios hold the clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import time_machine

STEP_S = 0.01
"""How far the held clock moves before each step: more than a millisecond (identifiers with a millisecond part
differ across a restart), little enough that a long scenario stays within the second."""
LAST_S = 0.99
"""The held clock never goes beyond this part of its second."""
_HELD = pytest.StashKey["HeldClock"]()


class HeldClock:
    """The wall clock held in the current second; `step()` moves it on by STEP_S, `release()` lets it go."""

    def __init__(self) -> None:
        import time_machine

        self.second = math.floor(time.time())
        self.offset_s = 0.001
        self._traveller: time_machine.travel = time_machine.travel(self.second + self.offset_s, tick=False)
        self._coordinates = self._traveller.start()

    def step(self) -> None:
        if self.offset_s + STEP_S <= LAST_S:
            self.offset_s += STEP_S
            self._coordinates.shift(timedelta(seconds=STEP_S))

    def release(self) -> None:
        self._traveller.stop()


@pytest.fixture
def held_clock(request: pytest.FixtureRequest) -> Generator[HeldClock, None, None]:
    """Hold the wall clock in the current second for the rest of the scenario (released at its end)."""
    clock = HeldClock()
    request.node.stash[_HELD] = clock
    try:
        yield clock
    finally:
        del request.node.stash[_HELD]
        clock.release()


def pytest_bdd_before_step(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                           step_func: Any) -> None:
    """Each step after the hold starts a little later in the same second."""
    clock = request.node.stash.get(_HELD, None)
    if clock is not None:
        clock.step()
