"""State that several serving processes share (`hih mock serve --workers N`): each worker's tables kept in step
through one SQLite file (WAL), for the mocks whose transactions are checked against the others' (the SOAP partners,
`mocks.shared_checked`; the insurance ledger and the LIS keep per-worker logs: `mocks.insurance_store`,
`mocks.shared_logs`).

The workers see one set of rows: what one worker committed the next transaction of another reads, and a transaction
that read a row another worker changed meanwhile is run again on the fresh state. The file holds the rows in the
`--state` format, so a state file can be served either way.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from harness.contract import jsonsafe
from mocks.state import _ABSENT, TABLE, Conflict, StateError, Store, _open

BUSY_WAIT_S = 0.0002
LOCK_TIMEOUT_S = 10.0
"""Longest wait for the shared state's locks: SQLite's busy wait (`_begin`), and the writer lock before it
(`WriterLock`), which has the same bound: past it, a worker stopped while holding the lock (SIGSTOP, a debugger)
turns the request into the interface's error reply (`StateError`) instead of hanging every other worker."""
LOCK_POLL_S = (0.00005, 0.001)
"""The writer lock's wait between two attempts while another process holds it: the first, doubled up to the last."""


class WriterLock:
    """One writer at a time across the workers: an flock on `<state>.lock`, taken before SQLite's write lock.

    Taken without blocking (`LOCK_NB`) and, while another process holds it, tried again after 50 µs, 100 µs ... up to
    1 ms between attempts, for at most LOCK_TIMEOUT_S: a blocking flock has no timeout, and one worker stopped while
    holding it would hang the others for ever. A lock held for a commit (tens of microseconds) is had at the second
    or third attempt; SQLite's busy handler instead sleeps 1, 2, 5, 10 ms ... between attempts."""

    def __init__(self, state: Path) -> None:
        self.path = Path(f"{state}.lock")
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        self._held = threading.Lock()

    def __enter__(self) -> None:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        if not self._held.acquire(timeout=LOCK_TIMEOUT_S):  # another thread of this worker waits, or writes
            raise self._refused()
        try:
            self._take(deadline)
        except BaseException:
            self._held.release()
            raise

    def _take(self, deadline: float) -> None:
        pause, longest = LOCK_POLL_S
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._refused()
            time.sleep(min(pause, left))
            pause = min(pause * 2, longest)

    def _refused(self) -> StateError:
        return StateError(f"the shared state's writer lock ({self.path.name}) stayed held for {LOCK_TIMEOUT_S:g} s: "
                          "another worker is stopped or stuck while writing")

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._held.release()

    def close(self) -> None:
        os.close(self._fd)


def _begin(db: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE; under the writer lock it succeeds at once unless a process outside hih holds the file, which
    is waited for in steps of 0.2 ms."""
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise StateError(f"the shared state stayed locked for {LOCK_TIMEOUT_S:g} s") from None
            time.sleep(BUSY_WAIT_S)


class WriteSet(Store):
    """The writes of a store that keeps each transaction's write set (`_written`, `_GONE` for a deletion) and logs it
    when the transaction ends (`SharedSqliteStore`, `mocks.shared_logs.WorkerLogStore`)."""

    _written: dict[tuple[str, str], Any]

    def put(self, table: str, key: str, value: Any) -> None:
        if not self._depth:
            with self.transaction():
                self.put(table, key, value)
            return
        self._remember(table, key)  # inside a transaction already: no context manager per write
        self.revision += 1
        self._rows(table)[key] = value
        self._written[(table, key)] = value
        if self._bounds:
            self._index(table, key, value)

    def delete(self, table: str, key: str) -> None:
        if not self._depth:
            with self.transaction():
                self.delete(table, key)
            return
        self._remember(table, key)
        self.revision += 1
        self._tables.get(table, {}).pop(key, None)
        self._written[(table, key)] = _GONE
        if self._bounds:
            self._index(table, key, _ABSENT)

    def clear(self) -> None:
        with self.transaction():
            for table, rows in self._tables.items():
                for key in list(rows):
                    self._remember(table, key)
                    self._written[(table, key)] = _GONE
                rows.clear()
            self.revision += 1
            self._reindex()
            self.problems = []


class SharedSqliteStore(WriteSet):
    """The mock's tables in memory in each worker, kept in step through a shared SQLite file.

    Every committed change is appended to the file's `log`, which is folded into `docs` (the `--state` format) every
    FOLD_EVERY rows: a commit writes one log page, not the pages of every row it changed. A transaction first applies what the other workers logged since, then runs on memory, recording what it read;
    its commit takes the writer lock, applies what was logged meanwhile and, when that touched anything the
    transaction read, undoes it and raises `Conflict` (`Store.atomic` runs it again); otherwise it logs its
    writes. Reads cost a dictionary lookup and only the commit is serialised, so two workers run their requests
    side by side and still keep one ledger: two settlements of one patient's account cannot both pass.
    """

    FOLD_EVERY = 2_000
    """Log rows between two folds of the log into `docs`."""
    KEEP_LOG = 200_000
    """Log rows kept behind the last fold, for a worker that fell behind (further behind, it reloads); the last row
    always stays: it numbers the next."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        super().__init__()
        self.path = path
        self.writer = WriterLock(path)
        self._db = _open(path)
        self._db.execute("PRAGMA busy_timeout=0")
        if not durable:  # a scratch file for one serving session: a crash loses it anyway
            self._db.execute("PRAGMA synchronous=OFF")
        # seq without AUTOINCREMENT: the next is the largest + 1, which stays in the log (`_fold` never drops it), so
        # it never goes back; AUTOINCREMENT would write its sqlite_sequence page on every commit besides
        self._db.execute("CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, "
                         "key TEXT NOT NULL, value TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        self._seen = 0
        self._read: set[tuple[str, str | None]] = set()
        self._written: dict[tuple[str, str], Any] = {}
        self.conflicts = 0
        """Transactions run again because another worker changed what they read."""
        self._reload()

    # -- keeping in step ----------------------------------------------------------------------------------
    def _reload(self) -> None:
        """Every row: `docs` as last folded, then the log since (the log position they stand for)."""
        self._db.execute("BEGIN")
        try:
            rows = self._db.execute(f"SELECT tbl, key, value FROM {TABLE}").fetchall()
            folded = self._folded()
            logged = self._db.execute(LOG_SINCE, (folded,)).fetchall()
        finally:
            self._db.execute("COMMIT")
        self._tables = {}
        for tbl, key, value in rows:
            self._tables.setdefault(str(tbl), {})[str(key)] = _decode(value)
        self._reindex()
        self._seen = folded
        self._apply([(int(seq), str(t), str(k), None if v is None else Logged(v)) for seq, t, k, v in logged])

    def _folded(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE name = 'folded'").fetchone()
        return int(row[0]) if row else 0

    def _fold(self, upto: int) -> None:
        """Bring `docs` up to log position `upto` (the latest write of each row since the last fold, in one go: a
        few pages for thousands of rows), then drop the log rows older than KEEP_LOG. Under the writer lock."""
        # in SQLite alone: the rows' text never becomes Python strings
        latest = "SELECT MAX(seq) FROM log WHERE seq > ? AND seq <= ? GROUP BY tbl, key"
        span = (self._folded(), upto)
        self._db.execute(f"INSERT OR REPLACE INTO {TABLE} (tbl, key, value) SELECT tbl, key, value FROM log "
                         f"WHERE seq IN ({latest}) AND value IS NOT NULL", span)
        self._db.execute(f"DELETE FROM {TABLE} WHERE (tbl, key) IN (SELECT tbl, key FROM log WHERE seq IN ({latest}) "
                         "AND value IS NULL)", span)
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('folded', ?)", (upto,))
        self._db.execute("DELETE FROM log WHERE seq <= ?", (min(upto - self.KEEP_LOG, upto - 1),))  # the last stays

    def _logged(self) -> list[tuple[int, str, str, Any]]:
        """What the others logged since this worker last looked (a full reload when the log was trimmed past it)."""
        rows = self._db.execute(LOG_SINCE, (self._seen,)).fetchall()
        if rows and rows[0][0] != self._seen + 1:
            self._reload()
            return []
        return [(int(seq), str(tbl), str(key), None if value is None else Logged(value)) for seq, tbl, key, value in rows]

    def _apply(self, rows: list[tuple[int, str, str, Any]], skip: dict[tuple[str, str], Any] | None = None) -> None:
        for seq, tbl, key, value in rows:
            if skip is None or (tbl, key) not in skip:
                table = self._rows(tbl)
                if value is None:
                    table.pop(key, None)
                else:
                    if type(value) is Logged and tbl in self._bounds:  # its table's index judges the document
                        value = _from_log(value)
                    table[key] = value
                if self._bounds:
                    self._index(tbl, key, _ABSENT if value is None else value)
            self._seen = seq

    def _realised(self, table: str, key: str) -> Any:
        """`table`'s row `key` as a document (None: no such row), a row kept as its log bytes decoded now and kept
        decoded."""
        rows = self._tables.get(table)
        if rows is None:
            return None
        value = rows.get(key)
        if type(value) is Logged:
            value = rows[key] = _from_log(value)  # an existing key: its place in the table is kept
        return value

    def _realise(self, table: str | None = None) -> None:
        """Decode every row of `table` (None: of every table) still kept as its log bytes."""
        for name, rows in self._tables.items():
            if table is None or name == table:
                for key, value in rows.items():
                    if type(value) is Logged:
                        rows[key] = _from_log(value)

    def _reindex(self) -> None:
        for table in self._bounds:  # the index judges documents
            self._realise(table)
        super()._reindex()

    # -- transactions -------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._depth += 1
            if self._depth == 1:
                self._undo, self._read, self._written = [], set(), {}
                self._catch_up()
            try:
                yield
            except BaseException:
                if self._depth == 1:
                    super()._rollback()
                raise
            else:
                if self._depth == 1 and self._written:
                    self._publish()
            finally:
                self._depth -= 1

    def _catch_up(self) -> None:
        """At the start of a transaction: apply what the other workers logged since."""
        self._apply(self._logged())

    def _publish(self) -> None:
        try:
            with self.writer:
                _begin(self._db)
                meanwhile = self._meanwhile()
                if any((tbl, key) in self._read or (tbl, None) in self._read for _, tbl, key, _ in meanwhile):
                    self._db.execute("ROLLBACK")
                    super()._rollback()
                    self._apply(meanwhile)
                    self.conflicts += 1
                    raise Conflict("another worker changed what this transaction read")
                self._apply(meanwhile, skip=self._written)
                self._log(self._written)
        except Conflict:
            raise
        except BaseException:  # a lock that stayed held (a stopped worker) too: memory keeps no write the others miss
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            super()._rollback()
            raise
        self._undo = []
        if self._bounds:
            self._evict()

    def _meanwhile(self) -> list[tuple[int, str, str, Any]]:
        """Under the writer lock, in the write transaction: what the others logged since this worker last looked."""
        return self._logged()

    def _log(self, written: dict[tuple[str, str], Any]) -> None:
        """Log `written` and commit: under the writer lock and caught up, this worker's rows take the next
        sequence numbers."""
        # orjson's UTF-8 bytes stored as the TEXT they are: no Python string made and encoded again for SQLite
        rows = [(tbl, key, None if value is _GONE else orjson.dumps(value)) for (tbl, key), value in written.items()]
        self._db.executemany("INSERT INTO log (tbl, key, value) VALUES (?, ?, CAST(? AS TEXT))", rows)
        last = self._seen + len(rows)
        if last // self.FOLD_EVERY != self._seen // self.FOLD_EVERY:
            self._fold(last)
        self._db.execute("COMMIT")
        self._seen = last

    # -- reading and writing ------------------------------------------------------------------------------
    def _note(self, table: str, key: str | None) -> None:
        if self._depth:
            self._read.add((table, key))

    def get(self, table: str, key: str) -> Any:
        with self.transaction():
            self._note(table, key)
            self._realised(table, key)
            value = super().get(table, key)
            return self._from_file(table, key) if value is None and self.evicted.get(table) else value

    def peek(self, table: str, key: str) -> Any:
        if not self._depth:
            return self.get(table, key)
        self._read.add((table, key))
        value = self._realised(table, key)
        return self._from_file(table, key) if value is None and self.evicted.get(table) else value

    def _from_file(self, table: str, key: str) -> Any:
        """A row memory let go of (`Store.bound`): it is still in the file, as its latest write in the log since the
        last fold (at most FOLD_EVERY rows, read by sequence number) or else as folded into `docs`."""
        row = self._db.execute("SELECT CAST(value AS BLOB) FROM log WHERE seq > ? AND tbl = ? AND key = ? "
                               "ORDER BY seq DESC LIMIT 1", (self._folded(), table, key)).fetchone()
        if row is not None:
            return None if row[0] is None else _from_log(row[0])
        row = self._db.execute(f"SELECT value FROM {TABLE} WHERE tbl = ? AND key = ?", (table, key)).fetchone()
        return None if row is None else _decode(row[0])

    def items(self, table: str) -> list[tuple[str, Any]]:
        with self.transaction():
            self._note(table, None)
            self._realise(table)
            return super().items(table)

    def count(self, table: str) -> int:
        with self.transaction():
            self._note(table, None)
            return super().count(table)

    def dump(self) -> dict[str, dict[str, Any]]:
        with self.transaction():
            self._realise()
            return super().dump()

    @classmethod
    def recover(cls, path: Path) -> None:
        """Before one process serves the state file `path` alone: a log a previous run's workers left unfolded (a
        worker killed) is folded into `docs`, which is all such a process reads."""
        if not path.is_file():
            return
        db = _open(path)
        try:
            logged = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log'").fetchone()
        finally:
            db.close()
        if logged:
            cls(path).close()

    def close(self) -> None:
        """Fold the whole log into `docs` (a file then served by one process reads every row), then close."""
        with self._lock:
            try:
                self._fold_all()
            finally:
                self._db.close()
                self.writer.close()

    def _fold_all(self) -> None:
        with self.writer:
            _begin(self._db)
            try:
                (last,) = self._db.execute("SELECT MAX(seq) FROM log").fetchone()
                if last is not None and last > self._folded():
                    self._fold(int(last))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise


_GONE = object()
"""A deletion in the write set."""


class Logged(bytes):
    """A row another worker logged, kept as the bytes of its JSON until something reads it (`_realised`).

    Why: each maternal-child upload logs a record of about 1 KB that the other worker applies on catching up; most
    are never read there (only a query, a withdrawal or a view of that record reads it), so decoding each one into
    dicts and strings was work for nothing on every call. A `bytes` object is not walked by the collector either."""

    __slots__ = ()


LOG_SINCE = "SELECT seq, tbl, key, CAST(value AS BLOB) FROM log WHERE seq > ? ORDER BY seq"
"""The log's rows after a sequence number, oldest first, each value as the UTF-8 bytes of its JSON (NULL: deleted)."""


def _decode(value: str | bytes) -> Any:
    """A row of `docs` (the `--state` format, which another program may have written): bounded JSON parsing."""
    return jsonsafe.loads(value.encode("utf-8") if isinstance(value, str) else bytes(value))


def _from_log(value: bytes) -> Any:
    """A row of the log, which only `SharedSqliteStore._log` writes (orjson's encoding of a document): read back by
    the same library without `jsonsafe`'s bounds, which orjson's output always keeps (no depth past orjson's own
    limit, no integer past 64 bits, no NaN): for a record of 1 KB, about half the instructions of `_decode`."""
    return orjson.loads(memoryview(value))  # orjson takes no subclass of bytes (`Logged`): a view, not a copy
