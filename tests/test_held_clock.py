"""The held wall clock of `假如 接下来的步骤在同一秒内完成`: one second however slow the steps, the monotonic clock free."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from datetime import datetime

from connectors.sequence import ClockSequence
from harness.held_clock import LAST_S, STEP_S, HeldClock
from tests.conftest import ROOT


def test_the_held_second_survives_a_step_slower_than_a_second() -> None:
    clock = HeldClock()
    try:
        started = time.monotonic()
        time.sleep(1.05)  # a loaded machine: the steps take longer than the second had left
        assert time.monotonic() - started >= 1.05  # timeouts still see real time pass
        assert math.floor(time.time()) == clock.second
        assert datetime.now().timestamp() // 1 == clock.second
    finally:
        clock.release()
    assert time.time() - clock.second >= 1.05


def test_each_step_moves_the_clock_on_and_never_out_of_its_second() -> None:
    clock = HeldClock()
    try:
        before = time.time()
        clock.step()
        assert round(time.time() - before, 6) == STEP_S
        for _ in range(500):
            clock.step()
        assert clock.second + LAST_S - STEP_S <= time.time() <= clock.second + LAST_S
    finally:
        clock.release()


def test_a_sequence_made_again_after_a_step_does_not_repeat_its_predecessor() -> None:
    """What the restart scenarios rely on: a restarted connector starts in a later millisecond of the same second."""
    clock = HeldClock()
    try:
        first = ClockSequence("%Y%m%d%H%M%S", 4)
        sent = [first.next() for _ in range(3)]
        clock.step()
        again = ClockSequence("%Y%m%d%H%M%S", 4)
        later = [again.next() for _ in range(3)]
    finally:
        clock.release()
    assert {second for second, _ in sent + later} == {datetime.fromtimestamp(clock.second).strftime("%Y%m%d%H%M%S")}
    assert len(set(sent + later)) == 6


def test_the_plugin_leaves_time_machine_to_the_first_hold() -> None:
    """Every spec run's pytest process loads this plugin before its scenarios; only a hold needs time-machine."""
    probe = ("import sys, harness.held_clock as held; before = 'time_machine' in sys.modules; "
             "clock = held.HeldClock(); clock.release(); print(before, 'time_machine' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          check=False)
    assert done.stdout.split() == ["False", "True"], done.stderr[-2000:]
