"""Atomic report directories: a run (or a merge) writes into a fresh directory beside the target and moves it
into place only when it has a report to show, so a usage error or a crash never leaves a half-replaced report.

The working directory is `.<name>.<pid>.tmp-<random>` in the target's parent (same file system, so the final
move is a rename). On success the previous report is renamed aside, the new one renamed in, the old one removed.
On failure the working directory is removed; if pytest already wrote a log it is kept as `<name>.failed/` so the
error message can point at it. Working directories left by a process that died (`kill -9`) are swept at the next
start.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from harness.errors import UsageError

_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?:tmp|old)-[\w]+$")


class Staging:
    """A working directory for the report that replaces `target` on `commit()`."""

    def __init__(self, target: Path, flag: str = "--report-dir") -> None:
        self.target = target
        parent = target.parent if str(target.parent) else Path(".")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{flag} {target}: cannot create {parent} ({exc.strerror})") from None
        if target.exists() and not target.is_dir():
            raise UsageError(f"{flag} {target}: exists and is not a directory")
        _sweep(parent, target.name)
        try:
            self.path = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.tmp-", dir=parent))
            self.path.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a report directory is not
        except OSError as exc:
            raise UsageError(f"{flag} {target}: cannot write in {parent} ({exc.strerror})") from None
        self.done = False

    @property
    def failed_dir(self) -> Path:
        return self.target.with_name(f"{self.target.name}.failed")

    def commit(self) -> Path:
        """Move the working directory into place; the previous report goes away only now."""
        old = None
        if self.target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.{os.getpid()}.old-", dir=self.target.parent))
            os.replace(self.target, old / "report")
        os.replace(self.path, self.target)
        self.done = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(self.failed_dir, ignore_errors=True)
        return self.target

    def discard(self, keep_log: bool = False) -> Path | None:
        """Drop the working directory (kept as `<name>.failed` when `keep_log` and pytest wrote a log)."""
        if self.done:
            return None
        self.done = True
        if keep_log and (self.path / "pytest.log").is_file():
            shutil.rmtree(self.failed_dir, ignore_errors=True)
            os.replace(self.path, self.failed_dir)
            return self.failed_dir
        shutil.rmtree(self.path, ignore_errors=True)
        return None


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def _sweep(parent: Path, name: str) -> None:
    """Remove working directories of `name` whose process is gone."""
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for entry in entries:
        match = _LEFTOVER.match(entry.name)
        if match is None or match.group("name") != name or not entry.is_dir():
            continue
        if not _alive(int(match.group("pid"))):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
