"""State that the SOAP partners' serving processes share (`hih mock serve --interface blood-center --workers N`, the
same for mch-platform): every change committed before the answer goes out, reads caught up only when another
worker wrote.

The blood centre and the maternal-child platform answer from rules over what they hold: an order number used with
other content is refused, a unit issued once is not issued again, a record number uploaded twice is a duplicate.
So each transaction commits under the writer lock and is run again when another worker changed what it read
(`SharedSqliteStore`), unlike the LIS workers' own logs (`mocks.shared_logs`), where the later write simply wins.
What this store adds is the cost of a read: `SharedSqliteStore` asks the log for rows at the start of every
transaction, a query even when nothing changed; here the start of a transaction reads two commit counters the
workers keep in the lock file beside the state (`<state>.lock`, mapped into memory: a read of 16 bytes, no SQLite
statement) and queries the log only when they say another worker committed. Most SOAP calls read (feedback, issue
notes, upload results, the session of every call), so that query, and before the counters a `PRAGMA data_version`
per transaction start and per commit, was a share of each.

The counters are a sequence lock: a committing worker, holding the writer lock, counts `started` up before its
COMMIT and sets `done` to it after. A reader that finds them equal and at the value it last caught up to has seen
every commit; any commit that finished since moved `done`, one under way (or a worker killed between its COMMIT and
its `done`) leaves them unequal, and the log is queried (by sequence number: nothing missed, nothing twice).

`revision` counts the other workers' changes too, so a console served by one worker refreshes when another worker
answered the hospital.

The commit window (`atomic_soon`): a request answered on the event loop runs its transaction at once on memory, but
its writes are committed together with those of the other requests of the same turn of the loop, and of the turns
after it while each brings the window another request (at most `WINDOW_TURNS`), in one SQLite transaction under one
writer lock, and its result is handed back only after that commit: no reply goes out before
its writes are in the shared file. What the requests of a window read they read as the worker's serial order has it
(a later request sees an earlier one's writes, as if each had committed). A transaction outside the window (the
console, a scenario's check, a write not on the hot path) first commits the window, and so does a read of a row the
window wrote: nothing uncommitted is shown. When another worker changed a row a request of the window read, the
window's writes are undone and each of its requests is run again on the fresh state through `atomic` (committed one
by one, retried as any transaction); its answer is the one from that run. A window holds at most `WINDOW_MAX`
requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mocks.shared_state import LOG_SINCE, Logged, SharedSqliteStore, _begin
from mocks.state import Store, _copy

_INSIDE = contextlib.nullcontext()
_ASK = object()
"""`_outside`: the read is left to a transaction."""
_COUNTERS = 16
"""Bytes of the lock file the counters take: `started` then `done`, 8 bytes each, little-endian."""
_T = TypeVar("_T")
WINDOW_MAX = 64
"""Requests whose writes one commit of the window takes at most (more in one turn of the loop: the window commits
and a new one opens)."""
WINDOW_TURNS = 4
"""Turns of the loop a window's commit is put off by at most while each turn brings it more requests."""


class CommitCounters:
    """The workers' commit counters in `<state>.lock` (the writer lock's file: flock ignores its content)."""

    def __init__(self, state: Path) -> None:
        fd = os.open(f"{state}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _COUNTERS:
                os.ftruncate(fd, _COUNTERS)  # zeros; two workers extending it at once write the same
            self._map = mmap.mmap(fd, _COUNTERS)
        finally:
            os.close(fd)  # the mapping keeps the file

    def settled(self) -> int | None:
        """`done` when no commit is under way (started == done), else None."""
        both = self._map[:_COUNTERS]
        done = int.from_bytes(both[8:], "little")
        return done if int.from_bytes(both[:8], "little") == done else None

    def start(self) -> int:
        """Before a COMMIT, under the writer lock: `started` counted up; the count this commit stands for."""
        count = max(int.from_bytes(self._map[:8], "little"), int.from_bytes(self._map[8:16], "little")) + 1
        self._map[:8] = count.to_bytes(8, "little")
        return count

    def finish(self, count: int) -> None:
        """After the COMMIT, still under the writer lock: `done` set to the count `start` gave."""
        self._map[8:16] = count.to_bytes(8, "little")

    def close(self) -> None:
        self._map.close()


@dataclass
class _Member:
    """One request's transaction in the commit window: run on memory, waiting for the window's commit."""

    work: Callable[[], Any]
    future: asyncio.Future[Any]
    read: set[tuple[str, str | None]]
    written: dict[tuple[str, str], Any]
    undo: list[tuple[str, str | None, Any]]
    result: Any = None
    error: BaseException | None = None


@dataclass
class _Window:
    """The requests of one turn of the event loop whose writes are committed together."""

    loop: asyncio.AbstractEventLoop
    thread: int
    members: list[_Member] = field(default_factory=list)
    written: dict[tuple[str, str], Any] = field(default_factory=dict)
    """Every member's writes, the latest value of each row."""
    read: set[tuple[str, str | None]] = field(default_factory=set)
    stale: bool = False
    """Another worker's commit, caught up while the window was open, changed a row a member read."""
    deferred: list[tuple[int, str, str, Any]] = field(default_factory=list)
    """Rows another worker logged for rows the window wrote, held back from memory while the window is open."""
    turns: int = 0
    """Turns of the loop its commit was put off by because requests joined it in the turn before."""


class CheckedSharedStore(SharedSqliteStore):
    """A `SharedSqliteStore` that looks at the log only when another process committed, and commits the requests of
    one turn of the event loop together (`atomic_soon`; see the module)."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self._changes = 0
        self._counters = CommitCounters(path)
        self._version: int | None = self._counters.settled()  # read before the load: a commit after it is noticed
        self._window: _Window | None = None
        self._joining = False
        self.windows = 0
        """Commits of the window (each one SQLite transaction for all its requests)."""
        self.windowed = 0
        """Requests committed through the window."""
        super().__init__(path, durable)

    def transaction(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        """As `SharedSqliteStore.transaction`; inside one already held by this thread (a read within a call's
        transaction: several a call), nothing to do, so no generator and no lock round trip for it."""
        if self._depth and self._lock._is_owned():  # type: ignore[attr-defined]
            return _INSIDE
        return super().transaction()

    # -- the commit window ------------------------------------------------------------------------------------
    async def atomic_soon(self, work: Callable[[], _T]) -> _T:
        """`atomic(work)`, committed with the other requests of this turn of the loop; its result after the commit
        (or the error it raised, once the commit shows it stands)."""
        return await self.atomic_later(work)

    def atomic_later(self, work: Callable[[], _T]) -> asyncio.Future[_T]:
        """`atomic_soon` as the future the window's commit settles (no coroutine, no task: a caller chains a
        callback to it)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._depth:
                return super().atomic_later(work)  # inside a transaction already: part of it
            window = self._window
            if window is not None and (window.loop is not loop or len(window.members) >= WINDOW_MAX):
                self._commit_window()
                window = None
            if window is None:
                window = self._window = _Window(loop, threading.get_ident())
                loop.call_soon(self._commit_quiet, window, 0)
            member = self._join(window, work, loop.create_future())
        future: asyncio.Future[_T] = member.future
        return future

    def _join(self, window: _Window, work: Callable[[], Any], future: asyncio.Future[Any]) -> _Member:
        """Run `work` as the window's next member: on memory, its reads and writes kept for the window's commit."""
        self._depth += 1
        self._undo, self._read, self._written = [], set(), {}
        self._joining = True
        try:
            self._catch_up()
            member = _Member(work, future, self._read, self._written, self._undo)
            try:
                member.result = work()
            except Exception as exc:  # noqa: BLE001 - the request's refusal: given to it once the window commits
                Store._rollback(self)
                member.error, member.written = exc, {}
            except BaseException:
                Store._rollback(self)
                raise
        finally:
            self._joining = False
            self._depth -= 1
            self._undo, self._read, self._written = [], set(), {}
        window = self._window or window  # a catch-up past a trimmed log committed the window and opened none
        if self._window is None:
            window = self._window = _Window(window.loop, window.thread)
            window.loop.call_soon(self._commit_quiet, window, 0)
        window.members.append(member)
        window.written.update(member.written)
        window.read |= member.read
        return member

    def _catch_up_open(self, window: _Window) -> None:
        """Catch up while the window is open: other workers' rows applied, except those of rows the window wrote
        (held back: the window's commit decides); a row a member read marks the window stale."""
        rows = self._db.execute(LOG_SINCE, (self._seen,)).fetchall()
        if rows and rows[0][0] != self._seen + 1:  # trimmed past this worker: commit the window, then reload
            self._version = None
            self._commit_window()
            super()._catch_up()
            return
        for seq, tbl, key, value in rows:
            row = (int(seq), str(tbl), str(key), None if value is None else Logged(value))
            if (row[1], row[2]) in window.read or (row[1], None) in window.read:
                window.stale = True
            if (row[1], row[2]) in window.written:
                window.deferred.append(row)
                self._seen = row[0]
                self._changes += 1
            else:
                self._apply([row])

    def _commit_quiet(self, window: _Window, had: int) -> None:
        """Commit `window` at the end of a turn of the loop that added no request to it (`had`: its requests at the
        end of the turn before), or after WINDOW_TURNS turns: requests that came while its first ones were answered
        share its commit instead of each turn committing its one or two. Nothing when it is no longer open (a read
        of a row it wrote, a transaction outside it, or a full window committed it)."""
        with self._lock:
            if self._window is not window:
                return
            if len(window.members) > had and window.turns < WINDOW_TURNS:
                window.turns += 1
                window.loop.call_soon(self._commit_quiet, window, len(window.members))
                return
            self._commit_window()

    def _commit_window(self) -> None:
        """Commit the open window (nothing when none is open) and hand each member its outcome."""
        with self._lock:
            window = self._window
            if window is None:
                return
            self._window = None
            depth, state = self._depth, (self._undo, self._read, self._written)
            self._depth = 0  # a transaction that found the window open at its start: resumed after
            try:
                outcomes = self._commit_members(window)
            except BaseException as exc:
                self._undo = [u for m in window.members for u in m.undo]
                Store._rollback(self)
                outcomes = [(None, exc)] * len(window.members)
                if not isinstance(exc, Exception):
                    _deliver(window, outcomes)
                    raise
            finally:
                self._depth = depth
                self._undo, self._read, self._written = state
            _deliver(window, outcomes)

    def _commit_members(self, window: _Window) -> list[tuple[Any, BaseException | None]]:
        members = window.members
        written = window.written
        committed = False
        if written:
            with self.writer:
                _begin(self._db)
                try:
                    meanwhile = self._meanwhile()
                    clash = window.stale or any((tbl, key) in window.read or (tbl, None) in window.read
                                                for _, tbl, key, _ in meanwhile)
                    if clash:
                        self._db.execute("ROLLBACK")
                        self._undo = [u for m in members for u in m.undo]
                        Store._rollback(self)
                        seen = self._seen
                        self._apply(window.deferred)
                        self._seen = seen
                        self._apply(meanwhile)
                    else:
                        self._apply(meanwhile, skip=written)
                        self._log(written)
                        committed = True
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
        else:  # nothing written: each answer was true of the state it read, at the time it read it
            committed = True
        if committed:
            self.windows += written != {}
            self.windowed += len(members)
            self._undo = []
            if self._bounds:
                self._evict()
            return [(m.result, m.error) for m in members]
        self.conflicts += 1
        outcomes: list[tuple[Any, BaseException | None]] = []
        for member in members:  # one by one, each committed (and retried) as any transaction
            try:
                outcomes.append((self.atomic(member.work), None))
            except Exception as exc:  # noqa: BLE001 - that request's refusal
                outcomes.append((None, exc))
        return outcomes

    def get(self, table: str, key: str) -> Any:
        """As `SharedSqliteStore.get`, without a transaction of its own when none is open (`_outside`)."""
        if not self._depth:
            value = self._outside(table, key, _copy)
            if value is not _ASK:
                return value
        return super().get(table, key)

    def peek(self, table: str, key: str) -> Any:
        """As `SharedSqliteStore.peek` (the stored document itself: read-only for the caller), outside a transaction
        too (`_outside`): the session every maternal-child call looks up, read without a transaction or a copy."""
        if not self._depth:
            value = self._outside(table, key, _as_is)
            if value is not _ASK:
                return value
            return super().get(table, key)
        return super().peek(table, key)

    def _outside(self, table: str, key: str, give: Callable[[Any], Any]) -> Any:
        """A row read outside any transaction as a transaction of its own would read it, without one: caught up
        first (the log queried only when another worker committed), and with the commit window open on this
        thread, a row the window did not write read without committing the window. `_ASK` when the transaction
        must decide: a row the open window wrote (the window commits first: nothing uncommitted is shown), a window
        of another thread, or a transaction begun meanwhile."""
        with self._lock:
            window = self._window
            if self._depth or window is not None and (
                    (table, key) in window.written or window.thread != threading.get_ident()):
                return _ASK
            self._catch_up()
            if self._window is not window:  # a catch-up past a trimmed log committed the window
                return _ASK
            value = self._realised(table, key)
            return self._from_file(table, key) if value is None and self.evicted.get(table) else give(value)

    def _catch_up(self) -> None:
        window = self._window
        if window is not None:
            if self._joining or (not self._depth and window.thread == threading.get_ident()):
                version = self._counters.settled()
                if version is None or version != self._version:
                    self._version = version
                    self._catch_up_open(window)
                return
            self._commit_window()  # a transaction outside the window: it sees nothing uncommitted
        version = self._counters.settled()
        if version is None or version != self._version:
            # read before the query: every commit `done` counts is in what the query sees; one under way is not
            # remembered as seen, so the next transaction asks again
            self._version = version
            super()._catch_up()

    def _apply(self, rows: list[tuple[int, str, str, Any]], skip: dict[tuple[str, str], Any] | None = None) -> None:
        super()._apply(rows, skip)
        self._changes += len(rows)

    def _meanwhile(self) -> list[tuple[int, str, str, Any]]:
        # Under the writer lock: no other worker is committing, so settled counters at the value this worker last
        # caught up to mean nobody logged anything since, and no query of the log is needed.
        version = self._counters.settled()
        if version is not None and version == self._version:
            return []
        self._version = version
        return self._logged()

    def _log(self, written: dict[tuple[str, str], Any]) -> None:
        count = self._counters.start()
        super()._log(written)  # commits; on an error `done` stays behind, and every worker queries the log
        self._counters.finish(count)
        self._version = count
        self._changes += len(written)

    @property
    def revision(self) -> int:
        """Changes here and, once caught up, in the other workers (a page showing the state refreshes on either)."""
        if not self._depth:
            with self.transaction():  # catches up when another worker committed
                pass
        return self._changes

    @revision.setter
    def revision(self, value: int) -> None:
        self._changes = value

    def close(self) -> None:
        with self._lock:
            self._commit_window()
            super().close()
            self._counters.close()


def _as_is(value: Any) -> Any:
    return value


def _deliver(window: _Window, outcomes: list[tuple[Any, BaseException | None]]) -> None:
    """Each member's result or error to its waiting request, on the window's loop."""
    here = threading.get_ident() == window.thread
    for member, (result, error) in zip(window.members, outcomes, strict=True):
        if here:
            _settle(member.future, result, error)
        elif not window.loop.is_closed():
            window.loop.call_soon_threadsafe(_settle, member.future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (its client went away)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
