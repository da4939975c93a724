"""Cut a capture (a file, or what arrived on a connection) into messages: MLLP blocks, FHS/BHS batches, or
several messages one after the other. Works on bytes, so each message is decoded by its own MSH-18.

Batch rules checked: FHS first and FTS last, each BHS closed by a BTS before the next, messages inside a batch
when the file has batches, BTS-1 equal to the number of messages of its batch and FTS-1 to the number of batches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.contract.findings import Finding, Severity
from harness.contract.hl7.mllp import DEFAULT_MAX_FRAME, deframe_all, is_framed

_START = re.compile(rb"(?:\A|(?<=[\r\n]))(MSH|FHS|BHS|BTS|FTS)(?=[^A-Za-z0-9\r\n])")
ENVELOPE = ("FHS", "BHS", "BTS", "FTS")
_BLOCK = re.compile(rb"\x0b[^\x0b]*?(?:\x1c\r?|\Z)")


@dataclass
class Capture:
    """The messages of a capture, as bytes, and what was wrong with the way they were put together."""

    messages: list[bytes] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    batch: bool = False
    framed: bool = False


def _field(line: bytes, n: int) -> str:
    sep = line[3:4]
    parts = line.split(sep) if sep else [line]
    return parts[n].split(b"^")[0].decode("latin-1").strip() if len(parts) > n else ""


def split_capture(raw: bytes, max_frame: int = DEFAULT_MAX_FRAME) -> Capture:
    """The messages in `raw`, whether MLLP-framed, batched (FHS/BHS ... BTS/FTS) or simply one after another."""
    capture = Capture()
    if is_framed(raw):
        capture.framed = True
        for number, frame in enumerate(deframe_all(raw, max_frame), 1):
            if frame.problem:
                capture.findings.append(Finding(Severity.ERROR, "", f"MLLP block {number}: {frame.problem}", "framing"))
            if frame.payload.strip():
                inner = _split_plain(frame.payload)
                capture.messages.extend(inner.messages)
                capture.findings.extend(inner.findings)
                capture.batch = capture.batch or inner.batch
        stray = _BLOCK.sub(b"", raw).strip(b"\r\n\t ")
        if stray:
            capture.findings.append(Finding(Severity.WARNING, "", f"{len(stray)} bytes outside MLLP blocks skipped", "framing"))
        return capture
    return _split_plain(raw)


def _split_plain(raw: bytes) -> Capture:
    capture = Capture()
    starts = list(_START.finditer(raw))
    if not starts:
        if raw.strip():
            capture.messages.append(raw)
        return capture
    head = raw[: starts[0].start()]
    if head.strip(b"\r\n\t \xef\xbb\xbf"):
        capture.findings.append(Finding(Severity.ERROR, "", f"{len(head.strip())} bytes before the first header segment", "parse"))
    tokens: list[tuple[str, bytes]] = []
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(raw)
        tokens.append((match.group(1).decode("ascii"), raw[match.start() : end]))
    if not any(name in ENVELOPE for name, _ in tokens):
        capture.messages = [chunk.rstrip(b"\r\n\t ") for _, chunk in tokens]
        return capture
    capture.batch = True
    _check_envelope(tokens, capture)
    return capture


def _check_envelope(tokens: list[tuple[str, bytes]], capture: Capture) -> None:
    findings = capture.findings
    names = [name for name, _ in tokens]
    if "FHS" in names and names[0] != "FHS":
        findings.append(Finding(Severity.ERROR, "FHS", "FHS must be the first segment of a batch file", "structure"))
    if "FTS" in names and names[-1] != "FTS":
        findings.append(Finding(Severity.ERROR, "FTS", "FTS must be the last segment of a batch file", "structure"))
    if ("FHS" in names) != ("FTS" in names):
        missing = "FTS" if "FHS" in names else "FHS"
        findings.append(Finding(Severity.ERROR, missing, f"batch file without {missing}", "structure"))
    batches = 0
    in_batch = False
    in_batch_count = 0
    has_bhs = "BHS" in names
    for name, chunk in tokens:
        line = chunk.split(b"\r")[0].split(b"\n")[0]
        rest = chunk[len(line):].strip(b"\r\n\t ")
        if name in ENVELOPE and rest:
            findings.append(Finding(Severity.ERROR, name, f"segments after {name} outside any message", "structure"))
        if name == "MSH":
            capture.messages.append(chunk.rstrip(b"\r\n\t "))
            if in_batch:
                in_batch_count += 1
            elif has_bhs:
                findings.append(Finding(Severity.ERROR, f"MSG[{len(capture.messages)}]",
                                        "message outside a BHS ... BTS batch", "structure"))
        elif name == "BHS":
            if in_batch:
                findings.append(Finding(Severity.ERROR, "BHS", "BHS before the previous batch's BTS", "structure"))
            batches += 1
            in_batch, in_batch_count = True, 0
        elif name == "BTS":
            if not in_batch:
                findings.append(Finding(Severity.ERROR, "BTS", "BTS without a BHS", "structure"))
            declared = _field(line, 1)
            if declared and declared != str(in_batch_count):
                findings.append(Finding(Severity.ERROR, "BTS-1",
                                        f"BTS-1 says {declared} messages; the batch holds {in_batch_count}", "structure"))
            in_batch = False
        elif name == "FTS":
            declared = _field(line, 1)
            if declared and declared != str(batches):
                findings.append(Finding(Severity.ERROR, "FTS-1",
                                        f"FTS-1 says {declared} batches; the file holds {batches}", "structure"))
    if in_batch:
        findings.append(Finding(Severity.ERROR, "BTS", "batch without BTS", "structure"))
