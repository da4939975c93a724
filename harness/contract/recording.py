"""A recording: the exchanges `hih proxy --record DIR` saw between a hospital and a partner, as JSON lines.

`DIR/recording.json` says what was recorded (interface, contract version, upstream, when, whether identifiers were
masked); `DIR/recording.jsonl` holds one line per message, in the order they crossed the proxy:

    {"exchange": 3, "time": "2026-05-04T10:00:01.123+08:00", "direction": "request", "sender": "hospital",
     "transaction": "2207", "charset": "utf-8", "text": "{...}", "raw": "<base64>", "findings": [...],
     "wire": {"method": "POST", "path": "/fsi/api/...", "headers": [["content-type", "..."]]}}

A request and its reply share `exchange`; a request without a reply (the upstream never answered) has none.
`text` is the message decoded by its charset, `raw` the bytes as sent (both with identifiers masked by hih.toml's
rules when `masked` is true: the masked text in the message's own charset), `findings` what the contract in force
said of the message as it crossed (before masking). `hih validate --interface NAME DIR` checks a recording,
`hih mock serve --replay DIR` answers from one. Both files are bounded: the writer stops at its byte limit and
says so in `recording.json`; the reader refuses a line over `MAX_LINE_BYTES` or a file over `MAX_FILE_BYTES`.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from harness.contract.findings import Finding, Severity
from harness.errors import UsageError

LINES = "recording.jsonl"
META = "recording.json"
FORMAT = 1
DEFAULT_MAX_BYTES = 512 * 2**20
MAX_LINE_BYTES = 64 * 2**20
MAX_FILE_BYTES = 2 * 2**30
DIRECTIONS = ("request", "reply")
SENDERS = ("hospital", "partner")


@dataclass
class Message:
    """One recorded message."""

    exchange: int
    time: str
    direction: str
    sender: str
    transaction: str | None
    text: str
    raw: bytes
    charset: str = "utf-8"
    findings: list[Finding] = field(default_factory=list)
    wire: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    """Its line in recording.jsonl (1-based; 0 before it is written)."""

    def to_dict(self) -> dict[str, Any]:
        return {"exchange": self.exchange, "time": self.time, "direction": self.direction, "sender": self.sender,
                "transaction": self.transaction, "charset": self.charset, "text": self.text,
                "raw": base64.b64encode(self.raw).decode("ascii"), "findings": [f.to_dict() for f in self.findings],
                "wire": self.wire}

    @property
    def status(self) -> int | None:
        value = self.wire.get("status")
        return value if isinstance(value, int) else None

    @property
    def headers(self) -> list[tuple[str, str]]:
        return [(str(k), str(v)) for k, v in self.wire.get("headers", [])]


@dataclass
class Exchange:
    """A recorded request and its reply (None when none came)."""

    number: int
    request: Message
    reply: Message | None = None

    @property
    def transaction(self) -> str | None:
        return self.request.transaction


@dataclass
class Meta:
    """What a recording is of."""

    interface: str
    contract: str
    upstream: str
    upstream_role: str = "partner"
    started: str = ""
    masked: bool = True
    format: int = FORMAT
    stopped: str = ""
    """Why recording stopped before the proxy did ("" when it did not)."""
    exchanges: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "interface": self.interface, "contract": self.contract,
                "upstream": self.upstream, "upstream_role": self.upstream_role, "started": self.started,
                "masked": self.masked, "exchanges": self.exchanges, "stopped": self.stopped}


def now() -> str:
    """The local time with milliseconds and offset, as recordings write it."""
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def stamp(at: float) -> str:
    """A `time.time()` as recordings write times."""
    return datetime.fromtimestamp(at).astimezone().isoformat(timespec="milliseconds")


class Writer:
    """Appends messages to DIR/recording.jsonl (thread-safe, each line flushed as written) up to `max_bytes`."""

    def __init__(self, folder: Path, meta: Meta, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.folder = folder
        self.meta = meta
        self.max_bytes = max_bytes
        self.written = 0
        self._lock = threading.Lock()
        self._lines = 0
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if (folder / LINES).exists() and (folder / LINES).stat().st_size:
                raise UsageError(f"--record {folder}: it already holds a recording ({LINES}); give an empty or new "
                                 "folder (a recording is never overwritten)")
            self._file: IO[bytes] | None = (folder / LINES).open("wb")
        except OSError as exc:
            raise UsageError(f"--record {folder}: cannot write there ({exc.strerror or exc})") from None
        meta.started = meta.started or now()
        self._write_meta()

    def _write_meta(self) -> None:
        path = self.folder / META
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.meta.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        temporary.replace(path)

    def write(self, exchange: int, messages: list[Message]) -> bool:
        """Write one exchange's messages; False when the byte limit stopped the recording (before or now)."""
        lines = [json.dumps(m.to_dict(), ensure_ascii=False).encode("utf-8") + b"\n" for m in messages]
        size = sum(len(line) for line in lines)
        with self._lock:
            if self._file is None:
                return False
            if self.written + size > self.max_bytes:
                self.meta.stopped = (f"stopped at exchange {exchange}: the recording reached its limit of "
                                     f"{self.max_bytes} bytes (--record-mib)")
                self._close()
                return False
            for message, line in zip(messages, lines, strict=True):
                self._lines += 1
                message.line = self._lines
                self._file.write(line)
            self._file.flush()
            self.written += size
            self.meta.exchanges += 1
            return True

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._write_meta()

    def close(self) -> None:
        with self._lock:
            self._close()


# -- reading ----------------------------------------------------------------------------------------------------------
def is_recording(path: Path) -> bool:
    return path.is_dir() and (path / LINES).is_file()


def read_meta(folder: Path) -> Meta:
    path = folder / META
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror or exc}); is {folder} a recording of hih proxy?") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("interface", "contract", "upstream")):
        raise UsageError(f"{path}: not a recording's description (interface, contract and upstream expected)")
    if data.get("format", FORMAT) != FORMAT:
        raise UsageError(f"{path}: recording format {data.get('format')!r}; this hih reads format {FORMAT}")
    return Meta(data["interface"], data["contract"], data["upstream"], str(data.get("upstream_role", "partner")),
                str(data.get("started", "")), bool(data.get("masked", True)), FORMAT, str(data.get("stopped", "")),
                int(data.get("exchanges", 0) or 0))


def _message(data: Any, where: str) -> Message:
    if not isinstance(data, dict):
        raise UsageError(f"{where}: not a recorded message (a JSON object expected)")
    try:
        exchange, direction, sender = data["exchange"], data["direction"], data["sender"]
        text, raw64 = data["text"], data["raw"]
    except KeyError as exc:
        raise UsageError(f"{where}: a recorded message needs {exc.args[0]!r}") from None
    if not isinstance(exchange, int) or isinstance(exchange, bool) or exchange < 1:
        raise UsageError(f"{where}: exchange {exchange!r} is not a number from 1")
    if direction not in DIRECTIONS or sender not in SENDERS:
        raise UsageError(f"{where}: direction {direction!r} / sender {sender!r} (expected {DIRECTIONS} / {SENDERS})")
    if not isinstance(text, str) or not isinstance(raw64, str):
        raise UsageError(f"{where}: text and raw are strings")
    try:
        raw = base64.b64decode(raw64, validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"{where}: raw is not base64") from None
    findings = []
    for item in data.get("findings") or []:
        try:
            findings.append(Finding(Severity(item["severity"]), str(item.get("location", "")), str(item["message"]),
                                    str(item.get("rule", ""))))
        except (KeyError, ValueError, TypeError):
            raise UsageError(f"{where}: a finding needs severity (error, warning, info) and message") from None
    transaction = data.get("transaction")
    wire = data.get("wire") or {}
    if not isinstance(wire, dict) or (transaction is not None and not isinstance(transaction, str)):
        raise UsageError(f"{where}: wire is an object and transaction a string or null")
    return Message(exchange, str(data.get("time", "")), direction, sender, transaction, text, raw,
                   str(data.get("charset") or "utf-8"), findings, wire)


def read(folder: Path) -> tuple[Meta, list[Exchange]]:
    """The recording in `folder`: its description and its exchanges in order; a UsageError naming file and line
    for anything that is not one."""
    meta = read_meta(folder)
    path = folder / LINES
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size > MAX_FILE_BYTES:
        raise UsageError(f"{path}: {size} bytes, over the {MAX_FILE_BYTES} a recording may hold")
    exchanges: dict[int, Exchange] = {}
    with path.open("rb") as lines:
        number = 0
        while True:
            line = lines.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            number += 1
            where = f"{path}:{number}"
            if len(line) > MAX_LINE_BYTES:
                raise UsageError(f"{where}: a line over {MAX_LINE_BYTES} bytes")
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{where}: not JSON ({exc})") from None
            message = _message(data, where)
            message.line = number
            found = exchanges.get(message.exchange)
            if message.direction == "request":
                if found is not None:
                    raise UsageError(f"{where}: exchange {message.exchange} has a request already (line "
                                     f"{found.request.line})")
                exchanges[message.exchange] = Exchange(message.exchange, message)
            elif found is None or found.reply is not None:
                raise UsageError(f"{where}: a reply to exchange {message.exchange}, which has no request before it "
                                 "or has its reply already")
            else:
                found.reply = message
    return meta, list(exchanges.values())
