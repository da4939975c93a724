"""State that several serving processes share (`hih mock serve --workers N`): the mock's tables read and written
through one SQLite file in WAL mode, and the signature nonces remembered there too.

Each request's reads and writes run in one `BEGIN IMMEDIATE` transaction, so the workers see one ledger: a visit
registered through one worker is settled through another, a msgid used on one is refused on the other. Nothing is
cached in a worker. The file is the same format as `--state`, so a state file can be served either way.
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
from mocks.state import TABLE, StateError, Store, _open

BUSY_WAIT_S = 0.0002
LOCK_TIMEOUT_S = 10.0


class WriterLock:
    """One writer at a time across the workers: an flock on `<state>.lock`, taken before SQLite's write lock.

    A worker waiting for it sleeps in the kernel and wakes the moment the other lets go; SQLite's busy handler
    instead polls after 1, 2, 5, 10 ms ..., so a worker would wait milliseconds for a lock held a tenth of that."""

    def __init__(self, state: Path) -> None:
        self._fd = os.open(f"{state}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._held = threading.Lock()

    def __enter__(self) -> None:
        self._held.acquire()
        fcntl.flock(self._fd, fcntl.LOCK_EX)

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


class SharedSqliteStore(Store):
    """The mock's tables in a SQLite file several processes use at once; every read goes to the file."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        super().__init__()
        self.path = path
        self.writer = WriterLock(path)
        self._db = _open(path)
        self._db.execute("PRAGMA busy_timeout=0")
        if not durable:  # a scratch file for one serving session: a crash loses it anyway
            self._db.execute("PRAGMA synchronous=OFF")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._depth += 1
            if self._depth == 1:
                self.writer.__enter__()
                try:
                    _begin(self._db)
                except BaseException:
                    self._depth -= 1
                    self.writer.__exit__()
                    raise
            try:
                yield
            except BaseException:
                if self._depth == 1:
                    self._db.execute("ROLLBACK")
                raise
            else:
                if self._depth == 1:
                    self._db.execute("COMMIT")
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.writer.__exit__()

    def _read(self, table: str, key: str) -> Any:
        row = self._db.execute(f"SELECT value FROM {TABLE} WHERE tbl = ? AND key = ?", (table, key)).fetchone()
        return None if row is None else _decode(row[0])

    def get(self, table: str, key: str) -> Any:
        with self._lock:
            return self._read(table, key)

    def peek(self, table: str, key: str) -> Any:
        with self._lock:
            return self._read(table, key)

    def put(self, table: str, key: str, value: Any) -> None:
        with self.transaction():
            self._db.execute(f"INSERT OR REPLACE INTO {TABLE} (tbl, key, value) VALUES (?, ?, ?)",
                             (table, key, orjson.dumps(value).decode("utf-8")))

    def delete(self, table: str, key: str) -> None:
        with self.transaction():
            self._db.execute(f"DELETE FROM {TABLE} WHERE tbl = ? AND key = ?", (table, key))

    def items(self, table: str) -> list[tuple[str, Any]]:
        with self._lock:
            rows = self._db.execute(f"SELECT key, value FROM {TABLE} WHERE tbl = ? ORDER BY rowid", (table,)).fetchall()
        return [(str(key), _decode(value)) for key, value in rows]

    def count(self, table: str) -> int:
        with self._lock:
            (n,) = self._db.execute(f"SELECT COUNT(*) FROM {TABLE} WHERE tbl = ?", (table,)).fetchone()
        return int(n)

    def clear(self) -> None:
        with self.transaction():
            self._db.execute(f"DELETE FROM {TABLE}")

    def dump(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(f"SELECT tbl, key, value FROM {TABLE} ORDER BY rowid").fetchall()
        out: dict[str, dict[str, Any]] = {}
        for tbl, key, value in rows:
            out.setdefault(str(tbl), {})[str(key)] = _decode(value)
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self.writer.close()


def _decode(value: str | bytes) -> Any:
    return jsonsafe.loads(value.encode("utf-8") if isinstance(value, str) else bytes(value))


class SharedNonces:
    """The TIF nonce window (`harness.contract.signing.NonceWindow`'s interface) kept in the shared SQLite file, so a
    request replayed to another worker is refused as one replayed to the same worker is."""

    def __init__(self, path: Path, capacity: int = 1_000_000) -> None:
        self.capacity = capacity
        self.writer = WriterLock(path)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=LOCK_TIMEOUT_S)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")  # nonces outlive no restart: the replay window is minutes
        self._db.execute("PRAGMA busy_timeout=0")
        self._db.execute("CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires INTEGER NOT NULL)")
        self._lock = threading.Lock()
        self._purged = 0.0
        self._count = 0
        """Nonces kept, as counted at the last purge (the capacity is a backstop, checked once a second)."""

    def __len__(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM nonces").fetchone()
        return int(n)

    def seen(self, nonce: str, now: float) -> bool:
        with self._lock:
            if now - self._purged > 1.0:  # forget expired nonces once a second
                self._purged = now
                with self.writer:
                    _begin(self._db)
                    try:
                        self._db.execute("DELETE FROM nonces WHERE expires < ?", (int(now),))
                    finally:
                        self._db.execute("COMMIT")
                (self._count,) = self._db.execute("SELECT COUNT(*) FROM nonces").fetchone()
            return self._db.execute("SELECT 1 FROM nonces WHERE nonce = ? AND expires >= ?",
                                    (nonce, int(now))).fetchone() is not None

    def full(self) -> bool:
        return self._count >= self.capacity

    def add(self, nonce: str, expires: int) -> None:
        with self._lock, self.writer:
            _begin(self._db)
            try:
                self._db.execute("INSERT OR REPLACE INTO nonces (nonce, expires) VALUES (?, ?)", (nonce, expires))
            finally:
                self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self.writer.close()
