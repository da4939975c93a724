"""The SQLite a connector keeps its durable state in: one file in WAL mode, every change committed before the
connector goes on (synchronous NORMAL: what was committed survives a crash of the process).

A connector is built for every scenario of a run, each on a new file: switching a new file to WAL and creating its
tables is ≈ 0.5–1.5 ms of CPU (more where a store adds columns to an older file's tables). So the empty store a
schema gives is made once per process, in a folder of its own, and a new file is written from its bytes (synced
before it is opened): a file SQLite made, in WAL mode, with those tables, as if made in place. A file that exists is
opened as before, and its tables made or brought up to date the same way; so is SQLite's store in memory.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

Upgrade = Callable[[sqlite3.Connection], None]
"""Brings an existing store's tables up to date (columns added since): run on every opening, a no-op when current."""

MEMORY = ":memory:"
IMAGES_KEPT = 16
"""Empty stores kept per process (a run's connectors use three schemas)."""
_IMAGES: dict[tuple[tuple[str, ...], Upgrade | None], bytes] = {}
_LOCK = threading.Lock()


def open_wal(path: Path, schema: Iterable[str] = (), upgrade: Upgrade | None = None) -> sqlite3.Connection:
    """An autocommit connection on `path` (its folder made), shared between threads under the caller's lock: its
    tables made by `schema` (statements of `CREATE ... IF NOT EXISTS`) and brought up to date by `upgrade`."""
    statements = tuple(schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    # ":memory:" is SQLite's name for a store in memory (a test's connector keeps one): no file to write
    fresh = str(path) != MEMORY and _write_empty(path, _empty_store(statements, upgrade))
    db = _connect(path)
    if not fresh:
        _make_tables(db, statements, upgrade)
    return db


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def _make_tables(db: sqlite3.Connection, statements: tuple[str, ...], upgrade: Upgrade | None) -> None:
    for statement in statements:
        db.execute(statement)
    if upgrade is not None:
        upgrade(db)


def _empty_store(statements: tuple[str, ...], upgrade: Upgrade | None) -> bytes:
    """The bytes of a new store in WAL mode with the schema's tables, made once per process (in a folder of its
    own, closed so that the file holds everything)."""
    key = (statements, upgrade)
    with _LOCK:
        image = _IMAGES.get(key)
        if image is None:
            with tempfile.TemporaryDirectory(prefix="hih-store-") as folder:
                made = Path(folder) / "empty.sqlite"
                db = _connect(made)
                try:
                    _make_tables(db, statements, upgrade)
                finally:
                    db.close()
                image = made.read_bytes()
            if len(_IMAGES) >= IMAGES_KEPT:
                _IMAGES.pop(next(iter(_IMAGES)))
            _IMAGES[key] = image
    return image


def _write_empty(path: Path, image: bytes) -> bool:
    """Write `image` as `path` when no file is there (True); False when one is (it is opened as it is)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        written = memoryview(image)
        while written:
            written = written[os.write(fd, written):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return True


@contextlib.contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
