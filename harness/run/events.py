"""Read the run's event stream (`events.jsonl`) while pytest is still writing it, without ever breaking the verdict.

The child process appends one JSON object a line. A poll can come at any moment, also in the middle of a line or
of a multi-byte (Chinese) character, so the file is read as bytes, split on `\\n`, and only whole lines are
decoded; the unfinished tail waits for the next poll. A line that is not UTF-8 or not a JSON object is counted as
damaged and skipped (the runner then takes the decision from junit.xml and pytest's exit status, and says so).
Reading is bounded: at most `max_line` bytes are kept for one unfinished line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

MAX_LINE = 64 * 1024 * 1024
"""A single event (a scenario with its evidence) larger than this is damaged: its bytes are dropped."""
CHUNK = 1 << 20


@dataclass
class EventReader:
    """Yields each complete event line of a growing file once, as a dict."""

    path: Path
    max_line: int = MAX_LINE
    damaged: list[str] = field(default_factory=list)
    """One short description per damaged line (what was wrong and where)."""
    _handle: IO[bytes] | None = None
    _pending: bytearray = field(default_factory=bytearray)
    _skipping: bool = False
    _line_no: int = 0

    def poll(self) -> Iterator[dict[str, Any]]:
        """The events completed since the last poll."""
        if self._handle is None:
            try:
                self._handle = self.path.open("rb")
            except FileNotFoundError:
                return
        while True:
            chunk = self._handle.read(CHUNK)
            if not chunk:
                return
            yield from self.feed(chunk)

    def feed(self, chunk: bytes) -> Iterator[dict[str, Any]]:
        """The events completed by `chunk` (bytes as they arrived; a chunk may end anywhere)."""
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                self._keep(chunk[start:])
                return
            piece = chunk[start:end]
            start = end + 1
            if self._skipping:  # the rest of an over-long line
                self._skipping = False
                self._pending.clear()
                continue
            if self._pending:
                self._pending += piece
                line = bytes(self._pending)
                self._pending.clear()
            else:
                line = piece
            event = self._decode(line)
            if event is not None:
                yield event

    def finish(self) -> None:
        """The writer has stopped: an unfinished last line is damaged (the writer died in the middle of it)."""
        if self._pending or self._skipping:
            self._line_no += 1
            self.damaged.append(f"line {self._line_no}: cut off ({len(self._pending)} bytes without an end of line)")
            self._pending.clear()
            self._skipping = False

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _keep(self, rest: bytes) -> None:
        if self._skipping:
            return
        self._pending += rest
        if len(self._pending) > self.max_line:
            self._line_no += 1
            self.damaged.append(f"line {self._line_no}: longer than {self.max_line} bytes")
            self._pending.clear()
            self._skipping = True

    def _decode(self, line: bytes) -> dict[str, Any] | None:
        self._line_no += 1
        if not line.strip():
            return None
        try:
            event = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            self.damaged.append(f"line {self._line_no}: not UTF-8 at byte {exc.start}")
            return None
        except ValueError as exc:
            self.damaged.append(f"line {self._line_no}: not JSON ({exc})")
            return None
        if not isinstance(event, dict):
            self.damaged.append(f"line {self._line_no}: not a JSON object")
            return None
        return event
