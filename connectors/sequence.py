"""Identifiers with a time part and a sequence (the insurance msgid, the HL7 MSH-10): unique across restarts.

A partner detects repeats by identifier: the insurance platform refuses a msgid it has seen, an LIS answers a
repeated MSH-10 with the first message's ACK and does nothing. A connector that starts its sequence at 1 again
after a restart repeats the identifiers its predecessor sent in the same second. Here the sequence never falls
behind the clock's milliseconds (scaled to its width), so a new process starts above what the old one used
unless the old one sent more than the scale allows in one millisecond; no state is kept on disk for it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime


class ClockSequence:
    """(time text, sequence) pairs: the time as `time_format`, the sequence below 10**digits within the second."""

    def __init__(self, time_format: str, digits: int) -> None:
        if digits < 3:
            raise ValueError("a clock sequence needs at least 3 digits (one step per millisecond)")
        self.time_format = time_format
        self.limit = 10**digits - 1
        self.per_ms = 10**digits // 1000
        self._lock = threading.Lock()
        self._second = ""
        self._seq = 0

    def next(self) -> tuple[str, int]:
        with self._lock:
            while True:
                now = datetime.now()
                second = now.strftime(self.time_format)
                if second != self._second:
                    self._second, self._seq = second, 0
                floor = now.microsecond // 1000 * self.per_ms
                if max(self._seq, floor) < self.limit:
                    self._seq = max(self._seq, floor) + 1
                    return second, self._seq
                time.sleep(0.001)  # the second's sequence is used up: wait for the next one
