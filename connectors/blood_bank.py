"""The hospital blood bank's own record of what it received from the centre and what it sent back, in SQLite (WAL).

The reference blood-centre connector keeps its stock here, committed before it returns to the caller, so that a
restarted blood-bank system still knows which bags it holds (to refuse a second receipt, to allow a return, to
reconcile the centre's bill) and which returns the centre approved (an approved return is no longer stock and is
no longer billed).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from connectors.sqlite_wal import immediate, open_wal

SCHEMA = (
    ("CREATE TABLE IF NOT EXISTS received (din TEXT PRIMARY KEY, issue_no TEXT NOT NULL, expires_at TEXT NOT NULL, "
    "received_at REAL NOT NULL)"),
    ("CREATE TABLE IF NOT EXISTS returns (return_no TEXT PRIMARY KEY, dins TEXT NOT NULL, status TEXT NOT NULL, "
    "updated REAL NOT NULL)"),
)
SAFETY_COLUMNS = {"product_code": "TEXT NOT NULL DEFAULT ''", "abo": "TEXT NOT NULL DEFAULT ''",
                  "rhd": "TEXT NOT NULL DEFAULT ''", "volume": "INTEGER NOT NULL DEFAULT 0",
                  "collected_on": "TEXT NOT NULL DEFAULT ''"}
"""The safety fields of a received bag beside its expiry (added to a store made before they were kept)."""
DECIDED = ("APPROVED", "REJECTED")


@dataclass(frozen=True)
class Bag:
    """One received bag as the store keeps it (dates as ISO text)."""

    din: str
    product_code: str
    abo: str
    rhd: str
    volume: int
    collected_on: str
    expires_at: str


def add_safety_columns(db: sqlite3.Connection) -> None:
    """The safety fields' columns, added to a store made before they were kept."""
    present = {row[1] for row in db.execute("PRAGMA table_info(received)")}
    for column, declared in SAFETY_COLUMNS.items():
        if column not in present:
            db.execute(f"ALTER TABLE received ADD COLUMN {column} {declared}")


class BloodBank:
    """Received bags (DIN -> issue note) and submitted returns (number -> DINs, status), durable per change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = open_wal(path, SCHEMA, add_safety_columns)

    def _write(self, statement: str, rows: Iterable[tuple[object, ...]]) -> None:
        with self._lock, immediate(self._db):
            self._db.executemany(statement, rows)

    # -- stock ----------------------------------------------------------------------------------------------
    def receive(self, issue_no: str, bags: list[Bag]) -> None:
        """Record bags of one issue note as received, with their safety fields."""
        now = time.time()
        self._write("INSERT INTO received (din, issue_no, expires_at, received_at, product_code, abo, rhd, volume, "
                    "collected_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(b.din, issue_no, b.expires_at, now, b.product_code, b.abo, b.rhd, b.volume, b.collected_on)
                     for b in bags])

    def bag(self, din: str) -> tuple[str, Bag] | None:
        """(issue number, the bag as stored) of a received bag; None when it was never received."""
        with self._lock:
            row = self._db.execute("SELECT issue_no, din, product_code, abo, rhd, volume, collected_on, expires_at "
                                   "FROM received WHERE din = ?", (din,)).fetchone()
        return (row[0], Bag(*row[1:])) if row else None

    def received(self) -> dict[str, str]:
        """Every bag ever received: DIN -> issue number."""
        with self._lock:
            rows = self._db.execute("SELECT din, issue_no FROM received ORDER BY received_at, din").fetchall()
        return dict(rows)

    # -- returns --------------------------------------------------------------------------------------------
    def add_return(self, return_no: str, dins: list[str]) -> None:
        """A return submitted to the centre (PENDING); submitting the same number again keeps the first."""
        self._write("INSERT OR IGNORE INTO returns (return_no, dins, status, updated) VALUES (?, ?, 'PENDING', ?)",
                    [(return_no, json.dumps(dins), time.time())])

    def decide(self, return_no: str, status: str) -> None:
        self._write("UPDATE returns SET status = ?, updated = ? WHERE return_no = ?", [(status, time.time(), return_no)])

    def returns(self, status: str | None = None) -> dict[str, list[str]]:
        """Return number -> DINs, of every return or of those in `status`."""
        with self._lock:
            rows = self._db.execute("SELECT return_no, dins, status FROM returns ORDER BY updated").fetchall()
        return {number: json.loads(dins) for number, dins, state in rows if status is None or state == status}

    def returned(self) -> set[str]:
        """DINs whose return the centre approved: no longer stock, no longer billed."""
        return {din for dins in self.returns("APPROVED").values() for din in dins}

    def close(self) -> None:
        with self._lock:
            self._db.close()
