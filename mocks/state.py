"""Mock state: tables of JSON documents, in memory by default or in SQLite (WAL) so a training mock survives restarts."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_ABSENT = object()


def _copy(value: Any) -> Any:
    """A private copy of a JSON-ready document, so callers can change what they read without touching the store."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class Store:
    """In-memory tables of JSON-ready documents.

    Reads return copies, and `put` takes ownership of the value it is given (the caller must not change it
    afterwards), so only `put` and `delete` change the store. Writes inside `transaction()` are undone when the
    block raises, so a refused request leaves nothing behind.
    """

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._depth = 0
        self._undo: list[tuple[str, str, Any]] = []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._depth += 1
            if self._depth == 1:
                self._undo = []
                self._begin()
            try:
                yield
            except BaseException:
                if self._depth == 1:
                    self._rollback()
                raise
            else:
                if self._depth == 1:
                    self._commit()
            finally:
                self._depth -= 1

    def _begin(self) -> None:
        """Start of an outermost transaction (SQLite opens one)."""

    def _commit(self) -> None:
        self._undo = []

    def _rollback(self) -> None:
        for table, key, old in reversed(self._undo):
            rows = self._tables.setdefault(table, {})
            if old is _ABSENT:
                rows.pop(key, None)
            else:
                rows[key] = old
        self._undo = []

    def _remember(self, table: str, key: str) -> None:
        if self._depth:
            self._undo.append((table, key, self._tables.get(table, {}).get(key, _ABSENT)))

    def get(self, table: str, key: str) -> Any:
        with self._lock:
            return _copy(self._tables.get(table, {}).get(key))

    def put(self, table: str, key: str, value: Any) -> None:
        with self._lock:
            self._remember(table, key)
            self._tables.setdefault(table, {})[key] = value

    def delete(self, table: str, key: str) -> None:
        with self._lock:
            self._remember(table, key)
            self._tables.get(table, {}).pop(key, None)

    def items(self, table: str) -> list[tuple[str, Any]]:
        with self._lock:
            return [(k, _copy(v)) for k, v in self._tables.get(table, {}).items()]

    def count(self, table: str) -> int:
        with self._lock:
            return len(self._tables.get(table, {}))

    def clear(self) -> None:
        with self._lock:
            for table, rows in self._tables.items():
                for key in list(rows):
                    self._remember(table, key)
            self._tables.clear()

    def dump(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {t: _copy(rows) for t, rows in self._tables.items()}

    def close(self) -> None:
        """Nothing to release in memory."""


class SqliteStore(Store):
    """The same tables kept in a SQLite file in WAL mode; every write is committed before the mock answers.

    Reads are served from an in-memory copy loaded at start, so the file is only written, never re-read.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (the OS keeps the WAL); only power loss can cost the tail.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS docs (tbl TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (tbl, key))")
        for tbl, key, value in self._db.execute("SELECT tbl, key, value FROM docs"):
            self._tables.setdefault(tbl, {})[key] = json.loads(value)

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._db.execute("COMMIT")
        super()._commit()

    def _rollback(self) -> None:
        self._db.execute("ROLLBACK")
        super()._rollback()

    def put(self, table: str, key: str, value: Any) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO docs (tbl, key, value) VALUES (?, ?, ?)",
                (table, key, json.dumps(value, ensure_ascii=False, separators=(",", ":"))),
            )
            super().put(table, key, value)

    def delete(self, table: str, key: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM docs WHERE tbl = ? AND key = ?", (table, key))
            super().delete(table, key)

    def clear(self) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM docs")
            super().clear()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_store(path: Path | None) -> Store:
    """A SQLite-backed store at `path`, or an in-memory one."""
    return SqliteStore(path) if path else Store()
