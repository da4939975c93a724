"""Reading a stopped run's per-worker logs (`mocks.shared_logs`) back into the `--state` file.

Why: a worker writes a transaction to its log before the reply leaves, and to the state file only in a commit
every `DURABLE_FLUSH_S` (off the message's path). A worker killed in between (the parent's grace past, the OOM
killer, a machine under heavy load) leaves acknowledged rows in its log alone. So each flush also records, in the
same commit, how far into its log it reached (`worker_logs`: worker, generation, offset), and the next start (the
first worker, alone, or a process serving the file by itself) reads every log left beside the file from that mark on
and writes what it finds there before the logs are removed.

Which write of a row wins is decided as the workers decide it, by the records' stamps: a record past its writer's mark
is written unless a later stamp of the same row is already in the file (a record of another worker before that
worker's mark). Records before a mark are never written again: the file holds them, or a later write of another
worker. A record cut short (the worker killed inside its `write`) was never answered and is left out.

Limit: a log keeps its last two generations (`MAX_LOG_BYTES` each). A record past its writer's mark is weighed only
against the surviving records of the others: were a worker stopped (not killed) while another wrote two generations,
an older write of the stopped one could replace a newer row of the other.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

MARKS = "worker_logs"
"""The state file's table of flush marks: how far into its log each worker's last flush reached."""
MARKS_SCHEMA = (f"CREATE TABLE IF NOT EXISTS {MARKS} (worker INTEGER PRIMARY KEY, generation INTEGER NOT NULL, "
                "offset INTEGER NOT NULL)")
_LENGTH = struct.Struct("<I")

Row = tuple[str, str]
Replayed = tuple[int, list[tuple[str, str, Any]]]
"""A record's stamp and its rows, `(table, key, document)` (None: the row was deleted)."""


def leftover_logs(state: Path) -> dict[int, list[tuple[int, Path]]]:
    """The log files beside `state`, by worker, each worker's generations oldest first."""
    found: dict[int, list[tuple[int, Path]]] = {}
    prefix = f"{state.name}.w"
    for log in state.parent.glob(f"{state.name}.w*.*.log"):
        worker, _, generation = log.name.removeprefix(prefix).removesuffix(".log").partition(".")
        if worker.isdigit() and generation.isdigit():
            found.setdefault(int(worker), []).append((int(generation), log))
    return {worker: sorted(logs) for worker, logs in found.items()}


def _frames(data: bytes) -> Iterator[tuple[int, memoryview]]:
    """Each whole record of a log's bytes: the offset just past it, and its payload."""
    view = memoryview(data)
    at = 0
    while at + 4 <= len(data):
        (size,) = _LENGTH.unpack_from(data, at)
        end = at + 4 + size
        if end > len(data):
            return  # cut short: its writer was killed inside the write, before any reply
        yield end, view[at + 4 : end]
        at = end


def unflushed(state: Path, marks: dict[int, tuple[int, int]],
              replay: Callable[[memoryview], Replayed | None]) -> dict[Row, Any]:
    """The rows of the logs beside `state` that the file may lack: each row's latest write past its writer's mark
    (`marks`: worker -> (generation, offset); none: the whole log), unless a later write of it was flushed. `replay`
    reads one record (the store class's own format); a record that holds no rows gives None."""
    flushed: dict[Row, int] = {}
    latest: dict[Row, tuple[int, Any]] = {}
    for worker, logs in leftover_logs(state).items():
        mark = marks.get(worker, (-1, 0))
        for generation, log in logs:
            for end, payload in _frames(log.read_bytes()):  # a generation is bounded (MAX_LOG_BYTES and one record)
                replayed = replay(payload)
                if replayed is None:
                    continue
                stamp, rows = replayed
                done = (generation, end) <= mark
                for table, key, value in rows:
                    row = (table, key)
                    if done:
                        if stamp > flushed.get(row, 0):
                            flushed[row] = stamp
                    elif row not in latest or stamp > latest[row][0]:
                        latest[row] = (stamp, value)
    return {row: value for row, (stamp, value) in latest.items() if stamp > flushed.get(row, 0)}
