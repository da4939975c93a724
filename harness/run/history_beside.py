"""A finished run recorded in the history by a thread while its reports are written, instead of after them.

Recording a run (`harness.run.history.record`) costs little CPU (≈ 15 ms for 80 scenarios) but waits on the disk
for most of its 50–90 ms: SQLite syncs its journal when the run's transaction commits, and opens, checks and
creates the database first. `hih run` did it last, after every report; a thread now does it while the reports are
written, whose end waits on the side process that draws the sign-off PDF (harness.report.pdf_ahead), so the disk's
time is no longer added to the run's.

The history still holds only runs whose reports were written: when writing them fails, the run's record is removed
again (`drop`). What the thread could not record is told, as before, by one warning line on stderr, printed by the
caller (`keep`) where the run's output stands.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path
from typing import Any

from harness.run.history import HistoryError, connect, history_path, record


class RecordBeside:
    """One run's record, made by a thread; `keep` once the reports are in place, `drop` when they failed."""

    def __init__(self, summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]], report_dir: Path) -> None:
        """`summary` and `evidence` are read by the thread: the caller does not change them until `keep` or `drop`.
        `report_dir`: where the reports will be once written (the history names it)."""
        self.path = history_path(report_dir)
        self.run_id: int | None = None
        self.warning: str | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if self.path is not None:
            self._thread = threading.Thread(target=self._record, args=(self.path, summary, evidence, report_dir),
                                            name="hih-history", daemon=True)
            self._thread.start()

    def _record(self, path: Path, summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]],
                report_dir: Path) -> None:
        try:
            self.run_id = record(path, summary, evidence, report_dir)
        except HistoryError as exc:
            self.warning = f"hih: warning: run not recorded in the history: {exc}\n"
        except BaseException as exc:  # noqa: BLE001 - an internal error: raised again by `keep`, as it was raised before
            self._error = exc

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()  # `record` waits on SQLite at most its busy timeout (harness.run.history)
            self._thread = None

    def keep(self) -> None:
        """Wait for the record; print the warning when it could not be made (an internal error is raised)."""
        self._join()
        if self.warning:
            sys.stderr.write(self.warning)
        if self._error is not None:
            raise self._error

    def drop(self) -> None:
        """The reports were not written: wait for the record and remove it (never raises; the caller is failing)."""
        self._join()
        if self.path is None or self.run_id is None:
            return
        with contextlib.suppress(HistoryError), connect(self.path) as db, db:
            db.execute("DELETE FROM runs WHERE id = ?", (self.run_id,))  # its interfaces and scenarios cascade
