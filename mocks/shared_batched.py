"""State that the MLLP partners' serving processes share (`hih mock serve --interface lis --workers N`), written to
the shared SQLite file in batches.

`SharedSqliteStore` makes every transaction a commit under the writer lock, checked against what the others wrote
meanwhile: the insurance ledger needs that (two settlements of one account must not both spend its balance). A
mock LIS or PACS keeps orders and patients, whose rows its handlers write whole (a new order, a cancelled one, a
patient merged with the latest message), and that commit cost ~100 µs an order, half of the order's own cost.
Here a transaction runs on the worker's memory and its writes wait for the end of the event loop's turn, when one
commit logs every write of that turn; a transaction first applies what the others logged, when `PRAGMA
data_version` says they logged anything (a read of the file header, not a query of the log). Under load the turns
come faster than a commit is worth (≈ 50 µs each, whatever it holds, against ≈ 10 µs of a whole order's other
store work): a commit then waits until FLUSH_GAP_S after the previous one and logs every turn's writes since.

What that changes, and why a partner may: another worker sees an order once the turn that took it is over (at most
FLUSH_GAP_S plus a turn after the ACK went out), and two workers writing the same row within that time both
succeed, the later log row winning everywhere (no transaction is run again). A hospital sends an order again only
after its ACK timeout, seconds later. The rows are the same documents in the same file, so a state file is served
either way.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from mocks.shared_state import _GONE, SharedSqliteStore, _begin


class BatchedSharedStore(SharedSqliteStore):
    """A `SharedSqliteStore` whose writes are logged once per event-loop turn, at most one commit per FLUSH_GAP_S
    (see the module's docstring)."""

    FLUSH_GAP_S = 0.002
    """Least time between two commits of the pending writes while the event loop runs."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        super().__init__(path, durable)
        self._pending: dict[tuple[str, str], Any] = {}
        """Writes done in memory and not yet logged, newest value per row."""
        self._flush_due = False
        self._flushed_at = float("-inf")
        """`time.monotonic()` of the last commit of pending writes."""
        self._version = self._data_version()

    def _data_version(self) -> int:
        row = self._db.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def _catch_up(self) -> None:
        """Apply what the other workers logged since this one last looked (their rows this worker has not yet
        logged a newer value of)."""
        version = self._data_version()
        if version != self._version:
            self._version = version
            self._apply(self._logged(), skip=self._pending or None)
            for (tbl, key), value in self._pending.items():  # a reload of the whole file must not undo them
                if value is _GONE:
                    self._tables.get(tbl, {}).pop(key, None)
                else:
                    self._tables.setdefault(tbl, {})[key] = value

    def _publish(self) -> None:
        """The end of a transaction that wrote: its writes wait for the end of the loop's turn."""
        self._pending.update(self._written)
        self._written = {}
        self._undo = []
        self._schedule()
        if self._bounds:
            self._evict()

    def _schedule(self) -> None:
        """Log the pending writes at the end of this turn of the running event loop, or FLUSH_GAP_S after the last
        commit when that is later (at once outside a loop)."""
        if self._flush_due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_due = True
        wait = self._flushed_at + self.FLUSH_GAP_S - time.monotonic()
        if wait > 0:
            loop.call_later(wait, self.flush)
        else:
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Log every pending write in one commit, after what the others logged meanwhile (so the log's order
        is the order the rows took)."""
        with self._lock:
            self._flush_due = False
            if not self._pending:
                return
            written, self._pending = self._pending, {}
            self._flushed_at = time.monotonic()
            with self.writer:
                _begin(self._db)
                try:
                    self._apply(self._logged(), skip=written)
                    self._log(written)
                    # still under the writer lock: every other worker's commit so far is applied
                    self._version = self._data_version()
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    self._pending = {**written, **self._pending}  # kept for the next turn
                    raise

    def close(self) -> None:
        with self._lock:
            self.flush()
        super().close()
