"""SIGINT and SIGTERM as a request to stop a server, from the first step of its start.

Python turns SIGINT into KeyboardInterrupt wherever the main thread is when the signal's handler runs; raised inside a
weakref callback or a `__del__` (the import system's module locks have one), the exception is printed as "Exception
ignored" and dropped. A Ctrl-C that came while `hih mock serve` was importing and starting its mocks was lost that
way now and then, and the server went on to serve until killed. With these handlers the signal sets an event instead,
which nothing can drop: the start finishes, sees it, and the server stops as after any Ctrl-C. Only on the main thread
(where Python runs signal handlers); elsewhere the caller's `stop` alone stops it."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_NOTED: list[int] = []
"""SIGINTs taken by `note_interrupts`' handler before a serve's own were set."""


def _noted(signum: int, frame: FrameType | None) -> None:
    _NOTED.append(signum)
    raise KeyboardInterrupt


def note_interrupts() -> None:
    """From a serving command's first step (harness.launch, before the command line is imported): SIGINT raises
    KeyboardInterrupt as before, and is also noted, so that one Python dropped (an import's module-lock callback)
    still stops the serve once `stopping_on_signals` begins."""
    signal.signal(signal.SIGINT, _noted)


@contextlib.contextmanager
def stopping_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """While inside: SIGINT and SIGTERM set `stop`; the handlers before are put back at the end."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    if _NOTED:  # one came before these handlers, and its KeyboardInterrupt was dropped
        stop.set()
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
