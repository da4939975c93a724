"""A bounded poll before a serving event loop sleeps (`hih mock serve --busy-poll-us`).

Under a steady load a serving process with few connections per loop (each `--workers` process holds a share of them)
answers an order, finds no other connection ready, and sleeps in `epoll_wait`; the next order wakes it a few tens of
microseconds later. Each such sleep is a context switch and a wake-up, and on a virtual machine whose idle vCPU halts
at once (cpuidle haltpoll with `guest_halt_poll_ns` 0) the wake-up goes through the hypervisor. `BusyPoll` keeps the
loop polling its sockets without blocking for `window_s` after the last message it handled: the next order is read
as soon as it arrives, without the sleep.

Bounded on both sides: the loop polls at most `window_s` after the last message (each turn one non-blocking poll of
the loop's sockets, one call of `_spin` and a `sched_yield`, so a thread waiting for the core gets it first), and
nothing arms it while no message arrives, so an idle server spends no CPU on it. Only for serving processes that have the loop to themselves (`hih mock serve`): a mock in a test run shares
the interpreter with the connector waiting for its reply, and a polling loop would hold up that thread.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line reads the bounds below without loading asyncio
    import asyncio

DEFAULT_WINDOW_US = 0
"""`hih mock serve --busy-poll-us` when not given: off. With every core busy (the load client and the workers
beside other work) polling showed no gain in orders a second and, at one connection, cost a fifth more server CPU
per order (bench/RESULTS.md, "seventh pass"); where a core falls idle between orders, ≈ 100 µs covers a client's
time to send its next one."""
MAX_WINDOW_US = 10_000
"""The longest poll `--busy-poll-us` accepts: beyond this a sleep costs less than the polling it saves."""


class BusyPoll:
    """Keeps one event loop polling (not sleeping) for `window_s` after the last `poke`; loop thread only."""

    def __init__(self, loop: asyncio.AbstractEventLoop, window_s: float) -> None:
        self.loop = loop
        self.window_s = window_s
        self.armed = False
        """A `_spin` is scheduled: the loop polls without blocking until the window has passed."""
        self.until = 0.0
        self.turns = 0
        """Loop turns spent polling, since the start (the bench and the tests read it)."""
        self._clock = time.monotonic

    def poke(self) -> None:
        """A message was handled: poll for the next one until `window_s` from now."""
        self.until = self._clock() + self.window_s
        if not self.armed:
            self.armed = True
            self.loop.call_soon(self._spin)

    def _spin(self) -> None:
        # a ready callback makes the loop's next poll non-blocking (timeout 0): this one keeps itself scheduled
        # until the window has passed, then lets the loop sleep as before. Each turn gives the core to any other
        # thread waiting for it (the load client, another worker): the poll uses a core only when it would be idle.
        self.turns += 1
        if self._clock() < self.until:
            os.sched_yield()
            self.loop.call_soon(self._spin)
        else:
            self.armed = False
