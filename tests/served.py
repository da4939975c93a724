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


@contextmanager
def running(command: list[str], env: dict[str, str], cwd: Path,
            timeout: float = 30) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or []], daemon=True).start()
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
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
