"""connectors.sqlite_wal: a new store written from the empty store made once per process is the store SQLite makes in
place (WAL mode, the same tables), each new store starts empty whatever an earlier one holds, and a file that exists
is opened as it is: its rows kept, its tables brought up to date."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from connectors import sqlite_wal
from connectors.blood_bank import SAFETY_COLUMNS, SCHEMA, Bag, BloodBank, add_safety_columns
from connectors.hl7_common import SCHEMA as HL7_SCHEMA
from connectors.mch_platform import OUTBOX_SCHEMA, Outbox

SCHEMAS = [(SCHEMA, add_safety_columns), ((HL7_SCHEMA,), None), (OUTBOX_SCHEMA, None)]


def made_in_place(path: Path, schema: tuple[str, ...], upgrade: sqlite_wal.Upgrade | None) -> sqlite3.Connection:
    """What open_wal made before it kept an empty store: the file switched to WAL and its tables created there."""
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in schema:
        db.execute(statement)
    if upgrade is not None:
        upgrade(db)
    return db


def described(db: sqlite3.Connection) -> tuple[object, ...]:
    return (db.execute("PRAGMA journal_mode").fetchone(),
            db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").fetchall(),
            db.execute("PRAGMA user_version").fetchone(), db.execute("PRAGMA integrity_check").fetchall(),
            db.execute("PRAGMA synchronous").fetchone())


@pytest.mark.parametrize(("schema", "upgrade"), SCHEMAS)
def test_a_new_store_is_the_store_sqlite_makes_in_place(tmp_path: Path, schema: tuple[str, ...],
                                                        upgrade: sqlite_wal.Upgrade | None) -> None:
    ours = sqlite_wal.open_wal(tmp_path / "deep" / "ours.sqlite", schema, upgrade)
    theirs = made_in_place(tmp_path / "theirs.sqlite", schema, upgrade)
    theirs.execute("PRAGMA synchronous=NORMAL")
    try:
        assert described(ours) == described(theirs)
        assert described(ours)[0] == ("wal",)
    finally:
        ours.close()
        theirs.close()


def test_each_new_store_starts_empty_whatever_an_earlier_one_holds(tmp_path: Path) -> None:
    first = Outbox(tmp_path / "one" / "outbox.sqlite")
    first.add([("S1", "birth", "B1", "{}")])
    first.mark(["S1"], "sending")
    first.close()
    second = Outbox(tmp_path / "two" / "outbox.sqlite")
    try:
        assert second.rows() == []
    finally:
        second.close()
    reopened = Outbox(tmp_path / "one" / "outbox.sqlite")
    try:
        assert [(r.serial, r.state, r.attempts) for r in reopened.rows()] == [("S1", "sending", 1)]
    finally:
        reopened.close()


def test_an_older_blood_bank_file_is_opened_as_it_is_and_given_the_safety_columns(tmp_path: Path) -> None:
    path = tmp_path / "bank.sqlite"
    old = made_in_place(path, SCHEMA, None)
    old.execute("INSERT INTO received (din, issue_no, expires_at, received_at) VALUES ('D1', 'N1', '2030-01-01', 1)")
    old.close()
    bank = BloodBank(path)
    try:
        assert bank.received() == {"D1": "N1"}
        columns = {row[1] for row in bank._db.execute("PRAGMA table_info(received)")}
        assert set(SAFETY_COLUMNS) <= columns
        bank.receive("N2", [Bag("D2", "E0001", "A", "+", 200, "2026-01-01", "2030-01-01")])
        assert bank.received() == {"D1": "N1", "D2": "N2"}
    finally:
        bank.close()


def test_a_store_being_written_by_another_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    path.write_bytes(b"")  # a file made by someone else a moment before: SQLite makes it a store, in place
    db = sqlite_wal.open_wal(path, OUTBOX_SCHEMA)
    theirs = made_in_place(tmp_path / "theirs.sqlite", OUTBOX_SCHEMA, None)
    try:
        assert described(db)[:2] == described(theirs)[:2]
    finally:
        db.close()
        theirs.close()


def test_a_store_in_memory_writes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    outbox = Outbox(Path(":memory:"))
    try:
        outbox.add([("S1", "birth", "B1", "{}")])
        assert [r.serial for r in outbox.rows()] == ["S1"]
    finally:
        outbox.close()
    assert list(tmp_path.iterdir()) == []
