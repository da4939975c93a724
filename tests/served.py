"""A hih server (or any command) as a real process for a test, ended with everything it started on every way out.

`started` runs a command in a session of its own and, however the block ends (returned, an assertion failed, a
readiness wait timed out, Ctrl-C), ends its whole process group: SIGTERM, a bounded wait, then SIGKILL. A server's
own children (the workers of `hih mock serve --workers N`) go with it, and pytest ends with no child of a test left
running to hold its output pipes or a port.

`running` adds the start-up banner: one line per endpoint, `LABEL<TAB>WHERE[<TAB>...]`, read until `ready`; it
yields the process and {label: where}. `running_hih` does the same for a `hih` server command forked from the
test process's pre-imported one (tests/forked_hih.py says what stays real), for tests that read what the server
does, not how it starts.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from tests.forked_hih import ForkedHih

Process = subprocess.Popen[Any] | ForkedHih

GRACE_S = 10.0
"""How long a process has to stop after SIGTERM before its group is killed."""


def _signal_group(process: Process, sig: int) -> None:
    """`sig` to the group `process` leads; to `process` alone when it leads none (not started by `started`)."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:  # no such group: ended already, or the process is in its parent's group
        if process.poll() is None:
            process.send_signal(sig)


def end(process: Process, grace_s: float = GRACE_S) -> int:
    """End `process` and, when it was started in a session of its own, every process left in its group: SIGTERM, at most
    `grace_s` seconds' wait, then SIGKILL. Returns the leader's exit status. Ending an ended process does nothing
    more (a group left with no member is not signalled)."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
    # whatever is left in the group (the leader stuck, or a child of it that outlived it) is killed outright
    _signal_group(process, signal.SIGKILL)
    return process.wait(5)


def awaited(process: subprocess.Popen[Any], within_s: float) -> int:
    """The exit status of `process`, which ends by itself, given `within_s` seconds to; ended (`end`) when it has
    not by then, so that a test failing on its status leaves nothing running."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(within_s)
    return end(process)


@contextmanager
def started(command: list[str], **popen: Any) -> Iterator[subprocess.Popen[Any]]:
    """`subprocess.Popen(command, **popen)` in a session of its own, ended with its group (`end`) when the block ends
    however it ends; then its pipes are closed."""
    with _ended(subprocess.Popen(command, start_new_session=True, **popen)) as process:
        yield process


@contextmanager
def _ended(process: Any) -> Iterator[Any]:
    """`process`, ended with its group (`end`) when the block ends however it ends; then its pipes are closed."""
    try:
        yield process
    finally:
        end(process)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream:
                with contextlib.suppress(OSError, ValueError):  # a broken pipe to a killed process: nothing to flush
                    stream.close()


def _pump(stream: TextIO | None, lines: queue.Queue[str]) -> None:
    """Hand the server's output lines to the test until the stream ends or is closed under the reader."""
    try:
        for line in stream or []:
            lines.put(line)
    except ValueError:
        pass  # closed by `end` while a line was awaited: nothing more to hand over


@contextmanager
def running(command: list[str], env: dict[str, str], cwd: Path,
            timeout: float = 30) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    with started(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd) as process:
        with _banner(process, command[0], timeout) as banner:
            yield process, banner


@contextmanager
def running_hih(argv: list[str], env: dict[str, str], cwd: Path,
                timeout: float = 30) -> Iterator[tuple[ForkedHih, dict[str, str]]]:
    """`hih ARGV` forked (tests/forked_hih.py) in `cwd` with `env`, and its banner, as `running` gives them."""
    with _ended(ForkedHih(argv, env, cwd)) as process, _banner(process, process.args[0], timeout) as banner:
        yield process, banner


@contextmanager
def _banner(process: Process, name: str, timeout: float) -> Iterator[dict[str, str]]:
    """The server's banner, read until `ready` within `timeout` seconds; the server is ended when the block ends."""
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
    reader.start()
    banner: dict[str, str] = {}
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic())).rstrip("\n")
            except queue.Empty:
                raise AssertionError(f"{name} not ready within {timeout} s; printed: {banner}") from None
            if line.startswith("ready"):
                break
            label, _, rest = line.partition("\t")
            banner[label] = rest.split("\t")[0]
        yield banner
    finally:
        # The reader ends at the stream's end once the group is gone; its stream is closed only after that (by
        # `_ended`): closing it under the reader would raise in its thread, which pytest pins on the next test.
        end(process)
        reader.join(5)
