"""Named snapshots of the training centre's state, kept in the state database, and the reset to one of them.

A trainer prepares a class (orders in flight, a recalled bag, stock run short), saves it as 「第二课开始」, and after each
group resets the centre to it; 「初始库存」 is always there and is the freshly seeded centre. A snapshot holds every
table of the centre (orders, issue notes, inventory, receipts, returns, notices, cross-match, counters) and none of
the training records (snapshots themselves, drill runs), which a reset keeps.

Bounded: at most `MAX_SNAPSHOTS` snapshots of at most `MAX_SNAPSHOT_ROWS` rows each; names are 1 to 40 characters
without control characters.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from mocks.blood_center.centre import CentreError
from mocks.blood_center.vetting import checked_text
from mocks.state import Store

TABLE = "snapshots"
TRAINING_TABLES = (TABLE, "drill_runs", "drill_state")
"""Tables of the training server itself: kept by every reset, never part of a snapshot."""
SEED = "初始库存"
"""The built-in snapshot: the centre as freshly seeded."""
MAX_SNAPSHOTS = 20
MAX_SNAPSHOT_ROWS = 20_000
MAX_NAME = 40


def centre_tables(store: Store) -> dict[str, dict[str, Any]]:
    """Every table of the centre's state, without the training tables."""
    return {table: rows for table, rows in store.dump().items() if table not in TRAINING_TABLES}


def snapshot_name(value: str) -> str:
    """A trainer's snapshot name, checked: 1 to 40 characters, no control characters (CentreError otherwise)."""
    name = checked_text(value, "快照名称", MAX_NAME)
    if name == SEED:
        raise CentreError("1001", f"「{SEED}」是内置快照，请换一个名称")
    return name


class Snapshots:
    """The named snapshots in a store; `now` is the centre's clock."""

    def __init__(self, store: Store, now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = now

    def list(self) -> list[dict[str, Any]]:
        """Name, time saved and row counts of each snapshot, newest first (without their contents)."""
        rows = [{"name": s["name"], "savedAt": s["savedAt"], "counts": s["counts"]}
                for _, s in self.store.items(TABLE) if isinstance(s, dict) and "tables" in s]
        return sorted(rows, key=lambda s: s["savedAt"], reverse=True)

    def save(self, name: str) -> dict[str, Any]:
        """Keep the centre's current state as `name` (replacing a snapshot of that name)."""
        name = snapshot_name(name)
        tables = centre_tables(self.store)
        counts = {table: len(rows) for table, rows in tables.items()}
        if sum(counts.values()) > MAX_SNAPSHOT_ROWS:
            raise CentreError("1001", f"当前状态有 {sum(counts.values())} 条记录，快照最多 {MAX_SNAPSHOT_ROWS} 条")
        with self.store.transaction():
            if self.store.get(TABLE, name) is None and self.store.count(TABLE) >= MAX_SNAPSHOTS:
                raise CentreError("1001", f"最多保存 {MAX_SNAPSHOTS} 个快照：请先删除不用的快照")
            record = {"name": name, "savedAt": self.now().isoformat(), "counts": counts, "tables": tables}
            self.store.put(TABLE, name, record)
        return record

    def delete(self, name: str) -> None:
        with self.store.transaction():
            if self.store.get(TABLE, name) is None:
                raise CentreError("1001", f"没有名为「{name[:MAX_NAME]}」的快照")
            self.store.delete(TABLE, name)

    def restore(self, name: str, reseed: Callable[[], None]) -> None:
        """Put the centre back to snapshot `name` (`SEED`: call `reseed` on an emptied centre), in one transaction:
        a crash half-way leaves the state as it was."""
        with self.store.transaction():
            if name == SEED:
                tables: dict[str, dict[str, Any]] = {}
            else:
                snapshot = self.store.get(TABLE, name)
                if not isinstance(snapshot, dict) or not isinstance(snapshot.get("tables"), dict):
                    raise CentreError("1001", f"没有名为「{name[:MAX_NAME]}」的快照")
                tables = snapshot["tables"]
            for table, rows in centre_tables(self.store).items():
                for key in rows:
                    self.store.delete(table, key)
            for table, rows in tables.items():
                for key, value in rows.items():
                    self.store.put(table, key, value)
            if name == SEED:
                reseed()
