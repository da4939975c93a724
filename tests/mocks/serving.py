"""`hih mock serve` in a thread of the test process, for tests that talk to what it announced over sockets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from mocks.serve import ServeOptions, serve


@contextmanager
def serving(options: ServeOptions, timeout_s: float = 90.0,
            announced: list[str] | None = None) -> Iterator[dict[str, list[str]]]:
    """Serve `options` until the block ends; yields each announced line's tab-separated fields by name
    (`fields["lis"] == ["lis", "mllp://127.0.0.1:PORT", "(contract 2024.1, 2 workers)"]`). Whatever `serve` raised
    fails the test. `announced` gets every line, those of the stop included."""
    stop = threading.Event()
    lines: list[str] = [] if announced is None else announced
    errors: list[BaseException] = []

    def target() -> None:
        try:
            serve(options, lines.append, stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not any(line.startswith("ready") for line in lines):
            assert not errors and time.monotonic() < deadline, (errors, lines)
            time.sleep(0.05)
        yield {line.split("\t")[0]: line.split("\t") for line in lines if "\t" in line}
    finally:
        stop.set()
        thread.join(30)
    assert not errors, errors
