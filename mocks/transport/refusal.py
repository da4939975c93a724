"""The `refuse` fault: the partner's port refuses connections, as when its service is down, for a window or until
cleared.

While a `refuse` fault is armed on a mock, nothing listens on its port: the listener is stopped (its open
connections closed, as a crashed service's are) and the port is held by a socket that is bound but not listening,
so the kernel answers every connection attempt with a reset ("connection refused", ECONNREFUSED, at once) and no
other program can take the port meanwhile. When the window ends, or the fault is cleared (`mock.reset()`, the admin
API, the console), the mock listens again on the same port. Refused attempts never reach the mock, so it cannot
count them: the fault has a window (`window_s`), not a number of times.

One `Refusal` per started mock (`Refusal.watch(runtime, listener, faults)`, a line in each transport's start).
"""

from __future__ import annotations

import asyncio
import logging
import socket

from mocks.transport.faults import Fault, FaultPlan
from mocks.transport.runtime import Listener, Runtime

log = logging.getLogger(__name__)
SETTLE_S = 10.0
"""How long arming or clearing a refusal from another thread waits for the port to go down or come up."""


def placeholder(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A socket bound to host:port that does not listen: connections are refused, and the port stays ours."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class Refusal:
    """Makes one listener follow the `refuse` faults of one plan."""

    def __init__(self, runtime: Runtime, listener: Listener, plan: FaultPlan, reuse_port: bool = False) -> None:
        self.runtime = runtime
        self.listener = listener
        self.plan = plan
        self.reuse_port = reuse_port
        self.down: Fault | None = None
        """The refuse fault in effect (the port refuses), or None (it listens)."""
        self._held: socket.socket | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._lock: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy = False

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("refuse fault: the port could not follow the fault: %s", task.exception())

    @classmethod
    def watch(cls, runtime: Runtime, listener: Listener, plan: FaultPlan, reuse_port: bool = False) -> Refusal:
        refusal = cls(runtime, listener, plan, reuse_port)
        plan.watch(refusal.changed)
        return refusal

    def changed(self) -> None:
        """The plan changed (any thread): bring the port in line. From another thread, wait until it is (a step
        that arms the fault then calls the connector must find the port refusing); on the runtime's own loop (the
        admin API), schedule it."""
        if self.plan.refusing() is None and self.down is None and not self._busy:
            return  # the common case: another kind of fault armed or cleared
        loop = self.runtime.loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task = loop.create_task(self._follow())
            self._tasks.add(task)  # a task nobody holds may be collected before it ends
            task.add_done_callback(self._done)
        elif loop.is_running():
            self.runtime.call(self._follow(), timeout=SETTLE_S)

    async def _follow(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            self._busy = True
            try:  # until the port matches the plan, which may change again while the port goes down or up
                while (wanted := self.plan.refusing()) is not self.down:
                    if self._timer is not None:
                        self._timer.cancel()
                        self._timer = None
                    if wanted is None:
                        await self._come_up()
                    elif self.down is None:
                        await self._go_down()
                    self.down = wanted
                    if wanted is not None:
                        self.plan.mark_fired(wanted)
                        if wanted.window_s > 0:
                            self._timer = asyncio.get_running_loop().call_later(wanted.window_s, self.plan.discard, wanted)
            finally:
                self._busy = False

    async def _go_down(self) -> None:
        await self.listener.stop()
        # A connection the kernel accepted just before the listening socket closed reaches its handler (and the
        # server's list of open connections) a moment later: close again now that nothing new can come in.
        await self.listener.stop()
        try:
            self._held = placeholder(self.listener.host, self.listener.port, self.reuse_port)
        except OSError as exc:  # the port was taken in the instant between: it refuses all the same, for now
            log.warning("refuse fault: could not hold port %s: %s", self.listener.port, exc)

    async def _come_up(self) -> None:
        if self.listener.reopen is None:
            raise RuntimeError("this listener cannot listen again")
        try:
            await self.listener.reopen()
        finally:
            if self._held is not None:
                self._held.close()
                self._held = None

