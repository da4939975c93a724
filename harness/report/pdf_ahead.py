"""A PDF laid out in a side process before one of its texts is known, then drawn once it is.

The sign-off pack prints the SHA-256 of manifest.json, which exists only once every other report is written; laying
the sign-off out (WeasyPrint, ≈ half of what the PDF costs) waited for all of them. Here a forked process lays the
page out from the HTML with a placeholder of the same shape in place of the digest, on the other core while the
parent writes the other reports. Given the final HTML, it draws the PDF only when that HTML is the laid-out one
with the placeholder replaced, every placeholder is an element's whole text, and each line of the digest is as wide
as the placeholder's line it takes the place of (a monospaced face: the same breaks, the same pages). Otherwise,
or when the side process fails, stalls or cannot be started, `finish` says so and the caller writes the PDF itself,
as it did before: the document is the same either way (tests/report/test_pdf_ahead.py holds the two to the byte).

Linux and macOS (`os.fork`): the side process shares what the parent loaded (WeasyPrint, its fonts, the
templates) without importing or reading anything again. It is started only when WeasyPrint is imported already and
the machine has a core to spare (`spare_core`): the side process costs ≈ 60–90 ms of CPU more than laying the PDF
out in the parent (copy-on-write pages), which only a core otherwise idle repays.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ANSWER_S = 30.0
"""How long the parent waits for the side process to take the final HTML and answer with its PDF; then it writes
the PDF itself (a PDF takes well under a second; only a side process that is stuck would take this long)."""
ORDER_S = 600.0
"""How long the side process waits for the final HTML before it gives up (the parent died, or forgot it)."""


@dataclass
class PdfAhead:
    """The parent's end of one side process."""

    pid: int
    orders: int
    """The pipe the final HTML goes down."""
    answers: int
    """The pipe the side process answers on: one JSON line, `{"pages": N}` or `{"redo": reason}`."""
    done: bool = False

    @staticmethod
    def possible() -> bool:
        """Whether a side process would be started now (fork, WeasyPrint imported, a core to spare): the caller
        need not render the page it would lay out otherwise."""
        return hasattr(os, "fork") and "weasyprint" in sys.modules and spare_core()

    @classmethod
    def start(cls, html: str, placeholder: str, target: Path, print_css: str | None = None) -> PdfAhead | None:
        """Fork a process that lays `html` out now; None when none can be started (no fork, no WeasyPrint yet)."""
        if placeholder not in html or not cls.possible():
            return None
        orders_r, orders_w = os.pipe()
        answers_r, answers_w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (orders_r, orders_w, answers_r, answers_w):
                os.close(fd)
            return None
        if pid == 0:  # pragma: no cover - the side process; its work is measured by what the parent receives
            gc.disable()  # it lives for one PDF: a collection would walk (and copy) the parent's objects for nothing
            code = 0
            try:
                os.close(orders_w)
                os.close(answers_r)
                _side(html, placeholder, target, print_css, orders_r, answers_w)
            except BaseException:  # noqa: BLE001 - the parent hears nothing and writes the PDF itself
                code = 1
            os._exit(code)
        os.close(orders_r)
        os.close(answers_w)
        return cls(pid, orders_w, answers_r)

    def finish(self, html: str, value: str) -> int | None:
        """Pages of the PDF the side process wrote from `html` (the final one, `value` in the placeholder's place);
        None when it did not write it (the caller writes it, from the start)."""
        try:
            order = json.dumps({"html": html, "value": value}).encode("utf-8")
            deadline = time.monotonic() + ANSWER_S
            sent = False
            with contextlib.suppress(OSError):  # a side process that is gone: no answer below
                sent = _write_all(self.orders, order, deadline)
            if not sent:  # gone, or stuck in its layout while the page fills the pipe
                return None
            os.close(self.orders)
            self.orders = -1
            answer = _read_line(self.answers, max(0.0, deadline - time.monotonic()))
            pages = json.loads(answer).get("pages") if answer else None
            return pages if isinstance(pages, int) and pages > 0 else None
        except ValueError:
            return None
        finally:
            self.close()

    def close(self) -> None:
        """End the side process (at once when it has not answered) and reap it."""
        if self.done:
            return
        self.done = True
        for fd in (self.orders, self.answers):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        with contextlib.suppress(ProcessLookupError):
            if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                return
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def spare_core() -> bool:
    """Whether the machine's load (1-minute average of runnable processes, this run's included) leaves a core
    for a side process: below the number of cores plus one. Where the system gives no load average, yes."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return True
    return load < (os.cpu_count() or 1) + 1


def _write_all(fd: int, data: bytes, deadline: float) -> bool:
    """`data` down the pipe `fd` (made non-blocking), as far as the reader takes it before `deadline` (monotonic):
    True when all of it went. A pipe holds ≈ 64 KB; the side process reads only once it has laid its page out."""
    os.set_blocking(fd, False)
    view = memoryview(data)
    while view:
        _, ready, _ = select.select([], [fd], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return False
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            continue
    return True


def _read_line(fd: int, timeout_s: float) -> bytes:
    """Everything up to end-of-file (at most 1 MB: a longer order is cut short, fails to parse, and the parent
    writes the PDF itself); nothing when `timeout_s` passes first."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    size = 0
    while size < 1 << 20:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return b""
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _side(html: str, placeholder: str, target: Path, print_css: str | None, orders: int, answers: int) -> None:
    """The side process: lay out, wait for the final HTML, then draw the PDF or say why not."""
    from harness.report import pdf

    document = pdf.lay_out(html, print_css)
    order = json.loads(_read_line(orders, ORDER_S) or b"{}")
    final, value = order.get("html"), order.get("value")
    reason = None
    if not isinstance(final, str) or not isinstance(value, str):
        reason = "no final HTML"
    elif html.replace(placeholder, value) != final:
        reason = "the final HTML differs from the laid-out one elsewhere than the placeholder"
    else:
        reason = fill_in(document, html, placeholder, value)
    if reason is None:
        answer: dict[str, Any] = {"pages": pdf.write(document, target)}
    else:
        answer = {"redo": reason}
    _write_all(answers, json.dumps(answer).encode("utf-8"), time.monotonic() + ANSWER_S)


def fill_in(document: Any, html: str, placeholder: str, value: str) -> str | None:
    """Put `value` in the laid-out `document` where `placeholder` is; None when done, else why it cannot be
    (the document may then be half changed: it is not to be drawn)."""
    from weasyprint.formatting_structure.boxes import TextBox
    from weasyprint.text.line_break import line_size

    if len(value) != len(placeholder):
        return "the value's length differs from the placeholder's"
    lines: dict[int, list[Any]] = {}
    for page in document.pages:
        for box in page._page_box.descendants():
            if isinstance(box, TextBox) and box.element is not None and box.element.text == placeholder:
                lines.setdefault(id(box.element), []).append(box)
    shown = html.count(placeholder) - html.count(f'content="{placeholder}"')  # a <meta>'s is not laid out
    if len(lines) != shown or any("".join(b.text for b in boxes) != placeholder for boxes in lines.values()):
        return "the placeholder is not the whole text of the elements that show it"
    for boxes in lines.values():
        at = 0
        for box in boxes:
            text = value[at:at + len(box.text)]
            at += len(box.text)
            layout = box.pango_layout
            layout.reactivate(box.style)
            before = line_size(layout.get_first_line()[0], box.style)
            layout.set_text(text, justify=True)
            after = line_size(layout.get_first_line()[0], box.style)
            layout.deactivate()
            if before != after:
                return f"{text!r} is not as wide as the placeholder's line it replaces"
            layout.text = box.text = text
    return None
