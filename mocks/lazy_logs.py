"""The MLLP partners' store for `--workers`: per-worker logs (`mocks.shared_logs`) whose rows from the other workers
stay bytes until something reads them.

Why: with two LIS workers each applied every order the other took (its record decoded into dicts and lists, put in
the tables, walked by the garbage collector until the next `gc.freeze()`), ≈ 30 % of one process's CPU per order
for rows that only a duplicate, a cancel or an admin view reads again (bench/RESULTS.md, "MLLP mocks: instructions
per order, fourth pass"). Here a worker still reads the others' logs at the start of every transaction and read (so an
order another worker answered is known before this one answers anything), and still takes each row's stamp (the
later write wins, as in `WorkerLogStore`), but it keeps another worker's row as the bytes of its JSON:

- a row read on an order's path (`peek`: the duplicate check of a placer number, a cancel, a patient's fields and
  events) is decoded then, from its bytes alone (each row of a record is encoded on its own, so the order's patient
  is read without decoding the order), and kept decoded until a worker writes it again;
- the admin and console views (`items`, `dump`, `get`) decode what they show;
- a bounded table lets rows go by whether they are finished: the writer puts that in front of each row's bytes
  (one byte: 0 open, 1 finished, 2 not judged, the writer bounding no such table), so eviction needs no decoding
  when the workers bound the same tables (every worker of a mock does).

A record is `b"R"`, its header's length, the header `[stamp, table, key, size, ...]` (JSON; size -1: the row was
deleted) and the rows' bytes one after the other, each its finished byte then its JSON; the end of a log generation
stays `["next", N]`. A row kept as bytes is a `bytes` object (a document is never one), which the collector does not
track.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from mocks.log_recovery import Replayed
from mocks.shared_logs import _LENGTH, READ_CHUNK, STAMPS_KEPT, WorkerLogStore, _read
from mocks.shared_state import _GONE
from mocks.state import _copy

_TAG = ord("R")
_HEAD = b"R"
_OPEN, _FINISHED, _UNJUDGED = b"\x00", b"\x01", b"\x02"
"""A row's first byte: open or finished by the writer's bound of its table, or the writer bounds no such table."""


def _decoded(raw: bytes) -> Any:
    """The document a row kept as bytes holds (its first byte is the finished flag)."""
    return orjson.loads(raw[1:])


def _unpacked(payload: bytes | memoryview,
              value: Callable[[bytes | memoryview], Any]) -> tuple[Any, list[tuple[str, str, Any]]]:
    """A record `LazyLogStore._append` wrote: its key and its rows (table, key, `value` of the row's bytes, or None for a row
    removed). What the bytes become is the caller's: kept as they are (read later) or decoded (a replay)."""
    (size,) = _LENGTH.unpack_from(payload, 1)
    at = 5 + size
    header = orjson.loads(payload[5:at])
    rows: list[tuple[str, str, Any]] = []
    for index in range(1, len(header), 3):
        size = header[index + 2]
        if size < 0:
            rows.append((header[index], header[index + 1], None))
        else:
            rows.append((header[index], header[index + 1], value(payload[at : at + size])))
            at += size
    return header[0], rows


class LazyLogStore(WorkerLogStore):
    """`WorkerLogStore` that keeps the other workers' rows as bytes until read (see the module's docstring)."""

    def bound(self, table: str, max_rows: int, finished: Callable[[Any], bool] | None = None) -> None:
        if finished is not None:
            judged = finished

            def finished(value: Any) -> bool:  # a row kept as bytes says so in its first byte, when its writer knew
                if type(value) is bytes:
                    return value[0] == 1 if value[0] != 2 else judged(_decoded(value))
                return judged(value)

        super().bound(table, max_rows, finished)

    # -- the log's records --------------------------------------------------------------------------------------
    def _append(self, written: dict[tuple[str, str], Any]) -> None:
        """`WorkerLogStore._append` with the record built in the same pass over the rows (stamps, verdicts, bytes).

        A row's finished byte is its bounded table's index: `_index` judged the row as it was put in this
        transaction, so the verdict is read there, not asked of the table's predicate again."""
        stamps = self._stamps
        stamp = self._stamp(written)
        header: list[Any] = [stamp]
        parts: list[bytes] = []
        bounds = self._bounds
        for row, value in written.items():
            stamps[row] = stamp
            table, key = row
            if value is _GONE:
                header += (table, key, -1)
                continue
            bound = bounds.get(table) if bounds else None
            if bound is None or bound.finished is None:
                parts.append(_UNJUDGED)
            else:
                parts.append(_FINISHED if key in bound.done else _OPEN)
            data = orjson.dumps(value)
            parts.append(data)
            header += (table, key, len(data) + 1)
        while len(stamps) > STAMPS_KEPT:
            stamps.popitem(last=False)
        head = orjson.dumps(header)
        rows = b"".join(parts)
        self._write(b"".join((_LENGTH.pack(5 + len(head) + len(rows)), _HEAD, _LENGTH.pack(len(head)), head, rows)))
        if self._db is not None:
            self._pending.update(written)
            self._schedule()

    def _catch_up(self) -> None:
        """`WorkerLogStore._catch_up`, each record's rows merged where it is read (`_take`)."""
        buffer, view = self._buffer, self._view
        over = False
        for reader in self._readers:
            got = _read(reader.fd, buffer, reader.offset)
            while got:
                reader.offset += got
                # the buffer is read again for the next chunk: what is kept of it (a record cut off) is copied
                data: bytes | memoryview = reader.partial + view[:got] if reader.partial else view[:got]
                at, moved, full = self._take(data)
                over = over or full
                if moved >= 0:  # the writer went on in its generation `moved`
                    self._follow(reader, moved)
                else:
                    reader.partial = bytes(data[at:]) if at < len(data) else b""
                    if got < READ_CHUNK:
                        break
                got = _read(reader.fd, buffer, reader.offset)
        if over:  # only a merged row grows a table here
            self._evict()

    def _take(self, data: bytes | memoryview) -> tuple[int, int, bool]:
        """Merge the whole records at the front of `data`, as `_merge` does (the later stamp wins, the bounded
        tables' index kept from each row's finished byte) in one loop: where the first record not whole starts,
        the generation an end-of-generation record names (else -1; nothing after it is read), and whether a row
        put a bounded table past its limit (the only case a catch-up has rows to let go of)."""
        end = len(data)
        at = 0
        unpack = _LENGTH.unpack_from
        stamps, tables, bounds = self._stamps, self._tables, self._bounds
        durable = self._db is not None
        over = False
        while at + 4 <= end:
            (size,) = unpack(data, at)
            stop = at + 4 + size
            if stop > end:
                break
            if data[at + 4] != _TAG:  # the end of a generation, `["next", N]`
                moved = WorkerLogStore._record(self, data[at + 4 : stop])
                if moved >= 0:
                    return stop, moved, over
                at = stop
                continue
            (size,) = unpack(data, at + 5)
            body = at + 9 + size
            header = orjson.loads(data[at + 9 : body])
            stamp = header[0]
            for index in range(1, len(header), 3):
                table, key, size = header[index], header[index + 1], header[index + 2]
                value: bytes | None = None
                if size >= 0:
                    value = bytes(data[body : body + size])
                    body += size
                row = (table, key)
                if stamp < stamps.get(row, 0):
                    continue  # this worker (or a third) wrote the row later
                stamps[row] = stamp
                bound = bounds.get(table) if bounds else None
                if value is not None:
                    kept = tables.get(table)
                    if kept is None:
                        kept = self._rows(table)
                    kept[key] = value
                    if bound is not None:
                        over = over or len(kept) > bound.limit
                        judged = bound.finished
                        if judged is not None:  # the writer's verdict in the first byte, when it had one
                            if value[0] == 1 if value[0] != 2 else judged(value):
                                if key not in bound.done:
                                    bound.done[key] = None
                            else:
                                bound.done.pop(key, None)
                else:
                    rows = tables.get(table)
                    if rows is not None:
                        rows.pop(key, None)
                    if bound is not None:
                        bound.done.pop(key, None)
                if durable:
                    self._pending.pop(row, None)  # the writer keeps it in the file
            self.revision += 1
            at = stop
        while len(stamps) > STAMPS_KEPT:
            stamps.popitem(last=False)
        return at, -1, over

    def _replay(self, payload: memoryview) -> Replayed | None:
        if payload[0] != _TAG:
            return super()._replay(payload)
        return _unpacked(payload, lambda part: orjson.loads(part[1:]))

    # -- reading ---------------------------------------------------------------------------------------------
    def get(self, table: str, key: str) -> Any:
        with self._lock:
            if not self._depth:
                self._catch_up()
            value = self._tables.get(table, {}).get(key)
            if type(value) is bytes:
                return _decoded(value)
            if value is None and self.evicted.get(table):
                return self._from_file(table, key)
            return _copy(value)

    def peek(self, table: str, key: str) -> Any:
        """As `Store.peek`; a row kept as bytes is decoded and kept so: a row read on an order's path (a patient's
        fields and events, which an order writes only when they change) is read again by the next order, not
        decoded again. Nothing changes but the row's form: its stamp, its place and its bound's verdict stay."""
        if not self._depth:
            return self.get(table, key)
        rows = self._tables.get(table)
        value = rows.get(key) if rows is not None else None
        if type(value) is bytes:
            value = _decoded(value)
            assert rows is not None
            rows[key] = value
            return value
        return self._from_file(table, key) if value is None and self.evicted.get(table) else value

    def items(self, table: str) -> list[tuple[str, Any]]:
        with self._lock:
            if not self._depth:
                self._catch_up()
            return [(k, _decoded(v) if type(v) is bytes else _copy(v)) for k, v in self._tables.get(table, {}).items()]

    def dump(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if not self._depth:
                self._catch_up()
            return {t: {k: _decoded(v) if type(v) is bytes else _copy(v) for k, v in rows.items()}
                    for t, rows in self._tables.items()}
