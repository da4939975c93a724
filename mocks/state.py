"""Mock state: tables of JSON documents, in memory by default or in SQLite (WAL) so a training mock survives restarts.

A state file is checked as it is opened: a file that is not a SQLite database, a folder, a database of another
program or one that cannot be written is a `StateError` (one line, exit 2 from the CLI); a row whose document cannot
be read is left out and listed in `problems`, so the mock shows it rather than serving it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from harness.contract import jsonsafe
from harness.errors import UsageError

_ABSENT = object()
_T = TypeVar("_T")
TABLE = "docs"
DEFAULT_MAX_ROWS = 50_000
"""Rows a table that grows with traffic keeps in memory (`Store.bound`; `hih mock serve --max-rows`)."""


class Conflict(Exception):
    """Another process changed what this transaction read (`mocks.shared_state`): its writes were undone, and
    `Store.atomic` runs it again on the fresh state."""


class StateError(UsageError):
    """A state file that cannot be used: named, with why, in one line."""


@dataclass(frozen=True)
class StateProblem:
    """A stored row that is not served: its table and key, and what is wrong with it (in Chinese, for the console)."""

    table: str
    key: str
    reason: str


class _Bound:
    """A bounded table's limit, what makes its rows finished, and the keys of its finished rows, longest finished
    first: eviction pops from that index (O(1) a row) instead of looking through the table for a finished row.

    Kept exact by every write that goes through `Store` (`_index`); a row changed around it is checked again as it
    comes off the index, so a stale entry is skipped rather than evicting an open row."""

    __slots__ = ("done", "finished", "limit")

    def __init__(self, limit: int, finished: Callable[[Any], bool] | None) -> None:
        self.limit = limit
        self.finished = finished
        self.done: OrderedDict[str, None] = OrderedDict()


@dataclass(frozen=True)
class Tables:
    """A store's rows at one moment (`Store.tables`), table by table, for `Store.restore`: read-only."""

    rows: dict[str, dict[str, Any]]


def _copy(value: Any) -> Any:
    """A private copy of a JSON-ready document, so callers can change what they read without touching the store.

    A tuple comes back as a list, as from a store that keeps JSON: a hot path may store a document's fixed arrays as
    tuples (the collector stops walking a tuple of strings, where it walks a list on every full pass)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


class Store:
    """In-memory tables of JSON-ready documents.

    Reads return copies (`peek` returns the stored document, for callers that never change it), and `put` takes
    ownership of the value it is given (the caller must not change it
    afterwards), so only `put` and `delete` change the store. Writes inside `transaction()` are undone when the
    block raises, so a refused request leaves nothing behind.
    """

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._depth = 0
        self._undo: list[tuple[str, str | None, Any]] = []
        """What a rollback puts back, in order: (table, key, the row before) or ("", None, every table before)."""
        self.problems: list[StateProblem] = []
        """Rows read from a state file that could not be loaded."""
        self.revision = 0
        """Counts changes (writes, deletes, clears, rollbacks): a page that shows the state knows when to refresh."""
        self._bounds: dict[str, _Bound] = {}
        self.evicted: dict[str, int] = {}
        """Rows each bounded table has let go of since the start."""

    def bound(self, table: str, max_rows: int, finished: Callable[[Any], bool] | None = None) -> None:
        """Keep at most `max_rows` rows of `table` in memory, letting the oldest go first: the longest-finished ones
        (`finished(row)`; with None, the oldest rows); rows that never finish (visits nobody settles) are let go
        oldest first beyond twice the bound, once no finished row is left, so that no kind of traffic grows the mock
        without limit. Rows go after the transaction that added them commits (a rolled-back one restores them as
        they were). A commit's eviction costs O(rows it writes and lets go), however full the table."""
        if max_rows < 1:
            raise ValueError("a table keeps at least one row")
        with self._lock:
            self._bounds[table] = _Bound(max_rows, finished)
            self._reindex()

    def _reindex(self) -> None:
        """Rebuild every bounded table's index of finished rows from its rows (after rows were loaded or replaced
        wholesale): O(rows), once."""
        for table, bound in self._bounds.items():
            rows = self._tables.get(table)
            if rows is not None and type(rows) is not OrderedDict:
                rows = self._tables[table] = OrderedDict(rows)
            bound.done.clear()
            if rows and bound.finished is not None:
                finished = bound.finished
                bound.done.update((key, None) for key, value in rows.items() if finished(value))

    def _index(self, table: str, key: str, value: Any) -> None:
        """Note that `table`'s row `key` is now `value` (`_ABSENT`: gone) in its index of finished rows. A row that
        stays finished keeps its place; one that finishes goes to the back."""
        bound = self._bounds.get(table)
        if bound is None or bound.finished is None:
            return
        if value is not _ABSENT and bound.finished(value):
            if key not in bound.done:
                bound.done[key] = None
        else:
            bound.done.pop(key, None)

    def _evict(self) -> None:
        for table, bound in self._bounds.items():
            rows = self._tables.get(table)
            if rows is None or len(rows) <= bound.limit:
                continue
            if type(rows) is not OrderedDict:
                # a table replaced wholesale (clear, reload): an OrderedDict pops its oldest row in O(1), where a
                # dict walks past every slot its earlier deletions left at the front
                rows = self._tables[table] = OrderedDict(rows)
            before = len(rows)
            finished, done = bound.finished, bound.done
            if finished is None:
                while len(rows) > bound.limit:
                    key, _ = rows.popitem(last=False)
                    self._forgot(table, key)
            else:
                while len(rows) > bound.limit and done:
                    key, _ = done.popitem(last=False)
                    value = rows.get(key, _ABSENT)
                    if value is not _ABSENT and finished(value):
                        del rows[key]
                        self._forgot(table, key)
                while len(rows) > 2 * bound.limit:
                    key, _ = rows.popitem(last=False)
                    done.pop(key, None)
                    self._forgot(table, key)
            if len(rows) < before:
                self.evicted[table] = self.evicted.get(table, 0) + before - len(rows)

    def _rows(self, table: str) -> dict[str, Any]:
        """`table`'s rows, created when missing (an OrderedDict for a bounded table: see `_evict`)."""
        rows = self._tables.get(table)
        if rows is None:
            rows = self._tables[table] = OrderedDict() if table in self._bounds else {}
        return rows

    def _forgot(self, table: str, key: str) -> None:
        """A row left memory (SqliteStore: it stays in the file)."""

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

    def atomic(self, work: Callable[[], _T]) -> _T:
        """`work()` in one transaction; run again (up to 100 times) when the store reports a `Conflict` with a
        concurrent writer (only stores shared between processes do). `work` must change nothing but the store."""
        if type(self).transaction is Store.transaction:  # never conflicts: `transaction()` inline, no generator
            with self._lock:
                self._depth += 1
                try:
                    if self._depth == 1:
                        self._undo = []
                        self._begin()
                    try:
                        result = work()
                    except BaseException:
                        if self._depth == 1:
                            self._rollback()
                        raise
                    if self._depth == 1:
                        self._commit()
                    return result
                finally:
                    self._depth -= 1
        for _ in range(99):
            try:
                with self.transaction():
                    return work()
            except Conflict:
                continue
        with self.transaction():
            return work()

    async def atomic_soon(self, work: Callable[[], _T]) -> _T:
        """`atomic(work)` for a request being answered on an event loop: its result once its writes are committed.
        A store shared between serving processes commits the calls of one turn of the loop together
        (`mocks.shared_checked`); the others commit it at once."""
        return self.atomic(work)

    def atomic_later(self, work: Callable[[], _T]) -> asyncio.Future[_T]:
        """`atomic_soon` as a future of its result (or of the error `work` raised), for a caller on the event loop
        that chains callbacks rather than awaits in a task. Done at once here; a shared store's is done when its
        commit window commits."""
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        try:
            future.set_result(self.atomic(work))
        except Exception as exc:  # noqa: BLE001 - the request's refusal, given to whoever waits for the future
            future.set_exception(exc)
        return future

    def _begin(self) -> None:
        """Start of an outermost transaction (SQLite opens one)."""

    def _commit(self) -> None:
        self._undo = []
        if self._bounds:
            self._evict()

    def _rollback(self) -> None:
        self.revision += 1
        wholesale = False
        for table, key, old in reversed(self._undo):
            if key is None:  # the tables were replaced wholesale (`clear`, `restore`): these are what was there
                self._tables = old
                wholesale = True
                continue
            rows = self._rows(table)
            if old is _ABSENT:
                rows.pop(key, None)
            else:
                rows[key] = old
            if self._bounds:
                self._index(table, key, old)
        self._undo = []
        if wholesale:
            self._reindex()

    def _remember(self, table: str, key: str) -> None:
        if self._depth:
            self._undo.append((table, key, self._tables.get(table, {}).get(key, _ABSENT)))

    def get(self, table: str, key: str) -> Any:
        with self._lock:
            return _copy(self._tables.get(table, {}).get(key))

    def peek(self, table: str, key: str) -> Any:
        """The stored document itself, not a copy: read-only for the caller, who puts a new document to change it.

        The mocks' hot paths read this way (a settlement reads a visit with all its fees); a copy on every read was
        a tenth of a settlement's CPU."""
        return self._tables.get(table, {}).get(key)

    def put(self, table: str, key: str, value: Any) -> None:
        with self._lock:
            self._remember(table, key)
            self.revision += 1
            self._rows(table)[key] = value
            if table in self._bounds:
                self._index(table, key, value)
                if not self._depth:
                    self._evict()

    def delete(self, table: str, key: str) -> None:
        with self._lock:
            self._remember(table, key)
            self.revision += 1
            self._tables.get(table, {}).pop(key, None)
            if table in self._bounds:
                self._index(table, key, _ABSENT)

    def items(self, table: str) -> list[tuple[str, Any]]:
        with self._lock:
            return [(k, _copy(v)) for k, v in self._tables.get(table, {}).items()]

    def count(self, table: str) -> int:
        with self._lock:
            return len(self._tables.get(table, {}))

    def clear(self) -> None:
        with self._lock:
            self.problems = []
            self.revision += 1
            if self._depth:  # inside a transaction: a rollback puts the tables back, untouched since
                self._undo.append(("", None, self._tables))
            self._tables = {}
            self._reindex()

    def tables(self) -> Tables:
        """What the store holds, to give `restore` later: each table's rows copied, the documents shared (a stored
        document is never changed in place: `put` replaces it)."""
        with self._lock:
            return Tables({table: dict(rows) for table, rows in self._tables.items()})

    def restore(self, tables: Tables) -> None:
        """Hold exactly `tables` (from `tables()`), as `clear()` followed by a `put` of each row does, without a
        `put` per row: a mock resets to its seeded state this way between scenarios (the insurance ledger's 200
        balances, the blood centre's 243 bags, notices and samples: one dictionary copy a table, where each `put`
        cost ≈ 1 µs). The tables are copied, so `tables` itself stays as it was whatever is written afterwards;
        inside a transaction a rollback puts back the tables replaced."""
        cls = type(self)
        if cls.put is not Store.put or cls.clear is not Store.clear:
            # a store that writes through (a state file, other serving processes): row by row, as its writes go
            with self.transaction():
                self.clear()
                for table, rows in tables.rows.items():
                    for key, value in rows.items():
                        self.put(table, key, value)
            return
        with self._lock:
            if self._depth:
                self._undo.append(("", None, self._tables))
            self.problems = []
            self.revision += 1
            self._tables = {table: OrderedDict(rows) if table in self._bounds else dict(rows)
                            for table, rows in tables.rows.items()}
            self._reindex()
            if self._bounds and not self._depth:
                self._evict()

    def dump(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {t: _copy(rows) for t, rows in self._tables.items()}

    def close(self) -> None:
        """Nothing to release in memory."""


class SqliteStore(Store):
    """The same tables kept in a SQLite file in WAL mode; every write is committed before the mock answers.

    Reads are served from an in-memory copy loaded at start, so the file is only written, never re-read; rows that
    a bounded table let go of (`Store.bound`) stay in the file and are read from it when asked for.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._db = _open(path)
        try:
            rows = self._db.execute(f"SELECT tbl, key, value FROM {TABLE}").fetchall()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StateError(f"state file {path}: its table {TABLE!r} cannot be read ({exc})") from None
        for tbl, key, value in rows:
            try:
                data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
                self._tables.setdefault(str(tbl), {})[str(key)] = jsonsafe.loads(data)
            except (jsonsafe.JsonRefused, TypeError, ValueError) as exc:
                self.problems.append(StateProblem(str(tbl), str(key), f"记录无法读取（{exc}）"))

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._db.execute("COMMIT")
        super()._commit()

    def _rollback(self) -> None:
        self._db.execute("ROLLBACK")
        super()._rollback()

    def get(self, table: str, key: str) -> Any:
        value = super().get(table, key)
        return self._from_file(table, key) if value is None and self.evicted.get(table) else value

    def peek(self, table: str, key: str) -> Any:
        value = super().peek(table, key)
        return self._from_file(table, key) if value is None and self.evicted.get(table) else value

    def _from_file(self, table: str, key: str) -> Any:
        """A row of a bounded table that left memory: it is still in the file (read, not kept)."""
        with self._lock:
            row = self._db.execute(f"SELECT value FROM {TABLE} WHERE tbl = ? AND key = ?", (table, key)).fetchone()
        if row is None:
            return None
        try:
            return jsonsafe.loads(row[0].encode("utf-8") if isinstance(row[0], str) else bytes(row[0]))
        except (jsonsafe.JsonRefused, TypeError, ValueError):
            return None

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


def _open(path: Path) -> sqlite3.Connection:
    """Open (or create) a state file and check it is one of ours; StateError otherwise."""
    if path.is_dir():
        raise StateError(f"state file {path}: is a folder, not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"state file {path}: cannot create its folder ({exc.strerror or exc})") from None
    try:
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    except sqlite3.Error as exc:
        raise StateError(f"state file {path}: cannot open it ({exc})") from None
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and TABLE not in tables:
            raise StateError(f"state file {path}: a SQLite database of another program (no {TABLE!r} table); "
                             "give a new file or one hih wrote")
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (the OS keeps the WAL); only power loss can cost the tail.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (tbl TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
                   "PRIMARY KEY (tbl, key))")
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StateError(f"state file {path}: not a SQLite database hih can use ({exc})") from None
    except StateError:
        db.close()
        raise
    return db


def open_store(path: Path | None) -> Store:
    """A SQLite-backed store at `path`, or an in-memory one."""
    return SqliteStore(path) if path else Store()
