"""A hih server as a real process for a test: started, its start-up banner read until `ready`, stopped with SIGTERM.

The banner is one line per endpoint, `LABEL<TAB>WHERE[<TAB>...]`; `running` yields the process and {label: where}.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


def _pump(stream: TextIO | None, lines: queue.Queue[str]) -> None:
    """Hand the server's output lines to the test until the stream ends or is closed under the reader."""
    try:
        for line in stream or []:
            lines.put(line)
    except ValueError:
        pass  # closed by `running`'s clean-up while a line was awaited: nothing more to hand over


@contextmanager
def running(command: list[str], env: dict[str, str], cwd: Path,
            timeout: float = 30) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
    reader.start()
    banner: dict[str, str] = {}
    try:
        deadline = time.monotonic() + timeout
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic())).rstrip("\n")
            if line.startswith("ready"):
                break
            label, _, rest = line.partition("\t")
            banner[label] = rest.split("\t")[0]
        yield process, banner
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        # The reader ends at the stream's end once the process is gone (unless a child still holds the pipe); closing
        # the stream under it would raise in its thread, which pytest pins on whichever test comes next.
        reader.join(5)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
