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
"""

from __future__ import annotations

import contextlib
import mmap
import os
from pathlib import Path
from typing import Any

from mocks.shared_state import SharedSqliteStore

_INSIDE = contextlib.nullcontext()
_COUNTERS = 16
"""Bytes of the lock file the counters take: `started` then `done`, 8 bytes each, little-endian."""


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


class CheckedSharedStore(SharedSqliteStore):
    """A `SharedSqliteStore` that looks at the log only when another process committed (see the module)."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self._changes = 0
        self._counters = CommitCounters(path)
        self._version: int | None = self._counters.settled()  # read before the load: a commit after it is noticed
        super().__init__(path, durable)

    def transaction(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        """As `SharedSqliteStore.transaction`; inside one already held by this thread (a read within a call's
        transaction: several a call), nothing to do, so no generator and no lock round trip for it."""
        if self._depth and self._lock._is_owned():  # type: ignore[attr-defined]
            return _INSIDE
        return super().transaction()

    def _catch_up(self) -> None:
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
            super().close()
            self._counters.close()
