"""A PDF laid out in a side process before some of its texts are known, then drawn once they are.

The sign-off pack prints the SHA-256 of manifest.json, which exists only once every other report is written, and the
time the run finished, known only once pytest has exited; laying the sign-off out (WeasyPrint, ≈ half of what the
PDF costs) waited for both. Here a forked process lays the page out from the HTML with placeholders in place of
those texts (zeros of the digest's shape; the time the run is expected to finish), on the other core while the run
ends and the parent writes the other reports. Given the final HTML and the value of each placeholder, it draws the
PDF only when that HTML is the laid-out one with the placeholders replaced, every placeholder is an element's whole
text, and each line of a value is as wide as the placeholder's line it takes the place of (the same breaks, the
same pages). Otherwise, or when the side process fails, stalls or cannot be started, `finish` says so and the
caller writes the PDF itself, as it did before: the document is the same either way (tests/report/test_pdf_ahead.py
holds the two to the byte).

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
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    placeholders: dict[str, str] = field(default_factory=dict)
    """Name -> the text laid out in the place of a value not yet known."""
    done: bool = False
    why: str = ""
    """Why `finish` got no PDF (the side process's own reason, or what the parent saw): kept so that a run or a
    test that expected the PDF from it can say why it was written again."""

    @staticmethod
    def possible() -> bool:
        """Whether a side process would be started now (fork, WeasyPrint imported, a core to spare): the caller
        need not render the page it would lay out otherwise."""
        return hasattr(os, "fork") and "weasyprint" in sys.modules and spare_core()

    @classmethod
    def start(cls, html: str, placeholders: str | Mapping[str, str], target: Path,
              print_css: str | None = None) -> PdfAhead | None:
        """Fork a process that lays `html` out now; None when none can be started (no fork, no WeasyPrint yet, a
        placeholder not in `html`). `placeholders`: name -> text, or one text (named "")."""
        named = _named(placeholders)
        if not named or any(text not in html for text in named.values()) or _overlap(named) or not cls.possible():
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
                # Ctrl-C or a cancel reaches the whole group: the side process stops at once, not through the
                # parent's handlers (which it inherited), and its parent writes the PDF itself if it still can
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.close(orders_w)
                os.close(answers_r)
                _side(html, named, target, print_css, orders_r, answers_w)
            except BaseException as exc:  # noqa: BLE001 - the parent writes the PDF itself, told why
                code = 1
                with contextlib.suppress(BaseException):
                    _write_all(answers_w, json.dumps({"redo": f"the side process failed: {exc!r}"[:500]}).encode(),
                               time.monotonic() + 1.0)
            os._exit(code)
        os.close(orders_r)
        os.close(answers_w)
        return cls(pid, orders_w, answers_r, named)

    def finish(self, html: str, values: str | Mapping[str, str]) -> int | None:
        """Pages of the PDF the side process wrote from `html` (the final one, each value in its placeholder's
        place; `values` by the placeholders' names, or one text); None when it did not write it (the caller writes
        it, from the start)."""
        try:
            order = json.dumps({"html": html, "values": _named(values)}).encode("utf-8")
            deadline = time.monotonic() + ANSWER_S
            sent = False
            with contextlib.suppress(OSError):  # a side process that is gone: no answer below
                sent = _write_all(self.orders, order, deadline)
            if not sent:  # gone (it may have said why before it ended), or stuck in its layout while the page fills the pipe
                said = _read_line(self.answers, 0.0)
                told = json.loads(said) if said else {}
                self.why = str(told["redo"]) if isinstance(told, dict) and told.get("redo") else \
                    "the side process did not take the final HTML"
                return None
            os.close(self.orders)
            self.orders = -1
            answer = _read_line(self.answers, max(0.0, deadline - time.monotonic()))
            told = json.loads(answer) if answer else {}
            pages = told.get("pages") if isinstance(told, dict) else None
            if isinstance(pages, int) and pages > 0:
                return pages
            self.why = str(told.get("redo")) if isinstance(told, dict) and told.get("redo") else \
                f"no answer from the side process ({answer[:200]!r})"
            return None
        except ValueError as exc:
            self.why = f"an answer that is not JSON ({exc})"
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


def _named(texts: str | Mapping[str, str]) -> dict[str, str]:
    return {"": texts} if isinstance(texts, str) else dict(texts)


def _overlap(placeholders: dict[str, str]) -> bool:
    """Whether a placeholder is empty or found within another (then replacing one would change the other)."""
    return any(not text or any(text in other for mark, other in placeholders.items() if mark != name)
               for name, text in placeholders.items())


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


def _side(html: str, placeholders: dict[str, str], target: Path, print_css: str | None, orders: int,
          answers: int) -> None:
    """The side process: lay out, wait for the final HTML, then draw the PDF or say why not."""
    from harness.report import pdf

    document = pdf.lay_out(html, print_css)
    order = json.loads(_read_line(orders, ORDER_S) or b"{}")
    final, values = order.get("html"), order.get("values")
    reason = None
    if not isinstance(final, str) or not isinstance(values, dict) or set(values) != set(placeholders) or \
            not all(isinstance(v, str) for v in values.values()):
        reason = "no final HTML, or not a value for each placeholder"
    elif any(other in values[name] for name in placeholders for mark, other in placeholders.items() if mark != name):
        reason = "a value holds another placeholder"
    elif (expected := _replaced(html, placeholders, values)) != final:
        reason = "the final HTML differs from the laid-out one elsewhere than the placeholders" + \
            _first_difference(expected, final)
    else:
        for name, placeholder in placeholders.items():
            reason = reason or fill_in(document, html, placeholder, values[name])
    if reason is None:
        answer: dict[str, Any] = {"pages": pdf.write(document, target)}
    else:
        answer = {"redo": reason}
    _write_all(answers, json.dumps(answer).encode("utf-8"), time.monotonic() + ANSWER_S)


def _first_difference(laid_out: str, final: str) -> str:
    """Where two pages first differ, a few characters of each (both masked already): enough to tell why."""
    at = next((i for i, (a, b) in enumerate(zip(laid_out, final, strict=False)) if a != b), min(len(laid_out), len(final)))
    return f" (at {at}: {laid_out[max(0, at - 40):at + 40]!r} laid out, {final[max(0, at - 40):at + 40]!r} final)"


def _replaced(html: str, placeholders: dict[str, str], values: dict[str, str]) -> str:
    for name, placeholder in placeholders.items():
        html = html.replace(placeholder, values[name])
    return html


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
