"""`hih mock serve` in a thread of the test, for the tests of several serving processes: started, waited for until
it says it is ready, stopped at the end (an error it raised fails the test)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from mocks.serve import ServeOptions, serve


@contextmanager
def serving(options: ServeOptions) -> Iterator[list[str]]:
    """The lines `serve` announced once it was ready."""
    stop = threading.Event()
    lines: list[str] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            serve(options, lines.append, stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while not any(line.startswith("ready") for line in lines):
        assert not errors, errors
        assert time.monotonic() < deadline, lines
        time.sleep(0.05)
    try:
        yield lines
    finally:
        stop.set()
        thread.join(30)
    assert not errors
