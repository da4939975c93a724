"""The open-loop driver: iterations of a workload start on a fixed schedule (`rate` a second), whatever the system
under test does, and every call's latency is measured from when it was due, not from when a worker got to it. A
slow connector therefore shows as latency and backlog rather than as a lower request rate that looks healthy (no
coordinated omission). Iterations run on a pool of worker threads, each with its own connector session."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from harness.load.recorder import Recorder

T = TypeVar("T")


class StepFailed(Exception):
    """A call of the iteration failed (recorded already): the iteration's later steps are not run."""


class Step:
    """Times the calls of one iteration: the first from the iteration's due time, each later one from the end of the
    one before it (a patient's 2207 cannot start before their 2206 has answered)."""

    def __init__(self, recorder: Recorder | None, due: float) -> None:
        self.recorder = recorder
        self.mark = due

    def __call__(self, name: str, call: Callable[[], T]) -> T:
        began = self.mark
        try:
            result = call()
        except Exception as exc:
            self.mark = time.perf_counter()
            if self.recorder is not None:
                self.recorder.record(name, began, self.mark, exc)
            raise StepFailed(name) from exc
        self.mark = time.perf_counter()
        if self.recorder is not None:
            self.recorder.record(name, began, self.mark)
        return result


class Session(Protocol):
    """One worker's connection to the system under test (its own connector); made before the clock starts."""

    def iteration(self, number: int, step: Step) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Plan:
    rate: float
    """Iterations started per second."""
    duration_s: float
    warmup_s: float = 0.0
    """Iterations due in the first `warmup_s` seconds run but are not recorded."""
    concurrency: int = 32
    """Worker threads: iterations in flight at most (more wait, and their wait counts as latency)."""
    drain_s: float = 30.0
    """How long iterations still queued or running at the end may take before they count as not started."""


@dataclass
class Progress:
    elapsed_s: float
    due: int
    done: int
    errors: int
    backlog: int


def run(plan: Plan, sessions: list[Session], on_progress: Callable[[Progress], None] | None = None) -> Recorder:
    """Run the plan over the sessions (one worker thread each); the recorder of the measured part."""
    total = int(plan.rate * (plan.warmup_s + plan.duration_s))
    start = time.perf_counter() + 0.05
    measured_from = start + plan.warmup_s
    recorder = Recorder(measured_from)
    due: queue.Queue[tuple[int, float] | None] = queue.Queue()
    stop = threading.Event()
    failures: list[BaseException] = []

    def worker(session: Session) -> None:
        while True:
            item = due.get()  # the run ends each worker with None (`finally` below); a session's own waits are bounded
            if item is None or stop.is_set():
                return
            number, at = item
            try:
                session.iteration(number, Step(recorder if at >= measured_from else None, at))
            except StepFailed:
                pass
            except Exception as exc:  # noqa: BLE001 - a workload's own bug: reported, the run goes on
                if not failures:
                    failures.append(exc)
                recorder.record("(workload)", at, time.perf_counter(), exc)

    threads = [threading.Thread(target=worker, args=(s,), name=f"hih-load-{i}", daemon=True)
               for i, s in enumerate(sessions)]
    for thread in threads:
        thread.start()
    last_report = 0.0
    try:
        for number in range(total):
            at = start + number / plan.rate
            while (left := at - time.perf_counter()) > 0:
                time.sleep(min(left, 0.05))
                if on_progress is not None and time.perf_counter() - last_report >= 0.25:
                    last_report = time.perf_counter()
                    on_progress(_progress(recorder, start, number, due))
            due.put((number, at))
        deadline = time.perf_counter() + plan.drain_s
        while due.qsize() and time.perf_counter() < deadline:
            time.sleep(0.05)
    finally:
        left_over = 0
        while True:
            try:
                if due.get_nowait() is not None:
                    left_over += 1
            except queue.Empty:
                break
        recorder.not_started = left_over
        for _ in threads:
            due.put(None)
        deadline = time.perf_counter() + plan.drain_s
        for thread in threads:
            thread.join(max(0.1, deadline - time.perf_counter()))
        stop.set()
    if on_progress is not None:
        on_progress(_progress(recorder, start, total, due))
    return recorder


def _progress(recorder: Recorder, start: float, due_count: int, due: queue.Queue[Any]) -> Progress:
    return Progress(time.perf_counter() - start, due_count, recorder.done(), recorder.errors(), due.qsize())
