"""Each scenario's connector work folder, removed beside the scenarios rather than between them.

Removing a folder is a file-system call that can take milliseconds (on an ext4 mounted with `discard`, as on the
machines hih is measured on, `rmdir` of an empty folder takes ≈ 3 ms): done in a scenario's tear-down it delays the
next scenario every time. A daemon thread removes the folders instead; the call blocks outside the interpreter lock,
so the scenarios go on meanwhile. `finish` (registered with atexit, which pytest's process and `hih run`'s quick exit
both run) waits for the folders handed over so far, up to a bound; whatever is left then lies under the run's work
root, which `hih run` removes once the process has ended (`harness.run.warm.release`).
"""

from __future__ import annotations

import atexit
import queue
import shutil
import threading
from pathlib import Path

PENDING = 256
"""Folders waiting at most; past this `remove` removes the folder itself (a bound on what waits, never a wait)."""
FINISH_S = 10.0
"""How long `finish` waits for the folders still waiting."""

_queue: queue.Queue[Path | None] = queue.Queue(maxsize=PENDING)
_lock = threading.Lock()
_thread: threading.Thread | None = None


def remove(folder: Path) -> None:
    """Remove `folder` and what it holds, soon, on the remover thread (at once when it cannot take more)."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_work, name="hih-work-folders", daemon=True)
            _thread.start()
            atexit.register(finish)
    try:
        _queue.put_nowait(folder)
    except queue.Full:
        shutil.rmtree(folder, ignore_errors=True)


def finish(timeout_s: float = FINISH_S) -> bool:
    """Wait until every folder handed over is removed; False when `timeout_s` passed first."""
    if _thread is None or not _thread.is_alive():
        return True
    done = threading.Event()

    def wait() -> None:
        _queue.join()  # in a thread of its own: the caller's wait below is the bounded one
        done.set()

    threading.Thread(target=wait, name="hih-work-folders-wait", daemon=True).start()
    return done.wait(timeout_s)


def _work() -> None:
    while True:
        folder = _queue.get()  # the daemon remover's idle wait: nobody waits on it but through `finish`'s bound
        try:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            _queue.task_done()
