"""State that the MLLP partners' serving processes share (`hih mock serve --interface lis --workers N`): each worker
appends what it writes to a log file of its own, and reads the others' logs where it last stopped.

Why not one shared SQLite file (`mocks.shared_state`): there every commit takes a lock across the processes and
reads back what the others logged, and with two workers that cost ≈ 90 µs of an order's ≈ 175 (bench/RESULTS.md,
"MLLP mocks: per-worker logs"). A mock LIS keeps orders and patients, whose rows one handler writes whole at a time,
and needs no transaction checked against the others' (the insurance ledger does). Here:

- A transaction runs on the worker's memory; at its end its writes are appended to the worker's own log in one
  `write` (one writer per file: no lock), before the transport answers the message. So an order placed through
  worker A is in A's log once A has answered it, and any later transaction of worker B reads it first.
- The start of a transaction (and every read outside one) reads what the other workers appended since (one `pread`
  per other worker, returning nothing when nothing came) and applies it to memory. Every worker holds every row,
  so reads (admin API, console, result pushes) are answered by any worker alone.
- A row written by two workers within the same moment ends the same everywhere: each transaction's record carries a
  stamp (microseconds since the epoch, then the worker's number, raised past the last stamp seen for its rows) and
  the highest stamp wins in every worker. A document is never None: None in a record is a deleted row.
- A log is bounded: past MAX_LOG_BYTES the worker starts the next generation file and ends the old one with a
  record naming it; the generation before is removed (a worker reads the others at least once a second: `sync`).
- With `--state` (durable) the rows also reach the state file's `docs` table (the `--state` format), written in
  one commit at most every DURABLE_FLUSH_S, off the order's path; each worker loads that table when it starts. A
  scratch state (no `--state`) has no SQLite file at all.
- A worker killed before its last flush loses nothing it answered: each flush marks how far into its log it reached,
  and the next start reads the logs left behind from there into the state file (`mocks.log_recovery`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from harness.contract import jsonsafe
from mocks.log_recovery import MARKS, MARKS_SCHEMA, Replayed, unflushed
from mocks.shared_state import _GONE, WriterLock, WriteSet, _begin
from mocks.state import _ABSENT, TABLE, StateProblem, _open

_T = TypeVar("_T")
_LENGTH = struct.Struct("<I")
READ_CHUNK = 1 << 16
"""Bytes asked of a log in one read, into a buffer the store keeps (`os.pread` would allocate the whole size for
each read, a transaction's start in every worker; above 128 KiB that is an mmap of its own: ≈ 23 µs a read with
1 MiB, against ≈ 1 µs)."""
STAMPS_KEPT = 200_000
"""Rows whose last stamp is remembered (older rows take any newer record: races last milliseconds)."""


def _document(value: str | bytes) -> Any:
    """A row of the state file (which a user gives: read with the depth and size guards)."""
    return jsonsafe.loads(value.encode("utf-8") if isinstance(value, str) else bytes(value))


def _write_rows(db: sqlite3.Connection, rows: Mapping[tuple[str, str], Any], gone: object) -> None:
    """`rows` into the state file's table, inside the caller's transaction: each value as its JSON, a row whose value
    is `gone` deleted."""
    db.executemany(f"INSERT OR REPLACE INTO {TABLE} (tbl, key, value) VALUES (?, ?, ?)",
                   [(t, k, orjson.dumps(v).decode("utf-8")) for (t, k), v in rows.items() if v is not gone])
    db.executemany(f"DELETE FROM {TABLE} WHERE tbl = ? AND key = ?", [row for row, v in rows.items() if v is gone])


def _read(fd: int, buffer: bytearray, offset: int) -> int:
    """Bytes of `fd` from `offset` read into `buffer` (at most its size): their count, 0 at the end."""
    if _PREADV is not None:
        return _PREADV(fd, [buffer], offset)
    chunk = os.pread(fd, len(buffer), offset)  # a system without preadv
    buffer[: len(chunk)] = chunk
    return len(chunk)


_PREADV = getattr(os, "preadv", None)


def log_path(state: Path, worker: int, generation: int) -> Path:
    """The log file of `worker`'s generation `generation`, beside the state file."""
    return state.with_name(f"{state.name}.w{worker}.{generation}.log")


@dataclass
class _Reader:
    """Where this worker stands in another worker's log."""

    worker: int
    generation: int
    fd: int
    offset: int = 0
    partial: bytes = b""


class WorkerLogStore(WriteSet):
    """The mock's tables in each worker's memory, kept in step through per-worker append-only logs (see the module's
    docstring)."""

    per_worker = True
    """`mocks.workers` passes `worker=(index, workers)` to a store class that says so."""
    MAX_LOG_BYTES = 32 << 20
    """Bytes of one log generation before the worker starts the next."""
    DURABLE_FLUSH_S = 0.2
    """Longest time a write waits before it reaches the `--state` file (a machine's crash loses at most that; a
    killed worker nothing: its log is read back at the next start)."""

    def __init__(self, path: Path, durable: bool = True, worker: tuple[int, int] = (0, 1)) -> None:
        super().__init__()
        self.path = path
        self.index, self.workers = worker
        self.durable = durable
        self._stamps: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._written: dict[tuple[str, str], Any] = {}
        self._pending: dict[tuple[str, str], Any] = {}
        self._flush_due = False
        self.recovered = 0
        """Rows a previous run's logs held that its workers had not written to the state file (`_recover`)."""
        self._marked = (0, 0)
        """Where in its log this worker's last flush reached (generation, offset): the state file holds what is before."""
        self._db = _open(path) if durable else None
        self.writer = WriterLock(path) if durable else None
        if self._db is not None:
            self._db.execute(MARKS_SCHEMA)
            if self.index == 0:
                self._recover()
            self._load()
        if self.index == 0:  # the first worker starts alone: a stopped run's logs go (read back above), each first is made
            for old in path.parent.glob(f"{path.name}.w*.log"):
                with contextlib.suppress(OSError):
                    old.unlink()
            for other in range(self.workers):
                os.close(os.open(log_path(path, other, 0), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        self._generation = 0
        self._out = os.open(log_path(path, self.index, 0), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._out_bytes = 0
        self._readers = [_Reader(other, 0, os.open(log_path(path, other, 0), os.O_RDONLY | os.O_CREAT, 0o600))
                         for other in range(self.workers) if other != self.index]
        self._buffer = bytearray(READ_CHUNK)
        self._view = memoryview(self._buffer)

    @classmethod
    def recover(cls, path: Path) -> None:
        """Before one process serves the state file `path` alone: the rows a previous run's workers logged and did
        not write to it (a worker killed) are written now, and their logs removed."""
        if any(path.parent.glob(f"{path.name}.w*.log")):
            cls(path).close()

    def _recover(self) -> None:
        """The first worker, alone, before it removes a previous run's logs: what they hold past each worker's flush
        mark goes to the state file (`mocks.log_recovery`), and the marks start again with the new logs."""
        assert self._db is not None and self.writer is not None
        marks = {int(w): (int(g), int(o)) for w, g, o in self._db.execute(f"SELECT worker, generation, offset FROM {MARKS}")}
        rows = unflushed(self.path, marks, self._replay)
        try:
            with self.writer:
                _begin(self._db)
                _write_rows(self._db, rows, None)
                self._db.execute(f"DELETE FROM {MARKS}")
                self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self.recovered = len(rows)

    def _replay(self, payload: memoryview) -> Replayed | None:
        """One record of a log as its stamp and rows, documents (None: deleted), for `_recover`; None for a record
        that holds no rows (the end of a generation)."""
        record = orjson.loads(payload)
        if type(record[0]) is str:
            return None
        return record[0], list(zip(record[1::3], record[2::3], record[3::3], strict=True))

    def _load(self) -> None:
        """The rows the state file holds (each worker at its start)."""
        assert self._db is not None
        for tbl, key, value in self._db.execute(f"SELECT tbl, key, value FROM {TABLE}").fetchall():
            try:
                self._tables.setdefault(str(tbl), {})[str(key)] = _document(value)
            except (jsonsafe.JsonRefused, TypeError, ValueError) as exc:
                self.problems.append(StateProblem(str(tbl), str(key), f"记录无法读取（{exc}）"))
        self._reindex()

    # -- reading the others ----------------------------------------------------------------------------------
    def _catch_up(self) -> None:
        """Apply what the other workers appended since this one last read (under the lock)."""
        applied = False
        buffer, view = self._buffer, self._view
        for reader in self._readers:
            got = _read(reader.fd, buffer, reader.offset)
            while got:
                reader.offset += got
                # the buffer is read again for the next chunk: what is kept of it (a record cut off) is copied
                data: bytes | memoryview = reader.partial + view[:got] if reader.partial else view[:got]
                at, end = 0, len(data)
                moved = -1
                while at + 4 <= end:
                    (size,) = _LENGTH.unpack_from(data, at)
                    if at + 4 + size > end:
                        break
                    moved = self._record(data[at + 4 : at + 4 + size])
                    at += 4 + size
                    if moved >= 0:  # the writer went on in its generation `moved`
                        break
                    applied = True
                if moved >= 0:
                    self._follow(reader, moved)
                elif got < READ_CHUNK:
                    reader.partial = bytes(data[at:])
                    break
                else:
                    reader.partial = bytes(data[at:])
                got = _read(reader.fd, buffer, reader.offset)
        if applied and self._bounds:
            self._evict()

    def _follow(self, reader: _Reader, generation: int) -> None:
        os.close(reader.fd)
        reader.generation, reader.offset, reader.partial = generation, 0, b""
        try:
            reader.fd = os.open(log_path(self.path, reader.worker, generation), os.O_RDONLY)
        except OSError:  # fell more than a generation behind (a worker stalled for seconds): read the newest
            newest = max((int(p.name.rsplit(".", 2)[-2]) for p in
                          self.path.parent.glob(f"{self.path.name}.w{reader.worker}.*.log")), default=generation)
            self.problems.append(StateProblem("*", f"worker {reader.worker + 1}",
                                              f"落后于第 {reader.worker + 1} 个进程的日志，部分记录未读到"))
            reader.generation = newest
            reader.fd = os.open(log_path(self.path, reader.worker, newest), os.O_RDONLY | os.O_CREAT, 0o600)

    def _record(self, payload: bytes | memoryview) -> int:
        """Apply one record of another worker's log; the generation it names when it is the end of a generation
        (`["next", N]`), else -1."""
        record = orjson.loads(payload)
        if type(record[0]) is str:
            return int(record[1])
        self._apply(record)
        return -1

    def _apply(self, record: list[Any]) -> None:
        """One transaction of another worker: `[stamp, table, key, value, table, key, value, ...]` (value None: the
        row was deleted)."""
        self._merge(record[0], zip(record[1::3], record[2::3], record[3::3], strict=True))

    def _merge(self, stamp: int, rows: Iterable[tuple[str, str, Any]]) -> None:
        """Another worker's writes of one transaction, `(table, key, value)` (None: deleted), stamped `stamp`: each
        row takes its value unless a later stamp wrote it."""
        stamps = self._stamps
        bounds = self._bounds
        tables = self._tables
        for tbl, key, value in rows:
            row = (tbl, key)
            if stamp < stamps.get(row, 0):
                continue  # this worker (or a third) wrote the row later
            stamps[row] = stamp
            if value is not None:
                kept = tables.get(tbl)
                if kept is None:
                    kept = self._rows(tbl)
                kept[key] = value
            else:
                value = _ABSENT
                tables.get(tbl, {}).pop(key, None)
            if bounds:
                self._index(tbl, key, value)
            if self._db is not None:
                self._pending.pop(row, None)  # the writer keeps it in the file
        while len(stamps) > STAMPS_KEPT:
            stamps.popitem(last=False)
        self.revision += 1

    def sync(self) -> None:
        """Read the other workers' logs now (each worker does at least once a second, so that none falls a log
        generation behind), and write what waits for the state file."""
        with self._lock:
            if not self._depth:
                self._catch_up()
            self.flush()

    # -- transactions -----------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._begin_work()
            done = False
            try:
                yield
                done = True
            finally:
                self._end(done)

    def atomic(self, work: Callable[[], _T]) -> _T:
        """`work()` in one transaction (never run again: nothing here conflicts), without a context manager."""
        with self._lock:
            if self._depth:
                return work()
            self._begin_work()
            done = False
            try:
                result = work()
                done = True
            finally:
                self._end(done)
            return result

    def _begin_work(self) -> None:
        self._depth = 1
        self._undo = []
        self._written = {}
        self._catch_up()

    def _end(self, done: bool) -> None:
        """The end of the outermost transaction: its writes logged when `done`, undone otherwise (and when they
        cannot be logged: memory never holds what the others will not read)."""
        written, self._written = self._written, {}
        try:
            if done and written:
                try:
                    self._append(written)
                except BaseException:
                    super()._rollback()
                    raise
            elif not done:
                super()._rollback()
            self._undo = []
            if done and written and self._bounds:
                self._evict()
        finally:
            self._depth = 0

    def _stamp(self, written: dict[tuple[str, str], Any]) -> int:
        """The stamp of a record of `written`: now (µs), past every stamp this worker saw of its rows, the worker's
        index in the low bits."""
        stamps = self._stamps
        known = 0
        for row in written:
            seen = stamps.get(row, 0)
            if seen > known:
                known = seen
        return (max(time.time_ns() // 1000, (known >> 6) + 1) << 6) | self.index

    def _append(self, written: dict[tuple[str, str], Any]) -> None:
        """Log `written` as one record in one write, stamped past every stamp this worker saw of its rows."""
        stamps = self._stamps
        stamp = self._stamp(written)
        for row in written:
            stamps[row] = stamp
        while len(stamps) > STAMPS_KEPT:
            stamps.popitem(last=False)
        self._write(self._encode(stamp, written))
        if self._db is not None:
            self._pending.update(written)
            self._schedule()

    def _encode(self, stamp: int, written: dict[tuple[str, str], Any]) -> bytes:
        """One transaction's record as the log holds it, its length in front: `[stamp, table, key, value, ...]`."""
        record: list[Any] = [stamp]
        for row, value in written.items():
            record += (row[0], row[1], None if value is _GONE else value)
        data = orjson.dumps(record)
        return _LENGTH.pack(len(data)) + data

    def _write(self, data: bytes) -> None:
        done = os.write(self._out, data)
        if done < len(data):  # a regular file takes it whole, but a short write must not lose the rest
            view = memoryview(data)[done:]
            while view:
                view = view[os.write(self._out, view):]
        self._out_bytes += len(data)
        if self._out_bytes > self.MAX_LOG_BYTES:
            self._rotate()

    def _rotate(self) -> None:
        """Go on in the next generation file; the old one ends with a record naming it, the one before goes."""
        following = self._generation + 1
        fd = os.open(log_path(self.path, self.index, following), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND,
                     0o600)
        marker = orjson.dumps(["next", following])
        os.write(self._out, _LENGTH.pack(len(marker)) + marker)
        os.close(self._out)
        with contextlib.suppress(OSError):
            log_path(self.path, self.index, self._generation - 1).unlink()
        self._out, self._out_bytes, self._generation = fd, 0, following

    # -- the state file ---------------------------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._flush_due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_due = True
        loop.call_later(self.DURABLE_FLUSH_S, self.flush)

    def flush(self) -> None:
        """Write the rows that changed here into the state file, in one commit (durable state only). What the others
        logged is read first: a row another worker wrote later is theirs to write, not this worker's older value."""
        with self._lock:
            self._flush_due = False
            mark = (self._generation, self._out_bytes)
            if self._db is None or self.writer is None or (not self._pending and mark == self._marked):
                return
            if not self._depth:
                self._catch_up()
            pending, self._pending = self._pending, {}
            try:
                with self.writer:
                    _begin(self._db)
                    _write_rows(self._db, pending, _GONE)
                    # what this worker logged before `mark` is in the file now (or another worker's later write is
                    # theirs to write): a start after a kill reads its log from here (`_recover`)
                    self._db.execute(f"INSERT OR REPLACE INTO {MARKS} (worker, generation, offset) VALUES (?, ?, ?)",
                                     (self.index, *mark))
                    self._db.execute("COMMIT")
            except BaseException:  # a lock that stayed held (a stopped worker) too: the rows wait for the next flush
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._pending = {**pending, **self._pending}
                raise
            self._marked = mark

    def _from_file(self, table: str, key: str) -> Any:
        """A row memory let go of (`Store.bound`): with a state file, it is still there."""
        if self._db is None:
            return None
        self.flush()
        row = self._db.execute(f"SELECT value FROM {TABLE} WHERE tbl = ? AND key = ?", (table, key)).fetchone()
        try:
            return None if row is None else _document(row[0])
        except (jsonsafe.JsonRefused, TypeError, ValueError):
            return None

    # -- reading and writing ----------------------------------------------------------------------------------
    def get(self, table: str, key: str) -> Any:
        with self._lock:
            if not self._depth:
                self._catch_up()
            value = super().get(table, key)
            return self._from_file(table, key) if value is None and self.evicted.get(table) else value

    def peek(self, table: str, key: str) -> Any:
        if not self._depth:
            return self.get(table, key)
        value = self._tables.get(table, {}).get(key)
        return self._from_file(table, key) if value is None and self.evicted.get(table) else value

    def items(self, table: str) -> list[tuple[str, Any]]:
        with self._lock:
            if not self._depth:
                self._catch_up()
            return super().items(table)

    def count(self, table: str) -> int:
        with self._lock:
            if not self._depth:
                self._catch_up()
            return super().count(table)

    def dump(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if not self._depth:
                self._catch_up()
            return super().dump()

    def close(self) -> None:
        """Write what waits for the state file; close (and remove) this worker's log."""
        with self._lock:
            self.flush()
            for reader in self._readers:
                with contextlib.suppress(OSError):
                    os.close(reader.fd)
            self._readers = []
            with contextlib.suppress(OSError):
                os.close(self._out)
            for generation in (self._generation - 1, self._generation):
                with contextlib.suppress(OSError):
                    log_path(self.path, self.index, generation).unlink()
            if self._db is not None:
                self._db.close()
            if self.writer is not None:
                self.writer.close()
