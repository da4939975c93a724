"""The reports' preloading thread of `hih run` (templates, WeasyPrint and its fonts made ready while the scenarios
run: `harness.report.writer.preload`), waited for with a bound.

Why a bound: the end of the run waits for the preloading before it lays out the sign-off (WeasyPrint is not used
from two threads at once, nor forked mid-import), and a preload that hangs (a font scan on a broken fontconfig, a
blocked file system) would otherwise hang the end of the run. Past the bound, counted from the preloading's start,
the run does not touch WeasyPrint: it writes every other report and says in one line that signoff.pdf was not made,
as when WeasyPrint cannot be loaded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

PRELOAD_LIMIT_S = 60.0
"""How long the preloading may take from its start (≈ 1 s on a warm machine; a first font cache build takes longer)."""


class Preloading(threading.Thread):
    """`target(*args)` in a daemon thread whose end is waited for at most `limit_s` after its start (`finished`)."""

    def __init__(self, target: Callable[..., object], *args: object, limit_s: float | None = None) -> None:
        super().__init__(target=target, args=args, name="hih-preload-reports", daemon=True)
        self.limit_s = PRELOAD_LIMIT_S if limit_s is None else limit_s
        self._deadline: float | None = None

    def start(self) -> None:
        self._deadline = time.monotonic() + self.limit_s
        super().start()

    def finished(self) -> bool:
        """Wait for the preloading to end, until `limit_s` after it started; whether it ended (True when it was never
        started: nothing runs then)."""
        if self._deadline is None:
            return True
        self.join(max(0.0, self._deadline - time.monotonic()))
        return not self.is_alive()

    def overdue(self) -> str:
        """Why signoff.pdf is not made when `finished` says False, as the run's warning gives it."""
        return (f"the reports' preloading (templates, WeasyPrint and its fonts) did not finish within {self.limit_s:g} s "
                "(a font scan or a file system that does not answer?)")
