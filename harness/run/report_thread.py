"""A scenario's report finished beside the next scenario: its evidence masked and its event written by one thread of
the run's pytest process, in the order the reports were made.

Between two scenarios the largest piece of work was masking the exchanges of the one that had just ended (≈ a
millisecond of CPU each, with its steps' text and its event's line), done before the next one could start. A
`hih run` pytest process waits on sockets and clocks for most of a scenario's time, so that work fits there.

What stays the same: the jobs run one at a time in the order they were given, on the run's one masker, so every
exchange, step and text is masked with the values learnt before it, as when the work was done in place. Whatever
else would use that masker (a failed scenario's report, captured output, the deadline's note) first waits for the
thread to finish what it holds (`settle`). Nothing unmasked is written: the jobs only hold the exchanges in memory
and write what they have masked. The queue is bounded (`BOUND` jobs: `submit` then waits), a job that raises stops
the thread's later jobs and is raised where the process next waits on it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

BOUND = 16
"""Jobs waiting at most: a scenario's job holds its exchanges until it has run."""


class ReportThread:
    """One worker thread running jobs in order; started with the first job."""

    def __init__(self, bound: int = BOUND) -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=bound)
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        _LIVE.append(self)

    @property
    def started(self) -> bool:
        return self._thread is not None

    def runs_here(self) -> bool:
        """The caller is this thread (one of its jobs)."""
        return self._thread is threading.current_thread()

    def submit(self, job: Callable[[], None]) -> None:
        """Run `job` after every job given before it (raises the error of an earlier job that failed)."""
        self._raise()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hih-reports", daemon=True)
            self._thread.start()
        self._jobs.put(job)

    def settle(self, timeout_s: float | None = None) -> bool:
        """Wait until every job given so far has run (False when `timeout_s` passed first); raises the error of a
        job that failed."""
        done = True
        if self._thread is not None:
            with self._jobs.all_tasks_done:
                done = self._jobs.all_tasks_done.wait_for(lambda: not self._jobs.unfinished_tasks, timeout_s)
        self._raise()
        return done

    def close(self) -> None:
        """Run what is left, then end the thread."""
        if self in _LIVE:
            _LIVE.remove(self)
        if self._thread is not None:
            try:
                self.settle()
            finally:
                self._jobs.put(None)
                self._thread.join()  # its jobs write files (a scenario's report parts), no wait of their own
                self._thread = None

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise RuntimeError(f"hih: a scenario's report could not be finished: {error!r}") from error

    def _run(self) -> None:
        failed = False
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if not failed:
                    job()
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread (settle, submit)
                self.error, failed = exc, True
            finally:
                self._jobs.task_done()


_LIVE: list[ReportThread] = []


def settle_all(timeout_s: float) -> None:
    """Let the process's report threads finish what they hold, for at most `timeout_s` each, errors left unsaid:
    for a process about to end on its own terms (the scenario deadline giving up on a stuck scenario), so the
    events of the scenarios before it are written."""
    for beside in _LIVE:
        try:
            beside.settle(timeout_s)
        except Exception:  # noqa: BLE001, S110 - the process ends next: what could be written is written
            pass
