"""The insurance ledger that several serving processes keep (`hih mock serve --interface insurance --workers N`):
each worker's own append-only log (`mocks.shared_logs`), a per-person lock, and the signature nonces in the logs.

Why not the shared SQLite file (`mocks.shared_state`) the ledger used before: there every settlement took one
writer lock across the processes, wrote a log row in SQLite and read back what the others had logged, and every
signature nonce was one more SQLite transaction under that lock; two workers then spent three times one process's
CPU on a settlement (bench/RESULTS.md). Here a settlement costs one `pread` per other worker (catching up), one
`write` (its record) and two `fcntl` calls on a byte of its own:

- **What one worker answered the next request of any other sees.** A transaction starts by reading what the other
  workers appended since (`WorkerLogStore`), and its writes are in the worker's log before the reply leaves: a
  visit registered through worker A is settled through worker B.
- **One person's transactions run one at a time across the workers.** Every row a transaction touches (the visit,
  its fees, the settlement, the account balance, the message it answered) belongs to the person(s) its input
  names; the transaction holds a lock on a byte of `<state>.persons.lock` chosen by the person number (crc32, 4,096
  bytes) from before it catches up until its record is written. Two settlements of one account through two workers
  at the same moment cannot both spend its balance: the second reads the first's result. Transactions of different
  people take different bytes (or, one time in 4,096, the same byte: a short wait, never a wrong answer); a sign-in
  (no person) takes none.
- **A nonce used at one worker is refused at every other.** An accepted request's nonce goes to the worker's log in
  the same `write` as the request's transaction (a record of its own in front of it), or on its own when the
  request changes nothing, before the reply leaves (`flush_nonces`); a worker that does not know a nonce reads the
  others' logs before it accepts it. (A copy sent to another worker while the first is still being handled is
  refused there as a repeated msgid, its transaction waiting on the same person.) Each worker keeps every nonce of the replay window (`NonceWindow`, bounded by time and by
  its capacity).
"""

from __future__ import annotations

import fcntl
import os
import time
import zlib
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

import orjson

from harness.contract.signing import NonceWindow
from mocks.log_recovery import Replayed
from mocks.shared_logs import _LENGTH, WorkerLogStore

_T = TypeVar("_T")
NONCES = "~nonce"
"""The table name of a nonce record (`[0, NONCES, nonce, expires, ...]`): never a table of the ledger."""
PERSON_SLOTS = 4096
"""Bytes of the person lock file: the people whose transactions may wait for each other are one in this many."""


def person_slot(psn_no: str) -> int:
    """The byte of the person lock file that `psn_no`'s transactions lock (the same in every process: not `hash`,
    which each Python process seeds differently)."""
    return zlib.crc32(psn_no.encode("utf-8")) % PERSON_SLOTS


class InsuranceLogStore(WorkerLogStore):
    """`WorkerLogStore` with transactions serialised per person across the workers and the nonce window kept in
    the logs (see the module)."""

    person_wait_s = 5.0
    """Longest wait for another worker's transaction of the same person (one commit long when all is well): past it
    the request fails with `TimeoutError` instead of hanging behind a stopped worker."""

    def __init__(self, path: Path, durable: bool = True, worker: tuple[int, int] = (0, 1),
                 nonce_capacity: int = 3_000_000) -> None:
        self.nonce_window = NonceWindow(nonce_capacity)
        """Every worker's nonces of the replay window: this worker's as it accepts them, the others' as read."""
        self._nonces: list[Any] = []
        """Nonces accepted here and not yet logged: `[nonce, expires, nonce, expires, ...]`."""
        super().__init__(path, durable, worker)
        self._people = os.open(f"{path}.persons.lock", os.O_RDWR | os.O_CREAT, 0o600)

    def _apply(self, record: list[Any]) -> None:
        if record[1] == NONCES:
            window = self.nonce_window
            for at in range(2, len(record), 2):
                window.add(record[at], record[at + 1])
            return
        super()._apply(record)

    # -- transactions of one person at a time -----------------------------------------------------------------
    def atomic_for(self, people: Collection[str], work: Callable[[], _T]) -> _T:
        """`work()` in one transaction while no other worker runs one for any of `people` (person numbers)."""
        if not people:
            return self.atomic(work)
        slots = sorted({person_slot(p) for p in people})  # in one order everywhere: two workers never wait in a ring
        with self._lock:  # POSIX record locks belong to the process: this lock keeps its threads apart
            if self._depth:
                return work()
            held: list[int] = []
            try:
                for slot in slots:
                    self._lock_slot(slot)
                    held.append(slot)
                return self.atomic(work)
            finally:
                for slot in held:
                    fcntl.lockf(self._people, fcntl.LOCK_UN, 1, slot)

    def _lock_slot(self, slot: int) -> None:
        """Take byte `slot` of the person lock file, waiting at most `person_wait_s` for the worker that holds it."""
        deadline = time.monotonic() + self.person_wait_s
        pause = 0.0002
        while True:
            try:
                fcntl.lockf(self._people, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, slot)
                return
            except OSError:  # EAGAIN or EACCES: another worker holds it
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"insurance mock: another worker held person lock {slot} for more than "
                                       f"{self.person_wait_s:g} s") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.01)

    # -- nonces ------------------------------------------------------------------------------------------------
    def nonce_seen(self, nonce: str, now: float) -> bool:
        """Whether any worker accepted `nonce` within the window: this worker's memory first, the others' logs on a
        miss."""
        if self.nonce_window.seen(nonce, now):
            return True
        with self._lock:
            if not self._depth:
                self._catch_up()
        return self.nonce_window.seen(nonce, now)

    def add_nonce(self, nonce: str, expires: int) -> None:
        """Remember `nonce` here; it reaches this worker's log with the next write or `flush_nonces`."""
        with self._lock:
            self.nonce_window.add(nonce, expires)
            self._nonces += (nonce, expires)

    def flush_nonces(self) -> None:
        """Log the nonces accepted since the last write (before a reply leaves: every other worker then refuses
        them)."""
        if self._nonces:
            with self._lock:
                if self._nonces:
                    self._write(b"")

    def _replay(self, payload: memoryview) -> Replayed | None:
        record = orjson.loads(payload)
        if type(record[0]) is not str and record[1] == NONCES:  # the nonces expire: nothing for the state file
            return None
        return super()._replay(payload)

    def _write(self, data: bytes) -> None:
        if self._nonces:  # in front of the transaction's record, in the same `write`
            nonces, self._nonces = self._nonces, []
            frame = orjson.dumps([0, NONCES, *nonces])
            try:
                super()._write(_LENGTH.pack(len(frame)) + frame + data)
            except BaseException:
                self._nonces = nonces + self._nonces
                raise
        elif data:
            super()._write(data)

    def close(self) -> None:
        with self._lock:
            super().close()
            os.close(self._people)


class LogNonces:
    """The TIF verifier's nonce window (`NonceWindow`'s interface) backed by an `InsuranceLogStore`."""

    def __init__(self, store: InsuranceLogStore) -> None:
        self.store = store

    def __len__(self) -> int:
        return len(self.store.nonce_window)

    def seen(self, nonce: str, now: float) -> bool:
        return self.store.nonce_seen(nonce, now)

    def full(self) -> bool:
        return self.store.nonce_window.full()

    def add(self, nonce: str, expires: int) -> None:
        self.store.add_nonce(nonce, expires)

