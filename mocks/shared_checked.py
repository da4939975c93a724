"""State that the SOAP partners' serving processes share (`hih mock serve --interface blood-center --workers N`, the
same for mch-platform): every change committed before the answer goes out, reads caught up only when another
worker wrote.

The blood centre and the maternal-child platform answer from rules over what they hold: an order number used with
other content is refused, a unit issued once is not issued again, a record number uploaded twice is a duplicate.
So each transaction commits under the writer lock and is run again when another worker changed what it read
(`SharedSqliteStore`), unlike the LIS workers' own logs (`mocks.shared_logs`), where the later write simply wins.
What this store adds is the cost of a read: `SharedSqliteStore` asks the log for rows at the start of every
transaction, a query even when nothing changed; here the start of a transaction reads `PRAGMA data_version` (the
file header: did any other connection commit?) and queries the log only when it says yes. Most SOAP calls read
(feedback, issue notes, upload results, the session of every call), so that query was a share of each.

`revision` counts the other workers' changes too, so a console served by one worker refreshes when another worker
answered the hospital.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from mocks.shared_state import SharedSqliteStore

_INSIDE = contextlib.nullcontext()


class CheckedSharedStore(SharedSqliteStore):
    """A `SharedSqliteStore` that looks at the log only when another process committed (see the module)."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self._changes = 0
        super().__init__(path, durable)
        self._version = self._data_version()

    def transaction(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        """As `SharedSqliteStore.transaction`; inside one already held by this thread (a read within a call's
        transaction: several a call), nothing to do, so no generator and no lock round trip for it."""
        if self._depth and self._lock._is_owned():  # type: ignore[attr-defined]
            return _INSIDE
        return super().transaction()

    def _data_version(self) -> int:
        row = self._db.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def _catch_up(self) -> None:
        version = self._data_version()
        if version != self._version:
            self._version = version
            super()._catch_up()

    def _apply(self, rows: list[tuple[int, str, str, Any]], skip: dict[tuple[str, str], Any] | None = None) -> None:
        super()._apply(rows, skip)
        self._changes += len(rows)

    def _meanwhile(self) -> list[tuple[int, str, str, Any]]:
        # Under the writer lock and in the write transaction: no other worker commits until this one has, so the
        # version read now is the one after this commit too (a connection's own commits leave its data_version as it
        # was), and when it is the one this worker last caught up to, nobody logged anything since: no query of the
        # log. Read after the lock is let go, it could count a commit of another worker that nobody applied.
        version = self._data_version()
        if version == self._version:
            return []
        self._version = version
        return self._logged()

    def _log(self, written: dict[tuple[str, str], Any]) -> None:
        super()._log(written)
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
