"""MLLP framing (the HL7 minimal lower layer protocol), as pure functions: no sockets, no asyncio.

A block is `0x0B payload 0x1C 0x0D`. `frame` wraps a payload; `Deframer` cuts a byte stream (as it arrives,
split or merged across reads) back into payloads and says what was wrong with it: bytes before the start block,
a frame over the size limit, a start block inside a frame, an end block without its CR, a stream ending mid-frame.
MLLP release 2 commit acknowledgements are the one-byte payloads `COMMIT_ACK` (0x06) and `COMMIT_NAK` (0x15).
"""

from __future__ import annotations

from dataclasses import dataclass

SB = b"\x0b"
"""Start block."""
EB = b"\x1c"
"""End block."""
CR = b"\r"
END = EB + CR
COMMIT_ACK = b"\x06"
COMMIT_NAK = b"\x15"
DEFAULT_MAX_FRAME = 1 << 20
"""Largest payload a Deframer accepts unless told otherwise (1 MiB)."""


def frame(payload: bytes) -> bytes:
    """`payload` in one MLLP block."""
    return SB + payload + END


def unframe(block: bytes) -> bytes:
    """The payload of exactly one MLLP block; ValueError when `block` is not one."""
    if not (block.startswith(SB) and block.endswith(END)) or len(block) < 3:
        raise ValueError("not an MLLP block (0x0B ... 0x1C 0x0D)")
    payload = block[1:-2]
    if SB in payload or EB in payload:
        raise ValueError("more than one MLLP block")
    return payload


def is_framed(data: bytes) -> bool:
    """True when `data` looks like MLLP-framed traffic (a start block before the first segment)."""
    head = data.lstrip(b"\r\n\t ")
    return head.startswith(SB)


@dataclass(frozen=True, slots=True)
class Frame:
    """One payload cut from the stream.

    `skipped` counts the bytes thrown away before its start block (garbage, or the rest of a refused frame);
    `problem` is empty for a clean frame, else what was wrong (`oversized` frames have an empty payload).
    """

    payload: bytes
    skipped: int = 0
    problem: str = ""

    @property
    def oversized(self) -> bool:
        return self.problem.startswith("oversized")


class Deframer:
    """Cut an MLLP byte stream into payloads, whatever the read boundaries.

    `feed(data)` returns the frames completed by `data` (possibly none, possibly several). Bytes outside a block
    are skipped and counted. A payload longer than `max_frame` is refused: one `oversized` Frame is returned at
    once, and the rest of that block is skipped up to its end block. `close()` reports a block cut off by the end
    of the stream.
    """

    __slots__ = ("_buf", "_discarding", "_in_frame", "_scan", "_skipped", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._in_frame = False
        self._discarding = False
        self._scan = 0  # where to resume looking for the end block inside the current frame
        self._skipped = 0

    @property
    def pending(self) -> int:
        """Bytes held for a frame not yet complete."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._buf
        if not buf and not self._in_frame and data[:1] == SB and data[-2:] == END and data.find(EB) == len(data) - 2 \
                and data.find(SB, 1) < 0 and len(data) - 3 <= self.max_frame:
            # the common case: exactly one whole frame in one read, cut without copying it through the buffer
            return [Frame(data[1:-2], self._take_skipped())]
        buf += data
        frames: list[Frame] = []
        while buf:
            if not self._in_frame:
                start = buf.find(SB)
                if start < 0:
                    self._skipped += len(buf)
                    buf.clear()
                    break
                self._skipped += start
                del buf[: start + 1]
                self._in_frame = True
                self._scan = 0
                continue
            end = buf.find(EB, self._scan)
            nested = buf.find(SB, self._scan, end if end >= 0 else len(buf))
            if nested >= 0:
                # a new block starts before this one ended: the earlier bytes were a broken frame
                if not self._discarding:
                    frames.append(Frame(bytes(buf[:nested]), self._take_skipped(), "start block inside a frame"))
                self._discarding = False
                del buf[: nested + 1]
                self._scan = 0
                continue
            if end < 0:
                if len(buf) > self.max_frame and not self._discarding:
                    frames.append(Frame(b"", self._take_skipped(), f"oversized: more than {self.max_frame} bytes"))
                    self._discarding = True
                if self._discarding:
                    self._skipped += len(buf)
                    buf.clear()
                    self._scan = 0
                else:
                    self._scan = len(buf)
                break
            if end + 1 >= len(buf):
                self._scan = end  # the end block arrived, its CR may be in the next read
                break
            problem = "" if buf[end + 1] == 0x0D else "end block without CR"
            cut = end + 2 if not problem else end + 1
            if self._discarding:
                self._skipped += end
                self._discarding = False
            elif end > self.max_frame:
                frames.append(Frame(b"", self._take_skipped(), f"oversized: more than {self.max_frame} bytes"))
            else:
                frames.append(Frame(bytes(buf[:end]), self._take_skipped(), problem))
            del buf[:cut]
            self._in_frame = False
            self._scan = 0
        return frames

    def _take_skipped(self) -> int:
        skipped, self._skipped = self._skipped, 0
        return skipped

    def close(self) -> list[Frame]:
        """End of stream: a frame still open is reported as cut off (with what had arrived of it)."""
        frames: list[Frame] = []
        if self._in_frame and not self._discarding:
            payload = bytes(self._buf[:-1] if self._buf.endswith(EB) else self._buf)
            frames.append(Frame(payload, self._take_skipped(), "stream ended inside a frame"))
        self._buf.clear()
        self._in_frame = self._discarding = False
        self._scan = 0
        return frames


def deframe_all(data: bytes, max_frame: int = DEFAULT_MAX_FRAME) -> list[Frame]:
    """Every frame in a complete capture (a stream that has ended)."""
    deframer = Deframer(max_frame)
    return deframer.feed(data) + deframer.close()
